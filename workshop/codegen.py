"""Turns .proto contracts into importable Python modules with grpc_tools.protoc.

Generated code lands inside a package (protoc's `-I<package path>=<protos>` form), so its own
imports read `from workshop.protos import users_pb2` and work from notebooks, tests and server
processes alike, whatever the current directory. Regeneration happens only when a contract (or the
package name, or the generator) changed, so importing the generated package costs a hash of a few small files.
"""
from __future__ import annotations

import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from google.protobuf import descriptor_pb2

STAMP_NAME = ".contracts.sha256"


class ProtoError(Exception):
    """A contract that protoc refused; the message is protoc's own, pointing at file and line.

    `folder` is the contracts' folder on this machine, with which protoc's lines about them start: what
    protoc_message leaves out, and only that (an import's path, such as google/api/annotations.proto, stays).
    """

    def __init__(self, message: str, folder: Path | None = None):
        super().__init__(message)
        self.folder = folder


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def contracts_hash(proto_dir: Path) -> str:
    """A fingerprint of every contract and of the generator version, to know when to regenerate."""
    digest = hashlib.sha256(_version("grpcio-tools").encode())
    for proto in sorted(Path(proto_dir).glob("*.proto")):
        digest.update(proto.name.encode() + b"\0" + proto.read_bytes() + b"\0")
    return digest.hexdigest()


def generated_hash(package_dir: Path) -> str:
    """A fingerprint of the generated files as they are now: one edited by hand no longer matches its stamp."""
    digest = hashlib.sha256()
    for path in sorted({*Path(package_dir).glob("*_pb2*.py*"), *Path(package_dir).glob("*_grpc.py")}):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Stamp:
    """What generate() wrote last beside the code: all that the code was made from, and the code's own fingerprint.

    Everything that changes the output is in it: the contracts and grpcio-tools' version, the package name (the
    generated files import each other by it) and grpclib's plugin. A call that differs in any of them regenerates.
    """

    contracts: str
    package: str
    grpclib: str  # grpclib's version when its stubs were asked for, else ""
    generated: str

    def text(self) -> str:
        return (f"contracts {self.contracts}\npackage {self.package}\ngrpclib {self.grpclib or '-'}\n"
                f"generated {self.generated}\n")


def read_stamp(package_dir: Path) -> Stamp | None:
    """The stamp generate() wrote last into `package_dir`; None if it never did (or an older kit wrote it)."""
    stamp = Path(package_dir) / STAMP_NAME
    if not stamp.is_file():
        return None
    fields = dict(line.partition(" ")[::2] for line in stamp.read_text().splitlines())
    if set(fields) != {"contracts", "package", "grpclib", "generated"}:
        return None
    return Stamp(fields["contracts"], fields["package"], fields["grpclib"].strip("-"), fields["generated"])


def _include_dir_of_well_known_types() -> str:
    import grpc_tools

    return str(Path(grpc_tools.__file__).parent / "_proto")


@functools.cache
def well_known_types() -> dict[str, str]:
    """{'Timestamp': 'google/protobuf/timestamp.proto', ...}: every message and enum of package google.protobuf
    in the files grpc_tools ships (what `import "google/protobuf/..."` finds), with the file that declares it."""
    from google.protobuf import descriptor_pb2

    include = Path(_include_dir_of_well_known_types())
    files = sorted(path.relative_to(include).as_posix() for path in (include / "google" / "protobuf").glob("*.proto"))
    with tempfile.TemporaryDirectory(prefix="protoc-") as scratch:
        out = Path(scratch, "well-known.binpb")
        subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{include}", f"--descriptor_set_out={out}",
                        *files], capture_output=True, check=True)
        found = descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
    return {declared.name: file.name for file in found.file if file.package == "google.protobuf"
            for declared in [*file.message_type, *file.enum_type]}


def grpclib_plugin() -> str:
    """The protoc plugin grpclib installs next to this Python (protoc-gen-grpclib_python, .exe on Windows)."""
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("protoc-gen-grpclib_python", path=scripts) or shutil.which(
        "protoc-gen-grpclib_python", path=str(Path(sys.executable).parent))
    if found is None:
        raise ProtoError(f"grpclib's protoc plugin is not in {scripts}: install the requirements "
                         "(python -m workshop check says what is missing)")
    return found


def generate(proto_dir: Path, package_dir: Path, package: str, force: bool = False, grpclib: bool = False) -> bool:
    """Generate `<name>_pb2.py`, `<name>_pb2_grpc.py` and `<name>_pb2.pyi` for every contract, and with
    `grpclib` also grpclib's `<name>_grpc.py` (its stubs and servicer bases, for notebook 09).

    `package_dir` is the folder of the Python package named `package` (dotted) that receives them.
    Returns True when it generated, False when the stored code was already up to date.
    Raises ProtoError with protoc's message when a contract does not compile.
    """
    proto_dir, package_dir = Path(proto_dir).resolve(), Path(package_dir).resolve()
    made_from = {"contracts": contracts_hash(proto_dir), "package": package,
                 "grpclib": _version("grpclib") if grpclib else ""}
    if not force and read_stamp(package_dir) == Stamp(**made_from, generated=generated_hash(package_dir)):
        return False  # made from the same contracts in the same way, and nobody changed what was made of them

    protos = sorted(proto_dir.glob("*.proto"))
    if not protos:
        raise ProtoError(f"no .proto files in {proto_dir}")
    virtual = package.replace(".", "/")
    package_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="protoc-", dir=package_dir.parent) as out_root:
        command = [
            sys.executable, "-m", "grpc_tools.protoc",
            f"-I{virtual}={proto_dir}",
            f"-I{_include_dir_of_well_known_types()}",
            f"--python_out={out_root}", f"--pyi_out={out_root}", f"--grpc_python_out={out_root}",
            *([f"--plugin=protoc-gen-grpclib_python={grpclib_plugin()}", f"--grpclib_python_out={out_root}"]
              if grpclib else []),
            *(f"{virtual}/{p.name}" for p in protos),
        ]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            # protoc names files by their virtual path; show the learner the real one.
            real_prefix = f"{proto_dir}{os.sep}"  # a function, not a string: Windows paths hold backslashes
            message = re.sub(rf"(?m)^{re.escape(virtual)}/", lambda _: real_prefix, result.stderr.strip())
            raise ProtoError(f"protoc could not compile the contracts in {proto_dir}:\n{message}", proto_dir)
        generated = Path(out_root, virtual)
        for stale in {*package_dir.glob("*_pb2*.py*"), *package_dir.glob("*_grpc.py")}:  # x_pb2_grpc.py: both
            if not (generated / stale.name).exists():
                stale.unlink()
        for produced in generated.iterdir():
            # os.replace is atomic, so a process importing meanwhile sees an old or a new file, never half of one.
            staged = package_dir / f".{produced.name}.tmp"
            shutil.copyfile(produced, staged)
            staged.replace(package_dir / produced.name)
    init = package_dir / "__init__.py"
    if not init.exists():
        init.write_text('"""Generated by workshop.codegen."""\n')
    (package_dir / STAMP_NAME).write_text(Stamp(**made_from, generated=generated_hash(package_dir)).text())
    return True


def protoc_message(error: ProtoError) -> str:
    """protoc's own lines from a ProtoError, without the folder of the learner's contracts.

    That folder differs between laptops and runs; the file name, line and column are what a learner
    needs. An import's path is kept whole (`google/api/annotations.proto: File not found.`): it is what
    the contract wrote. Warnings are left out when there are errors to read.
    """
    prefix = f"{error.folder}{os.sep}" if error.folder is not None else None
    lines = [line.removeprefix(prefix) if prefix else line for line in str(error).splitlines()[1:] if line.strip()]
    errors = [line for line in lines if ": warning:" not in line]
    return "\n".join(errors or lines) or str(error)


def protoc_location(error: ProtoError) -> tuple[str, int] | None:
    """(file name, line) of the first problem protoc reported, for checkers and notebooks."""
    found = re.search(r"([\w.-]+\.proto):(\d+):\d+:", str(error))
    return (found.group(1), int(found.group(2))) if found else None


_ABSL_LOG_LINE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog\(\)|[IWEF]\d{4} \d\d:\d\d:\d\d)")


def descriptor_set(proto_file: Path, include_imports: bool = False,
                   source_info: bool = False) -> descriptor_pb2.FileDescriptorSet:
    """What protoc understood of one contract: its own FileDescriptorSet (`--descriptor_set_out`).

    The contract is compiled alone, with the well-known types and its folder on the import path, in that order:
    a file of the learner's named google/protobuf/timestamp.proto cannot stand in for the real one.
    Nothing is generated and nothing is imported, so a learner can change a contract and check it
    again as often as they like (protobuf's registry in a process takes each file only once).
    The contract is the set's last file; with `include_imports`, the files it imports come first; with
    `source_info`, each file also says where in its text each declaration was written (what was written
    by hand and what protoc filled in, such as a field's JSON name).
    Raises FileNotFoundError if the file is missing, ProtoError with protoc's message otherwise.
    """
    from google.protobuf import descriptor_pb2  # here: this module is imported before protobuf is installed

    proto_file = Path(proto_file).resolve()
    if not proto_file.is_file():
        raise FileNotFoundError(proto_file)
    with tempfile.TemporaryDirectory(prefix="protoc-") as scratch:
        out = Path(scratch, "contract.binpb")
        command = [
            sys.executable, "-m", "grpc_tools.protoc",
            f"-I{_include_dir_of_well_known_types()}", f"-I{proto_file.parent}",
            f"--descriptor_set_out={out}", *(["--include_imports"] if include_imports else []),
            *(["--include_source_info"] if source_info else []),
            proto_file.name,
        ]
        result = subprocess.run(command, capture_output=True, text=True, cwd=proto_file.parent)
        if result.returncode != 0:
            # absl's log lines carry timestamps and PIDs; protoc's own lines say what is wrong.
            lines = [line for line in result.stderr.strip().splitlines() if not _ABSL_LOG_LINE.match(line)]
            real_prefix = f"{proto_file.parent}{os.sep}"
            message = re.sub(r"(?m)^(?=[\w.-]+\.proto:)", lambda _: real_prefix, "\n".join(lines))
            raise ProtoError(f"protoc could not compile {proto_file}:\n{message}", proto_file.parent)
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())
