"""Checkers for notebook 03 (code generation).

Exercise 3.1 adds a method to a copy of the users contract and regenerates its Python package.
The checker compiles the contract on its own (as notebook 02's checker does), then inspects the
generated package in a fresh Python process. Fresh, because protobuf keeps one registry per
process: importing a regenerated module into the notebook's own process fails the second time.
A fresh process also imports the package exactly as a server process would.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from workshop.checkers.support import CheckResult, Fail, run_checks
from workshop.checkers.proto import compile_case
from workshop.codegen import STAMP_NAME, contracts_hash

SERVICE = "UserManager"
FULL_SERVICE = f"users.v1.{SERVICE}"
EXISTING_METHODS = ["GetUser", "AddUser", "CountAlreadyUsers", "GetUsersByType", "GetUsersByIds"]
NEW_METHOD = "DeleteUser"

# Runs in a fresh Python whose current directory holds the generated package (argv[1]).
PROBE = r'''
import importlib, json, os, sys
sys.path.insert(0, os.getcwd())
try:
    generated = importlib.import_module(sys.argv[1] + ".users_pb2_grpc")
except Exception as error:
    print(json.dumps({"import_error": f"{type(error).__name__}: {error}"}))
    raise SystemExit

class RecordingChannel:
    """Stands in for a grpc.Channel: notes the kind and path of each method a stub asks for."""
    def __getattr__(self, kind):  # unary_unary, unary_stream, stream_unary, stream_stream
        return lambda path, *args, **kwargs: [kind, path]

class RecordingServer:
    """Stands in for a grpc.Server: notes the methods that add_..._to_server registers."""
    def __init__(self):
        self.registered = []
    def add_generic_rpc_handlers(self, handlers):
        pass
    def add_registered_method_handlers(self, service, handlers):
        self.registered += [f"/{service}/{name}" for name in handlers]

stub_class = getattr(generated, "UserManagerStub", None)
servicer_class = getattr(generated, "UserManagerServicer", None)
add = getattr(generated, "add_UserManagerServicer_to_server", None)
server = RecordingServer()
if add and servicer_class:
    add(servicer_class(), server)
print(json.dumps({
    "stub": dict(vars(stub_class(RecordingChannel()))) if stub_class else None,
    "servicer": [n for n in vars(servicer_class) if not n.startswith("_")] if servicer_class else None,
    "registered": server.registered if add else None,
}))
'''


def _probe(package_dir: Path) -> dict:
    """What the generated package offers, seen from a fresh Python process."""
    if not (package_dir / "users_pb2_grpc.py").is_file():
        return {"import_error": f"there is no {package_dir.name}/users_pb2_grpc.py"}
    run = subprocess.run([sys.executable, "-c", PROBE, package_dir.name], cwd=package_dir.parent,
                         capture_output=True, text=True, timeout=60)
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        return {"import_error": last}


def check_delete_user(contract: str | Path = "my_contracts/users.proto",
                      package: str | Path = "my_users") -> CheckResult:
    """Exercise 3.1: DeleteUser in the contract, and in the stub, servicer and registration made from it.

    `contract` is the learner's .proto; `package` the folder (and Python package) it was generated into.
    """
    contract, package_dir = Path(contract), Path(package)
    name = package_dir.name
    file, compiles = compile_case(contract, contract.name)
    cases = [compiles]
    if file is None:
        return run_checks("Exercise 3.1 · DeleteUser", cases)

    regenerate = (f"run the generate(...) cell after the %%writefile cell: {name}/ only changes when "
                  "you regenerate it")
    service = next((s for s in file.service if s.name == SERVICE), None)
    methods = {m.name: m for m in service.method} if service else {}

    def contract_has_it():
        if service is None:
            raise Fail(f"there is no service {SERVICE} any more", "keep `service UserManager { ... }` as it was")
        method = methods.get(NEW_METHOD)
        if method is None:
            raise Fail(f"{SERVICE} has no rpc {NEW_METHOD} yet",
                       "inside `service UserManager { ... }`, add a line shaped like GetUser's: "
                       "`rpc DeleteUser(...) returns (...);`")
        takes, gives = method.input_type.rsplit(".", 1)[-1], method.output_type.rsplit(".", 1)[-1]
        if (takes, gives) != ("UserRequest", "UserResponse"):
            raise Fail(f"{NEW_METHOD} takes {takes} and returns {gives}; expected UserRequest → UserResponse",
                       "a delete needs only the id (UserRequest) and answers with the user it removed")
        if method.client_streaming or method.server_streaming:
            raise Fail(f"{NEW_METHOD} streams; expected a unary call (one request, one response)",
                       "leave out the word `stream`")

    def others_unchanged():
        missing = [m for m in EXISTING_METHODS if m not in methods]
        if missing:
            raise Fail(f"{', '.join(missing)} went missing from the service",
                       "add the new method next to the others; keep the five that were there")

    def regenerated():
        stamp = package_dir / STAMP_NAME
        if not stamp.is_file():
            raise Fail(f"there is no generated package {name}/ yet", regenerate)
        if stamp.read_text() != contracts_hash(contract.parent):
            raise Fail(f"{name}/ was generated before your last change to {contract.name}", regenerate)

    report: dict = {}

    def not_generated():
        if NEW_METHOD not in methods:
            return Fail(f"the generated code has no {NEW_METHOD}",
                        f"it appears once {contract.name} declares {NEW_METHOD} and you run the generate(...) cell")
        return Fail(f"the generated code has no {NEW_METHOD}", regenerate)

    def generated(part: str):
        if not report:
            report.update(_probe(package_dir))
        if "import_error" in report:
            raise Fail(f"{name}.users_pb2_grpc does not import ({report['import_error']})", regenerate)
        if report.get(part) is None:
            raise Fail(f"{name}/users_pb2_grpc.py has no service {SERVICE}",
                       f"keep the service's name, {SERVICE}, then regenerate")
        return report[part]

    def in_stub():
        stub = generated("stub")
        if NEW_METHOD not in stub:
            raise not_generated()
        _kind, path = stub[NEW_METHOD]
        if path != f"/{FULL_SERVICE}/{NEW_METHOD}":
            raise Fail(f"stub.{NEW_METHOD} calls {path}; expected /{FULL_SERVICE}/{NEW_METHOD}",
                       "keep the package (users.v1) and the service name (UserManager) as they were")

    def in_servicer():
        methods_of_servicer = generated("servicer")
        if NEW_METHOD not in methods_of_servicer:
            raise not_generated()

    def registered():
        paths = generated("registered")
        if f"/{FULL_SERVICE}/{NEW_METHOD}" not in paths:
            raise not_generated()

    cases += [
        (f"{contract.name} has rpc {NEW_METHOD}(UserRequest) returns (UserResponse)", contract_has_it),
        ("the five existing methods are still there", others_unchanged),
        (f"{name}/ is generated from your latest {contract.name}", regenerated),
        (f"{SERVICE}Stub has {NEW_METHOD}", in_stub),
        (f"{SERVICE}Servicer has {NEW_METHOD}", in_servicer),
        (f"add_{SERVICE}Servicer_to_server registers {NEW_METHOD}", registered),
    ]
    return run_checks("Exercise 3.1 · DeleteUser", cases)
