"""Checkers for notebook 02 (writing .proto), and the helpers they share with notebook 03.

A learner's contract is compiled alone, with workshop.codegen, in a scratch folder; what protoc
understood is then read back from the descriptor it embeds in the generated `_pb2.py`. Nothing
is imported into the notebook's process: protobuf keeps one registry per process and refuses a
second, different version of the same file, so importing would break the second time a learner
fixes a contract and checks again.
"""
from __future__ import annotations

import ast
import shutil
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

from workshop.checkers.support import CheckResult, Fail, run_checks
from workshop.codegen import ProtoError, generate, protoc_message

FieldProto = descriptor_pb2.FieldDescriptorProto
_SCALARS = {getattr(FieldProto, name): name[len("TYPE_"):].lower()
            for name in FieldProto.Type.keys() if name not in ("TYPE_MESSAGE", "TYPE_ENUM", "TYPE_GROUP")}


def _serialized_descriptor(module: Path) -> bytes:
    """The FileDescriptorProto that protoc embeds in a generated `_pb2.py` (`AddSerializedFile(b'...')`)."""
    for node in ast.walk(ast.parse(module.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "AddSerializedFile":
            return ast.literal_eval(node.args[0])
    raise RuntimeError(f"{module.name} holds no serialized descriptor; was it made by protoc?")


def compile_contract(proto_file: Path) -> descriptor_pb2.FileDescriptorProto:
    """Compile one .proto alone with workshop.codegen; return the descriptor protoc made of it.

    Raises ProtoError (protoc's message) if it does not compile, FileNotFoundError if it is missing.
    """
    proto_file = Path(proto_file)
    if not proto_file.is_file():
        raise FileNotFoundError(proto_file)
    with tempfile.TemporaryDirectory(prefix="workshop-check-") as scratch:
        contracts, generated = Path(scratch, "contracts"), Path(scratch, "generated")
        contracts.mkdir()
        shutil.copyfile(proto_file, contracts / proto_file.name)
        generate(contracts, generated, "generated", force=True)
        module = next(generated.glob("*_pb2.py"))
        return descriptor_pb2.FileDescriptorProto.FromString(_serialized_descriptor(module))


def compile_case(proto_file: Path, shown_as: str):
    """(descriptor or None, the "compiles" case) for a learner's contract; never raises."""
    label = f"{shown_as} compiles"
    try:
        return compile_contract(proto_file), (label, lambda: None)
    except FileNotFoundError:
        failure = Fail(f"there is no {shown_as} in this folder",
                       "run the exercise's %%writefile cell first; it writes the file")
    except ProtoError as error:
        first = protoc_message(error).splitlines()[0]
        failure = Fail(f"protoc says: {first}",
                       "fix the line protoc names (or the one just before it), run the %%writefile cell "
                       "again, then this checker")
    except Exception as error:  # a checker reports, never raises
        failure = Fail(f"it could not be compiled ({type(error).__name__}: {error})")

    def fails():
        raise failure

    return None, (label, fails)


# ---------------------------------------------------------------- reading descriptors


def _is_map(field, message) -> bool:
    if field.type != FieldProto.TYPE_MESSAGE or field.label != FieldProto.LABEL_REPEATED:
        return False
    entry = field.type_name.rsplit(".", 1)[-1]
    return any(nested.name == entry and nested.options.map_entry for nested in message.nested_type)


def describe_field(field, message, package: str = "") -> str:
    """A field's type as written in a .proto: 'repeated string', 'optional int32', 'Level', ...

    Types from `package` (the file's own) are shown without it, as a learner writes them.
    """
    if _is_map(field, message):
        entry = next(n for n in message.nested_type if n.name == field.type_name.rsplit(".", 1)[-1])
        key, value = (describe_field(f, entry, package) for f in entry.field)
        return f"map<{key}, {value}>"
    kind = _SCALARS.get(field.type) or field.type_name.lstrip(".")
    if package and kind.startswith(package + "."):
        kind = kind[len(package) + 1:]
    if field.label == FieldProto.LABEL_REPEATED:
        return f"repeated {kind}"
    if field.proto3_optional:
        return f"optional {kind}"
    if field.HasField("oneof_index"):
        return f"{kind} (inside oneof {message.oneof_decl[field.oneof_index].name})"
    return kind


def find_message(file, name: str):
    return next((m for m in file.message_type if m.name == name), None)


def find_enum(file, name: str):
    """A top-level enum, or one nested in a top-level message."""
    nested = [e for m in file.message_type for e in m.enum_type]
    return next((e for e in [*file.enum_type, *nested] if e.name == name), None)


# ---------------------------------------------------------------- exercise 2.1


TALK_PACKAGE = "conference.v1"
LEVEL_VALUES = [("LEVEL_UNSPECIFIED", 0), ("LEVEL_BEGINNER", 1), ("LEVEL_INTERMEDIATE", 2),
                ("LEVEL_ADVANCED", 3)]
# name, number, type as written in a .proto, how to write it
TALK_FIELDS = [
    ("id", 1, "int64", "int64 id = 1;"),
    ("title", 2, "string", "string title = 2;"),
    ("speakers", 3, "repeated string", "repeated string speakers = 3;"),
    ("level", 4, "Level", "Level level = 4;"),
    ("starts_at", 5, "google.protobuf.Timestamp", "google.protobuf.Timestamp starts_at = 5;"),
]


def _check_talk_field(file, name: str, number: int, expected: str, line: str) -> None:
    talk = find_message(file, "Talk")
    if talk is None:
        found = ", ".join(m.name for m in file.message_type) or "none"
        raise Fail(f"there is no message Talk (messages found: {found})",
                   "the message must be called exactly Talk: `message Talk { ... }`")
    field = next((f for f in talk.field if f.name == name), None)
    type_hints = {
        "repeated string": "a list is one field marked `repeated` before its type",
        "Level": "the type of an enum field is the enum's name, Level (not int32, not string)",
        "google.protobuf.Timestamp": 'its type is google.protobuf.Timestamp, from the file '
                                     '"google/protobuf/timestamp.proto" that the skeleton imports',
    }
    if field is None:
        names = ", ".join(f.name for f in talk.field) or "none"
        about_type = type_hints.get(expected)
        hint = (f"add it inside message Talk. {about_type[0].upper()}{about_type[1:]}" if about_type
                else "add it inside message Talk, written like `int64 id = 1;`")
        raise Fail(f"Talk has no field named {name} (its fields: {names})", hint)
    got = describe_field(field, talk, file.package)
    if got not in (expected, f"Talk.{expected}"):  # an enum nested in Talk is fine too
        plain = expected.split()[-1]
        hint = type_hints.get(expected, f"declare it as `{line}`")
        if got == f"optional {plain}":
            hint = f"leave out `optional` here: the spec asks for a plain {plain}"
        raise Fail(f"{name} is `{got}`; expected `{expected}`", hint)
    if field.number != number:
        raise Fail(f"{name} has field number {field.number}; expected {number}",
                   f"the number after `=` is the field's tag on the wire, not a default value: write `= {number}`")


def _check_level(file) -> None:
    level = find_enum(file, "Level")
    if level is None:
        found = ", ".join(e.name for e in file.enum_type) or "none"
        raise Fail(f"there is no enum Level (enums found: {found})",
                   "declare `enum Level { LEVEL_UNSPECIFIED = 0; ... }` next to the message")
    got = [(value.name, value.number) for value in level.value]
    if got != LEVEL_VALUES:
        shown = ", ".join(f"{n} = {v}" for n, v in got)
        if any(not name.startswith("LEVEL_") for name, _ in got):
            hint = ("start every value with the enum's name, LEVEL_: enum values share the package's "
                    "namespace, so a bare UNSPECIFIED would clash with the next enum's")
        else:
            hint = "write the four values in this order: " + ", ".join(f"{n} = {v}" for n, v in LEVEL_VALUES)
        raise Fail(f"Level has {shown}", hint)


def check_talk(path: str | Path = "my_talk.proto") -> CheckResult:
    """Exercise 2.1: the Talk message and the Level enum, one case per requirement of the spec."""
    path = Path(path)
    file, compiles = compile_case(path, path.name)
    cases = [compiles]
    if file is not None:
        def package():
            if file.package != TALK_PACKAGE:
                got = f"the package is {file.package}" if file.package else "there is no package line"
                raise Fail(f"{got}; expected {TALK_PACKAGE}",
                           f"write `package {TALK_PACKAGE};` after the syntax line")

        cases.append((f"package {TALK_PACKAGE}", package))
        cases.append(("enum Level: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3",
                      lambda: _check_level(file)))
        for name, number, expected, line in TALK_FIELDS:
            cases.append((f"Talk.{name}: {expected} = {number}",
                          lambda spec=(name, number, expected, line): _check_talk_field(file, *spec)))
    return run_checks("Exercise 2.1 · message Talk", cases)
