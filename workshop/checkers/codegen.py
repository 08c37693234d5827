"""Checker for notebook 03 (code generation): exercise 3.1, DeleteUser added to a copy of users.proto.

It judges two things. The contract: what protoc understood of it (workshop.codegen.descriptor_set),
compared with the kit's own protos/users.proto (which must be as the kit shipped it: an edit there would
move the baseline): everything that was there is still there with its name, number and type, and the one
new rpc is all that was added; nothing else in its folder adds to the package. And the generated package, as a
server uses it: imported in a fresh Python process, which builds a real server with
add_UserManagerServicer_to_server and calls DeleteUser over loopback. That process is this module
run as a program (see the end):
    python -m workshop.checkers.codegen my_users.users_pb2_grpc UserManager DeleteUser
Fresh, because protobuf keeps one registry per process, which refuses a second, different
version of a file: importing a regenerated package into the notebook would fail the second time.
"""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path

import grpc
from google.protobuf import descriptor_pb2

from workshop import PROTOS
from workshop.checkers import contracts
from workshop.checkers.contracts import rpcs_named_like, short, signature
from workshop.checkers.support import TIMEOUT, CheckResult, Fail, run_checks
from workshop.codegen import STAMP_NAME, ProtoError, contracts_hash, descriptor_set, generated_hash, read_stamp
from workshop.shipped_contracts import is_as_shipped, restore

SERVICE = "UserManager"
NEW_METHOD = "DeleteUser"
PROBE_TIMEOUT = 60  # seconds for the fresh process: starting Python and grpc on a busy laptop


@dataclass
class Answer:
    """The learner's contract as protoc understood it, the kit's original (and its file), and what was generated."""

    contract: descriptor_pb2.FileDescriptorProto
    original: descriptor_pb2.FileDescriptorProto | None  # None: the kit's file does not compile
    contract_path: Path
    package_dir: Path
    generated: dict
    kit_contract: Path

    def service(self, file=None):
        file = self.contract if file is None else file
        return next((s for s in file.service if s.name == SERVICE), None)

    @property
    def regenerate(self) -> str:  # the hint for code older than the contract
        return f"run the generate(...) cell after the %%writefile cell: {self.package_dir.name}/ changes only then"

    @property
    def is_fresh(self) -> bool:
        stamp = read_stamp(self.package_dir)
        return stamp is not None and stamp.contracts == contracts_hash(self.contract_path.parent)

    @property
    def is_as_generated(self) -> bool:
        stamp = read_stamp(self.package_dir)
        return stamp is not None and stamp.generated == generated_hash(self.package_dir)


# ---------------------------------------------------------------- the contract


def _kit_as_shipped(answer: Answer) -> None:
    name = answer.kit_contract.name
    if not is_as_shipped(answer.kit_contract):
        state = "does not compile any more" if answer.original is None else "is not as the kit shipped it"
        raise Fail(f"the kit's own protos/{name} {state}: every case here compares your copy with it",
                   f"3.1 changes the copy in {answer.contract_path.parent.name}/, never the kit's own, on which "
                   f"every later notebook is built. Put it back: {restore(name)}. Then make your change in the "
                   "%%writefile cell, and run it, the generate cell and this checker again")


def _package(answer: Answer) -> None:
    if answer.contract.package != answer.original.package:
        got = answer.contract.package or "no package"
        raise Fail(f"the package is {got}; it was {answer.original.package}",
                   f"put back `package {answer.original.package};`: the package is part of every method's path "
                   f"(/{answer.original.package}.{SERVICE}/GetUser), so clients of the kit's contract would get "
                   "UNIMPLEMENTED from a server built from yours")


def _existing_kept(answer: Answer) -> None:
    changes = contracts.changes(answer.contract, answer.original)
    if changes:
        more = f" (and {len(changes) - 2} more)" if len(changes) > 2 else ""
        raise Fail("; ".join(changes[:2]) + more,
                   "notebook 02's rule: what is there stays as it was (name, number, type, JSON name, options), "
                   "because programs built from the old contract still use them. Put it back; add only the new rpc")


def _no_service(answer: Answer) -> Fail:
    found = ", ".join(s.name for s in answer.contract.service) or "none"
    return Fail(f"there is no service {SERVICE} any more (services: {found})",
                f"keep `service {SERVICE} {{ ... }}`: its name is part of every method's path")


def _rpcs_kept(answer: Answer) -> None:
    service = answer.service()
    if service is None:
        raise _no_service(answer)
    mine = {m.name: m for m in service.method}
    problems = []
    for old in answer.service(answer.original).method:
        new = mine.get(old.name)
        if new is None:
            problems.append(f"{old.name} is gone")
        elif signature(new, answer.contract.package) != signature(old, answer.original.package):
            problems.append(f"{old.name} is now {signature(new, answer.contract.package)}, "
                            f"not {signature(old, answer.original.package)}")
        elif new.options != old.options:
            problems.append(f"{old.name} now has {contracts.options(new)}; it had {contracts.options(old)}")
    if problems:
        raise Fail("; ".join(problems), "clients built from the old contract still call these methods as they "
                                        "were: add DeleteUser next to them and leave their lines as they are")


def _expected_new(answer: Answer) -> set[tuple[str, str]]:
    """The rpcs the declared-rule judges: DeleteUser in UserManager, or else every attempt at it."""
    service = answer.service()
    if service is not None and any(m.name == NEW_METHOD for m in service.method):
        return {(SERVICE, NEW_METHOD)}
    return set(rpcs_named_like(answer.contract, NEW_METHOD))


def _not_declared(answer: Answer) -> Fail:
    """Why UserManager has no DeleteUser: a near miss in its name, in the wrong service, or none at all."""
    path = f"/{answer.contract.package}.{SERVICE}/{NEW_METHOD}"
    attempts = rpcs_named_like(answer.contract, NEW_METHOD)
    here = [rpc for service, rpc in attempts if service == SERVICE]
    if here:
        return Fail(f"{SERVICE} has no rpc {NEW_METHOD}, but it has rpc {here[0]}",
                    f"names are case-sensitive and exact: write `{NEW_METHOD}`, as in the spec. The name is part "
                    f"of the method's path, {path}, which a client calls letter for letter")
    if attempts:
        service, rpc = attempts[0]
        others = [m for s in answer.contract.service if s.name == service for m in s.method if m.name != rpc]
        then = f", then remove service {service}" if not others else ""
        return Fail(f"rpc {rpc} is in service {service}, not in {SERVICE}",
                    f"move the line into `service {SERVICE} {{ ... }}`{then}: the service is part of the method's "
                    f"path, {path}, so a client of {SERVICE} would get UNIMPLEMENTED")
    return Fail(f"{SERVICE} has no rpc {NEW_METHOD} yet",
                f"inside `service {SERVICE} {{ ... }}`, add a line shaped like GetUser's: "
                f"`rpc {NEW_METHOD}(...) returns (...);`")


def _nothing_else_added(answer: Answer) -> None:
    added = contracts.additions(answer.contract, answer.original, _expected_new(answer))
    if added:
        more = f" (and {len(added) - 2} more)" if len(added) > 2 else ""
        raise Fail("; ".join(added[:2]) + more,
                   f"the exercise adds one line, rpc {NEW_METHOD}, and nothing else: take the rest out. (Adding "
                   "with new names and numbers is safe in a real contract; it is just not this exercise)")


def _no_other_contracts(answer: Answer) -> None:
    """generate compiles every .proto of the folder into the package: another one adds to what servers import."""
    folder = answer.contract_path.parent
    others = sorted(path.name for path in folder.glob("*.proto") if path.name != answer.contract_path.name)
    if others:
        them = " and ".join(others) if len(others) < 3 else f"{', '.join(others[:-1])} and {others[-1]}"
        raise Fail(f"{folder.name}/ also holds {them}",
                   f"move {them} out of {folder.name}/ (into a folder of your own, such as my_scratch/), then run "
                   f"the generate cell again: generate compiles every .proto in {folder.name}/ into "
                   f"{answer.package_dir.name}/, so what {them} declare{'s' if len(others) == 1 else ''} would be "
                   f"part of the package next to {answer.contract_path.name}'s")


def _delete_user_declared(answer: Answer) -> None:
    service = answer.service()
    if service is None:
        raise _no_service(answer)
    method = next((m for m in service.method if m.name == NEW_METHOD), None)
    if method is None:
        raise _not_declared(answer)
    package = answer.contract.package
    takes, gives = short(method.input_type, package), short(method.output_type, package)
    if (takes, gives) != ("UserRequest", "UserResponse"):
        raise Fail(f"{NEW_METHOD} takes {takes} and returns {gives}; expected UserRequest → UserResponse",
                   "a delete needs only the id (UserRequest) and answers with the user it removed (UserResponse)")
    if method.client_streaming or method.server_streaming:
        raise Fail(f"{NEW_METHOD} streams; expected a unary call (one request, one response)",
                   "leave out the word `stream`")


# ---------------------------------------------------------------- the generated package


def _regenerated(answer: Answer) -> None:
    name = answer.package_dir.name
    if not (answer.package_dir / STAMP_NAME).is_file():
        if any(answer.package_dir.glob("*_pb2*.py")):  # protoc run by hand, as the notebook's first section does
            raise Fail(f"{name}/ holds generated files, but not from the generate(...) cell",
                       f"run the generate(...) cell: it makes {name} a package whose files import each other, and "
                       f"notes in {STAMP_NAME} which contract they were made from. Files without that note (from "
                       "protoc run by hand, which as in the notebook's first section writes `import users_pb2`, or "
                       "with the note deleted) cannot be told from an older contract's")
        raise Fail(f"there is no generated package {name}/ yet", answer.regenerate)
    stamp = read_stamp(answer.package_dir)
    if stamp is not None and stamp.package != name:
        raise Fail(f"{name}/ was generated as package {stamp.package!r}, so its files import each other as "
                   f"`from {stamp.package} import ...`",
                   f"generate's third argument is the package's name, which is its folder's: run the notebook's "
                   f'generate cell, generate(Path("{answer.contract_path.parent.name}"), Path("{name}"), '
                   f'"{name}"), which writes the files again')
    if not answer.is_fresh:
        raise Fail(f"{name}/ was generated before your last change to {answer.contract_path.name}",
                   answer.regenerate)
    if not answer.is_as_generated:
        raise Fail(f"{name}/ was changed after it was generated (a file edited by hand?)",
                   "generated code is rewritten, never edited: change the contract instead, and run the "
                   "generate(...) cell again, which writes the files anew")


def _generated_has(part: str, what: str) -> Callable[[Answer], None]:
    def case(answer: Answer) -> None:
        report, name = answer.generated, answer.package_dir.name
        module = f"{name}/{answer.contract_path.stem}_pb2_grpc.py"
        if "missing" in report:
            raise Fail(f"there is no {module} yet", answer.regenerate)
        if "import_error" in report:
            raise Fail(f"{module} does not import ({report['import_error']})",
                       "run the generate(...) cell again; if the error stays, it names the file to look at")
        if not report.get("service"):
            missing = {"stub": f"{SERVICE}Stub", "servicer": f"{SERVICE}Servicer",
                       "registered": f"add_{SERVICE}Servicer_to_server"}[part]
            raise Fail(f"{module} has no {missing}", f"it is named after the service: keep `service {SERVICE}`")
        if report[part]:
            return
        service = answer.service()
        if service is None or not any(m.name == NEW_METHOD for m in service.method):
            hint = f"it appears once `service {SERVICE}` declares {NEW_METHOD} and you run the generate cell"
        elif not answer.is_fresh:
            hint = answer.regenerate
        else:
            hint = (f"was {module} changed by hand? Generated code is rewritten, never edited: "
                    f"generate(..., force=True) writes it again")
        raise Fail(f"the generated code has no {what}", hint)

    return case


KIT_AS_SHIPPED = "the kit's own protos/users.proto is as shipped: the exercise changes only your copy"
RULES: dict[str, Callable[[Answer], None]] = {  # Exercise 3.1: each rule is one case (after "compiles")
    KIT_AS_SHIPPED: _kit_as_shipped,
    "package users.v1, as before": _package,
    "every message, field and enum value keeps its name, number, type and options": _existing_kept,
    f"{SERVICE} keeps its five rpcs as they were": _rpcs_kept,
    "nothing else is added: no other new rpc, service, message, field, enum value, import, option or reserved":
        _nothing_else_added,
    f"{SERVICE} has rpc {NEW_METHOD}(UserRequest) returns (UserResponse), unary": _delete_user_declared,
    "no other .proto next to users.proto (generate puts every .proto of the folder into the package)":
        _no_other_contracts,
    "the generated package is made from your latest contract": _regenerated,
    f"{SERVICE}Stub has {NEW_METHOD}": _generated_has("stub", f"{SERVICE}Stub.{NEW_METHOD}"),
    f"{SERVICE}Servicer has {NEW_METHOD}": _generated_has("servicer", f"{SERVICE}Servicer.{NEW_METHOD}"),
    f"add_{SERVICE}Servicer_to_server registers {NEW_METHOD}": _generated_has(
        "registered", f"{NEW_METHOD} in add_{SERVICE}Servicer_to_server (a call does not reach the servicer)"),
}


def _probe(package_dir: Path, module: str) -> dict:
    """What a server process sees of the generated package: describe_generated, run in a fresh Python."""
    if not (package_dir / f"{module}.py").is_file():
        return {"missing": True}
    command = [sys.executable, "-m", __name__, f"{package_dir.name}.{module}", SERVICE, NEW_METHOD]
    try:
        run = subprocess.run(command, cwd=package_dir.parent, capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"import_error": f"no answer within {PROBE_TIMEOUT} s"}
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"import_error": (run.stderr.strip().splitlines() or ["no output"])[-1][:200]}


def check_delete_user(contract: str | Path = "my_contracts/users.proto",
                      package: str | Path = "my_users") -> CheckResult:
    """Exercise 3.1: `contract` is the learner's .proto, `package` the folder it was generated into."""
    contract_path, package_dir = Path(contract), Path(package)
    rerun = "the %%writefile cell, the generate cell and this checker again"
    mine, failure = contracts.compile_contract(contract_path, shown=str(contract_path), rerun=rerun)
    cases = [(f"{contract_path.name} compiles", lambda: _raise(failure))]
    if failure is None:
        kit_contract = PROTOS / "users.proto"
        try:
            original = descriptor_set(kit_contract, source_info=True).file[-1]
        except (ProtoError, FileNotFoundError):  # the kit's file broken or gone: nothing to compare with
            original = None
        probe = _probe(package_dir, f"{contract_path.stem}_pb2_grpc") if original is not None else {}
        answer = Answer(mine, original, contract_path, package_dir, probe, kit_contract)
        rules = RULES if original is not None else {KIT_AS_SHIPPED: _kit_as_shipped}
        cases += [(label, lambda rule=rule: rule(answer)) for label, rule in rules.items()]
    return run_checks("Exercise 3.1 · DeleteUser", cases)


def _raise(failure: Fail | None) -> None:
    if failure is not None:
        raise failure


# ---------------------------------------------------------------- the fresh process


def describe_generated(module_name: str, service: str, method: str) -> dict:
    """Import a generated `_pb2_grpc` module as a server would: is `method` in its stub, in its servicer,
    and in its registration? The last is judged by a real call: a server built with
    add_<service>Servicer_to_server gets a call on the method's path, and the servicer notes if it arrives."""
    try:
        generated = importlib.import_module(module_name)
    except Exception as error:  # reported to the checker, which shows it as one line
        return {"import_error": f"{type(error).__name__}: {error}"[:200]}
    stub_class = getattr(generated, f"{service}Stub", None)
    servicer_class = getattr(generated, f"{service}Servicer", None)
    add = getattr(generated, f"add_{service}Servicer_to_server", None)
    if not (stub_class and servicer_class and add):
        return {"service": None}
    messages = importlib.import_module(module_name.removesuffix("_grpc"))
    full_name = messages.DESCRIPTOR.services_by_name[service].full_name
    reached = threading.Event()

    def answer(self, request, context):
        reached.set()
        context.abort(grpc.StatusCode.ABORTED, "the probe's servicer was reached")

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2), options=[("grpc.so_reuseport", 0)])
    try:
        try:
            add(type("ProbeServicer", (servicer_class,), {method: answer})(), server)
        except Exception:  # a registration that raises registers nothing: the call below is not answered
            pass
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            has_stub = callable(getattr(stub_class(channel), method, None))
            try:  # raw bytes: an empty message parses as any request type; the answer is not read
                channel.unary_unary(f"/{full_name}/{method}")(b"", timeout=TIMEOUT)
            except grpc.RpcError:
                pass
    finally:
        server.stop(None)
    return {"service": full_name, "stub": has_stub, "servicer": callable(getattr(servicer_class, method, None)),
            "registered": reached.is_set()}


if __name__ == "__main__":  # python -m workshop.checkers.codegen MODULE SERVICE METHOD, from _probe
    print(json.dumps(describe_generated(*sys.argv[1:])))
