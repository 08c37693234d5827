"""The environment check: is this laptop ready for the workshop? Each failure says the command that fixes it.

Runs from notebook 00 (`environment_check()`) and from a terminal (`python -m workshop check`),
with the same cases and the same table as every exercise checker. Under the table come warnings:
what is worth knowing but does not make the laptop unready. A contract in protos/ that is not as the
kit shipped it is one: if it still compiles, every notebook runs on it, and only its author knows
whether the edit was meant, so the check names the file and the command that undoes it, and passes.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from workshop import PROTOS, ROOT
from workshop.checkers.support import CheckResult, Fail, run_checks
from workshop.shipped_contracts import not_as_shipped, restore

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
        changed = " ".join(f"protos/{name}" for name, state in not_as_shipped(PROTOS).items()
                           if state != "added") or "protos/"
        raise Fail(str(error).splitlines()[-1], "a contract in protos/ does not compile: "
                   f"undo your change there (git checkout {changed})") from None


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


@dataclass(repr=False)
class EnvironmentReport(CheckResult):
    """The check's table, and under it the warnings: worth knowing, but no reason to stop."""

    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        return "\n".join([super().__repr__(), *(f"⚠ {warning}" for warning in self.warnings)])


def contract_warnings() -> list[str]:
    """One warning for each contract in protos/ that is not as shipped: every notebook's code is generated from
    protos/, so an edit there (meant for an exercise's copy, say) changes what every notebook builds on."""
    found = {"changed": ("was changed", "If that was not meant, get the kit's back: {restore}"),
             "missing": ("is missing", "Get it back: {restore}"),
             "added": ("is not one of the kit's contracts", "If it was not meant to be there, move it out of protos/")}
    return [f"protos/{name} {found[state][0]}, and every notebook's code is generated from protos/. "
            + found[state][1].format(restore=restore(name)) for name, state in not_as_shipped(PROTOS).items()]


def environment_check() -> EnvironmentReport:
    result = run_checks("Environment check", [
        ("Python 3.10 or newer", check_python),
        ("packages match requirements.txt", check_packages),
        ("contracts in protos/ compile to Python", check_codegen),
        ("a server starts in the background and answers GetUser(1) → alice", check_server_round_trip),
        ("JupyterLab can show widgets", check_widgets),
    ], deadline=60)
    return EnvironmentReport(result.title, result.cases, contract_warnings())


def main() -> int:
    result = environment_check()
    print(repr(result))
    return 0 if result.all_passed else 1
