"""The environment check: is this laptop ready for the workshop? Each failure says the command that fixes it.

Runs from notebook 00 (`environment_check()`) and from a terminal (`python -m workshop check`),
with the same cases and the same table as every exercise checker.
"""
from __future__ import annotations

import sys
from importlib import metadata
from pathlib import Path

from workshop import ROOT
from workshop.checkers.support import CheckResult, Fail, run_checks

SETUP = ("in the workshop folder, run: python3 -m workshop open   "
         "(py -m workshop open on Windows; it installs what is missing)")


def pinned_requirements(path: Path = ROOT / "requirements.txt") -> dict[str, str]:
    """{package: version} for the pins of requirements.txt that apply to this Python."""
    from packaging.requirements import Requirement

    pins = {}
    for line in path.read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate():
            pins[requirement.name] = str(requirement.specifier).removeprefix("==")
    return pins


def check_python() -> None:
    if sys.version_info < (3, 10):
        raise Fail(f"this is Python {sys.version.split()[0]}", "install Python 3.10 or newer from python.org, then: "
                   "python3 -m workshop open")


def check_packages() -> None:
    wrong = []
    for name, wanted in pinned_requirements().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if have != wanted:
            wrong.append(f"{name} {have or 'missing'} (needs {wanted})")
    if wrong:
        raise Fail(", ".join(wrong), f'{SETUP}; or: "{sys.executable}" -m pip install -r "{ROOT / "requirements.txt"}"')


def check_codegen() -> None:
    from workshop.codegen import ProtoError

    try:
        from workshop.protos import chat_pb2_grpc, users_pb2_grpc  # noqa: F401
    except ProtoError as error:
        raise Fail(str(error).splitlines()[-1], "a contract in protos/ does not compile: "
                   "undo your change there (git checkout protos/)") from None


def check_server_round_trip() -> None:
    import server_runner
    from workshop.protos import users_pb2, users_pb2_grpc

    try:
        server = server_runner.start("users", timeout=30)
    except server_runner.ServerStartError as error:
        tail = error.log_tail.strip().splitlines()
        ending = f"Its log ends with: {tail[-1][:200]}" if tail else "Its log is empty."
        raise Fail(f"{error.summary} {ending}",
                   f'run: "{sys.executable}" "{ROOT / "server_runner.py"}" serve users'
                   "   to see the error in a terminal") from None
    with server, server.channel() as channel:
        reply = users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=10)
    if reply.user.nickname != "alice":
        raise Fail(f"GetUser(1) answered {reply.user.nickname!r}, not 'alice'", "data/users.json was changed: "
                   "git checkout data/")


def check_widgets() -> None:
    prefixes = {Path(sys.prefix), Path(sys.base_prefix)}
    manager = "share/jupyter/labextensions/@jupyter-widgets/jupyterlab-manager"
    if not any((prefix / manager).is_dir() for prefix in prefixes):
        raise Fail("JupyterLab's widget manager is not installed, so chat panes would show "
                   "'Error displaying widget'", SETUP)


def environment_check() -> CheckResult:
    return run_checks("Environment check", [
        ("Python 3.10 or newer", check_python),
        ("packages match requirements.txt", check_packages),
        ("contracts in protos/ compile to Python", check_codegen),
        ("a server starts in the background and answers GetUser(1) → alice", check_server_round_trip),
        ("JupyterLab can show widgets", check_widgets),
    ], deadline=60)


def main() -> int:
    result = environment_check()
    print(repr(result))
    return 0 if result.all_passed else 1
