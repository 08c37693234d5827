"""Checker for notebook 02 (writing .proto): exercise 2.1, a conference Talk.

What the checker judges is what protoc understood of the learner's contract: protoc's own
descriptor set (workshop.codegen.descriptor_set), never the text of the file and never code
generated from it. Nothing is imported into the notebook's process, so a learner can fix the
contract and check it again as often as they like.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from google.protobuf import descriptor_pb2

from workshop.checkers.support import CheckResult, Fail, run_checks
from workshop.codegen import ProtoError, descriptor_set, protoc_message

FieldProto = descriptor_pb2.FieldDescriptorProto

PACKAGE = "conference.v1"
LEVEL_VALUES = {"LEVEL_UNSPECIFIED": 0, "LEVEL_BEGINNER": 1, "LEVEL_INTERMEDIATE": 2, "LEVEL_ADVANCED": 3}
TIMESTAMP = "google.protobuf.Timestamp"


# ---------------------------------------------------------------- compiling


def first_problem(error: ProtoError) -> str:
    """protoc's first line that names a file, line and column (the one a learner should read)."""
    lines = protoc_message(error).splitlines()
    return next((line for line in lines if ".proto:" in line), lines[0] if lines else str(error))


def compile_learner_contract(path: Path) -> tuple[descriptor_pb2.FileDescriptorProto | None, Fail | None]:
    """(what protoc understood of the contract, None), or (None, why it does not compile)."""
    try:
        return descriptor_set(path).file[-1], None
    except FileNotFoundError:
        return None, Fail(f"there is no {path.name} in this folder",
                          "run the exercise's %%writefile cell first; it writes the file")
    except ProtoError as error:
        problem = first_problem(error)
        hint = ("fix the line protoc names (or the one just before it), run the %%writefile cell again, "
                "then this checker")
        if 'Expected "required", "optional", or "repeated"' in problem:
            hint = ('is `syntax = "proto3";` the first line? Without it protoc reads the file as proto2, '
                    "where every field needs a label")
        return None, Fail(f"protoc says: {problem}", hint)


# ---------------------------------------------------------------- exercise 2.1


def _top_level_message(file, name: str):
    return next((m for m in file.message_type if m.name == name), None)


def _enum_anywhere(file, name: str) -> tuple[str, descriptor_pb2.EnumDescriptorProto] | None:
    """(full name, enum) of the first enum called `name`, at the top level or inside a message."""
    prefix = f"{file.package}." if file.package else ""
    found = [(f"{prefix}{e.name}", e) for e in file.enum_type]

    def nested(messages, outer: str):
        for message in messages:
            found.extend((f"{outer}{message.name}.{e.name}", e) for e in message.enum_type)
            nested(message.nested_type, f"{outer}{message.name}.")

    nested(file.message_type, prefix)
    return next(((full, e) for full, e in found if e.name == name), None)


def _talk(file):
    talk = _top_level_message(file, "Talk")
    if talk is None:
        raise Fail("there is no message Talk yet", "see the case `message Talk` above")
    return talk


def _syntax(file) -> None:
    if file.syntax != "proto3":
        edition = descriptor_pb2.Edition.Name(file.edition).removeprefix("EDITION_")
        got = f"edition {edition}" if file.syntax == "editions" else "proto2"
        raise Fail(f"the file is {got}", 'write `syntax = "proto3";` as the first line')


def _package(file) -> None:
    if file.package != PACKAGE:
        got = f"the package is {file.package}" if file.package else "there is no package line"
        raise Fail(f"{got}; expected {PACKAGE}", f"write `package {PACKAGE};` after the syntax line")


def _level_at_top_level(file) -> None:
    found = _enum_anywhere(file, "Level")
    if found is None:
        raise Fail("there is no enum Level yet", "declare `enum Level { LEVEL_UNSPECIFIED = 0; ... }` next to Talk")
    full_name, _ = found
    top_level = f"{file.package}.Level".lstrip(".")
    if full_name != top_level:
        container = full_name.removeprefix(f"{file.package}.").rsplit(".", 1)[0]
        raise Fail(f"Level is declared inside message {container}, so its full name is {full_name}",
                   f"move `enum Level {{ ... }}` out of message {container}, to the top level of the file: "
                   f"a nested enum is a different type ({full_name}, not {top_level})")


def _level_values(file) -> None:
    found = _enum_anywhere(file, "Level")
    if found is None:
        raise Fail("there is no enum Level yet", "declare `enum Level { LEVEL_UNSPECIFIED = 0; ... }` next to Talk")
    got = {value.name: value.number for value in found[1].value}
    if got != LEVEL_VALUES:
        shown = ", ".join(f"{name} = {number}" for name, number in got.items())
        if any(not name.startswith("LEVEL_") for name in got):
            hint = ("start every value with the enum's name, LEVEL_: enum values share the package's "
                    "namespace, so a bare UNSPECIFIED would clash with the next enum's")
        else:
            hint = "write exactly these four: " + ", ".join(f"{n} = {v}" for n, v in LEVEL_VALUES.items())
        raise Fail(f"Level has {shown}", hint)


def _message_talk(file) -> None:
    if _top_level_message(file, "Talk") is None:
        found = ", ".join(m.name for m in file.message_type) or "none"
        raise Fail(f"there is no message Talk at the top level (messages found: {found})",
                   "the message must be called exactly Talk: `message Talk { ... }`")


def _kind(field, message) -> tuple[str, str]:
    """(label, type) of a field as a .proto spells them: ("repeated", "string"), ("", "enum Level"), ..."""
    if field.type == FieldProto.TYPE_MESSAGE:
        entry = field.type_name.rsplit(".", 1)[-1]
        if any(n.name == entry and n.options.map_entry for n in message.nested_type):
            return "map", "map"
        type_ = field.type_name.lstrip(".")
    elif field.type == FieldProto.TYPE_ENUM:
        type_ = "enum " + field.type_name.rsplit(".", 1)[-1]  # where the enum lives is the enum case's business
    else:
        type_ = FieldProto.Type.Name(field.type)[len("TYPE_"):].lower()
    if field.label == FieldProto.LABEL_REPEATED:
        return "repeated", type_
    if field.proto3_optional:
        return "optional", type_
    if field.HasField("oneof_index"):
        return f"oneof {message.oneof_decl[field.oneof_index].name}", type_
    return "", type_


TYPE_HINTS = {
    "string": "a text field is `string`",
    "int64": "an id is a 64-bit integer: `int64`",
    "enum Level": "the type of an enum field is the enum's name, Level (not int32, not string)",
    TIMESTAMP: f'its type is {TIMESTAMP}, from "google/protobuf/timestamp.proto", which the skeleton imports',
}


def _talk_field(name: str, number: int, label: str, type_: str) -> Callable[[object], None]:
    written = " ".join(filter(None, [label, type_.removeprefix("enum "), name])) + f" = {number};"

    def case(file) -> None:
        talk = _talk(file)
        field = next((f for f in talk.field if f.name == name), None)
        if field is None:
            names = ", ".join(f.name for f in talk.field) or "none"
            raise Fail(f"Talk has no field named {name} (its fields: {names})", f"add `{written}` inside message Talk")
        got_label, got_type = _kind(field, talk)
        if got_type != type_:
            raise Fail(f"{name} is of type {got_type}; expected {type_}", TYPE_HINTS.get(type_, f"write `{written}`"))
        if got_label != label:
            if label == "repeated":
                hint = "a list is one field marked `repeated` before its type"
            else:
                plain = type_.removeprefix("enum ")
                hint = f"leave out `{got_label.split()[0]}` here: the spec asks for a plain {plain}"
            raise Fail(f"{name} is {got_label or 'a single value'}; expected {label or 'a single value'}", hint)
        if field.number != number:
            raise Fail(f"{name} has field number {field.number}; expected {number}",
                       "the number after `=` is the field's tag on the wire, not a default value: "
                       f"write `= {number}`")

    return case


RULES: dict[str, Callable[[object], None]] = {  # Exercise 2.1: each rule is one case (after "compiles")
    'syntax = "proto3"': _syntax,
    f"package {PACKAGE}": _package,
    f"enum Level at the top level of the file ({PACKAGE}.Level)": _level_at_top_level,
    "Level's four values: LEVEL_UNSPECIFIED = 0 … LEVEL_ADVANCED = 3": _level_values,
    f"message Talk ({PACKAGE}.Talk)": _message_talk,
    "Talk.id: int64 = 1": _talk_field("id", 1, "", "int64"),
    "Talk.title: string = 2": _talk_field("title", 2, "", "string"),
    "Talk.speakers: repeated string = 3": _talk_field("speakers", 3, "repeated", "string"),
    "Talk.level: Level = 4": _talk_field("level", 4, "", "enum Level"),
    f"Talk.starts_at: {TIMESTAMP} = 5": _talk_field("starts_at", 5, "", TIMESTAMP),
}


def check_talk(path: str | Path = "my_talk.proto") -> CheckResult:
    """Exercise 2.1: the contract compiles (else protoc's message and line), then one case per rule."""
    path = Path(path)
    file, failure = compile_learner_contract(path)

    def compiles():
        if failure is not None:
            raise failure

    cases = [(f"{path.name} compiles", compiles)]
    if file is not None:
        cases += [(label, lambda rule=rule: rule(file)) for label, rule in RULES.items()]
    return run_checks("Exercise 2.1 · message Talk", cases)
