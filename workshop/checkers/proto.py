"""Checker for notebook 02 (writing .proto): exercise 2.1, a conference Talk.

What the checker judges is what protoc understood of the learner's contract: protoc's own
descriptor set (workshop.codegen.descriptor_set), never the text of the file and never code
generated from it. Nothing is imported into the notebook's process, so a learner can fix the
contract and check it again as often as they like.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from google.protobuf import descriptor_pb2, text_format

from workshop.checkers.contracts import compile_contract, dialect, enums, messages, written_json_names
from workshop.checkers.support import CheckResult, Fail, run_checks

FieldProto = descriptor_pb2.FieldDescriptorProto

PACKAGE = "conference.v1"
LEVEL_VALUES = {"LEVEL_UNSPECIFIED": 0, "LEVEL_BEGINNER": 1, "LEVEL_INTERMEDIATE": 2, "LEVEL_ADVANCED": 3}
TIMESTAMP = "google.protobuf.Timestamp"
TIMESTAMP_FILE = "google/protobuf/timestamp.proto"  # the well-known file that declares it, shipped with protoc
TALK_NUMBERS = {"id": 1, "title": 2, "speakers": 3, "level": 4, "starts_at": 5}


# ---------------------------------------------------------------- exercise 2.1


def _declared(file, kind: str, name: str) -> tuple[str, str, object] | None:
    """(full name, where it is nested or "", descriptor) of the message or enum (`kind`) called `name`.

    The least nested one comes first: a top-level Talk wins over a Talk inside another message.
    """
    found = [(f"{file.package}.{inner}".lstrip("."), inner.rpartition(".")[0], item)
             for inner, item in (messages(file) if kind == "message" else enums(file)).items() if item.name == name]
    return min(found, key=lambda entry: entry[0].count("."), default=None)


def _at_top_level(kind: str, found: tuple[str, str, object], package: str) -> None:
    """Fail when the message or enum `found` is declared inside another message."""
    full_name, container, item = found
    if container:
        top_level = f"{package}.{item.name}".lstrip(".")
        raise Fail(f"{item.name} is declared inside message {container}, so its full name is {full_name}",
                   f"move `{kind} {item.name} {{ ... }}` out of message {container}, to the top level of the file: "
                   f"a nested {kind} is a different type ({full_name}, not {top_level})")


def _talk(file):
    """The message Talk, nested or not: where it is declared is the message case's business."""
    found = _declared(file, "message", "Talk")
    if found is None:
        raise Fail("there is no message Talk yet", "see the case `message Talk` above")
    return found[2]


def _syntax(file) -> None:
    if file.syntax != "proto3":
        raise Fail(f"the file is {dialect(file)}", 'write `syntax = "proto3";` as the first line')


def _package(file) -> None:
    if file.package != PACKAGE:
        got = f"the package is {file.package}" if file.package else "there is no package line"
        raise Fail(f"{got}; expected {PACKAGE}", f"write `package {PACKAGE};` after the syntax line")


def _level_at_top_level(file) -> None:
    found = _declared(file, "enum", "Level")
    if found is None:
        raise Fail("there is no enum Level yet", "declare `enum Level { LEVEL_UNSPECIFIED = 0; ... }` next to Talk")
    _at_top_level("enum", found, file.package)


def _level_values(file) -> None:
    found = _declared(file, "enum", "Level")
    if found is None:
        raise Fail("there is no enum Level yet", "declare `enum Level { LEVEL_UNSPECIFIED = 0; ... }` next to Talk")
    got = {value.name: value.number for value in found[2].value}
    if got != LEVEL_VALUES:
        shown = ", ".join(f"{name} = {number}" for name, number in got.items())
        if {name.upper(): number for name, number in got.items()} == LEVEL_VALUES:
            hint = "enum values are written in capitals, as the style guide asks: " + ", ".join(LEVEL_VALUES)
        elif any(not name.startswith("LEVEL_") for name in got):
            hint = ("start every value with the enum's name, LEVEL_: enum values share the package's "
                    "namespace, so a bare UNSPECIFIED would clash with the next enum's")
        elif any(number == 0 and name != "LEVEL_UNSPECIFIED" for name, number in got.items()):
            hint = ("zero means \"not set\": a field nobody filled in reads as 0, so 0 must be LEVEL_UNSPECIFIED, "
                    "and the real levels 1, 2, 3: " + ", ".join(f"{n} = {v}" for n, v in LEVEL_VALUES.items()))
        else:
            hint = "write exactly these four: " + ", ".join(f"{n} = {v}" for n, v in LEVEL_VALUES.items())
        raise Fail(f"Level has {shown}", hint)


def _message_talk(file) -> None:
    found = _declared(file, "message", "Talk")
    if found is None:
        names = ", ".join(m.name for m in file.message_type) or "none"
        raise Fail(f"there is no message Talk at the top level (messages found: {names})",
                   "the message must be called exactly Talk: `message Talk { ... }`")
    _at_top_level("message", found, file.package)


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


WIDE_INTEGERS = {  # why each is not int64, though all hold 64 bits
    "uint64": "unsigned, so code generated from the contract in other languages gives the field another type, and "
              "a negative number sent as int64 reads back as a huge one",
    "sint64": "its numbers are written another way (zig-zag), so a program built from an int64 contract reads "
              "other values from the same bytes",
    "fixed64": "always 8 bytes, with another wire type (1, not 0): a program built from an int64 contract cannot "
               "read it",
    "sfixed64": "always 8 bytes, with another wire type (1, not 0): a program built from an int64 contract cannot "
                "read it",
}
NARROW_INTEGERS = {"int32", "uint32", "sint32", "fixed32", "sfixed32"}
TYPE_HINTS = {
    "string": "a text field is `string`",
    "int64": "the spec asks for `int64`",
    "enum Level": "the type of an enum field is the enum's name, Level (not int32, not string)",
    TIMESTAMP: f'its type is {TIMESTAMP}, from "{TIMESTAMP_FILE}", which the skeleton imports',
}


def _borrows_timestamp(file) -> bool:
    """True when a field's google.protobuf.Timestamp comes from a file other than the well-known one (a
    timestamp.proto written by hand): protoc resolves it through one of the file's other imports."""
    return TIMESTAMP_FILE not in file.dependency and any(
        field.type_name == f".{TIMESTAMP}" for message in messages(file).values() for field in message.field)


def _well_known_timestamp(name: str, file) -> None:
    """Fail when the field's google.protobuf.Timestamp is not the one from google/protobuf/timestamp.proto."""
    if _borrows_timestamp(file):
        source = ", ".join(f'"{imported}"' for imported in file.dependency) or "your own file"
        raise Fail(f"{name}'s {TIMESTAMP} is not the well-known one: it comes from {source}, not from "
                   f'"{TIMESTAMP_FILE}"',
                   f'import "{TIMESTAMP_FILE}" in its place and delete the Timestamp you wrote: the well-known one '
                   "comes with protobuf, no file to write. One of your own is another type, whatever its name, which "
                   "libraries do not turn into a datetime")


def _talk_field(name: str, number: int, label: str, type_: str) -> Callable[[object], None]:
    written = " ".join(filter(None, [label, type_.removeprefix("enum "), name])) + f" = {number};"

    def case(file) -> None:
        talk = _talk(file)
        field = next((f for f in talk.field if f.name == name), None)
        if field is None:
            names = ", ".join(f.name for f in talk.field) or "none"
            raise Fail(f"Talk has no field named {name} (its fields: {names})", f"add `{written}` inside message Talk")
        got_label, got_type = _kind(field, talk)
        if got_type == "map":
            wanted = " ".join(filter(None, [label, type_.removeprefix("enum ")]))
            kind = "a list is one field marked `repeated`" if label == "repeated" else f"{name} holds one value"
            raise Fail(f"{name} is a map; expected {wanted}",
                       f"a map is a dict, one value per key; {kind}: `{written}`")
        if got_type != type_:
            hint = TYPE_HINTS.get(type_, f"write `{written}`")
            if type_ == "int64":
                if got_type in WIDE_INTEGERS:
                    hint += f": {got_type} is a 64-bit integer too, but another type: {WIDE_INTEGERS[got_type]}"
                elif got_type in NARROW_INTEGERS:
                    hint += f" (`{written}`): an id can grow past what {got_type} holds"
                else:
                    hint += f" (`{written}`): an id is a whole number, and {got_type} holds something else"
            raise Fail(f"{name} is of type {got_type}; expected {type_}", hint)
        if type_ == TIMESTAMP:
            _well_known_timestamp(name, file)
        if got_label != label:
            if label == "repeated":
                hint = "a list is one field marked `repeated` before its type"
            else:
                plain = type_.removeprefix("enum ")
                hint = f"leave out `{got_label.split()[0]}` here: the spec asks for a plain {plain}"
            raise Fail(f"{name} is {got_label or 'a single value'}; expected {label or 'a single value'}", hint)
        declared = field.type_name.lstrip(".")
        if type_.startswith("enum ") and declared != f"{file.package}.{type_[5:]}".lstrip(".") and any(
                enum.name == type_[5:] for enum in file.enum_type):
            raise Fail(f"{name} is of type {declared}, not the {type_[5:]} at the top level of the file",
                       f"a second enum {type_[5:]} is still inside message {declared.split('.')[-2]}, and inside "
                       "the message its name means that one: delete the copy, so that only the top-level enum is left")
        if field.number != number:
            owner = next((other for other, its in TALK_NUMBERS.items() if its == field.number), None)
            theirs = f"; {field.number} is the number of {owner}" if owner else ""
            raise Fail(f"{name} has field number {field.number}; expected {number}",
                       f"each field keeps the number the spec gives it: write `= {number}` here{theirs}. The number "
                       f"is the field's tag on the wire, so a program built from the spec would read tag "
                       f"{field.number} as {owner or 'a field it does not know'}")

    return case


def _default_json_name(name: str) -> str:
    """protoc's JSON name for a field: starts_at → startsAt (what a field without json_name gets)."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _nothing_else(file) -> None:
    """Talk's five fields and Level, and nothing more: each extra field, option or declaration is contract too."""
    found = []
    talk = _declared(file, "message", "Talk")
    holders = {name.split(".")[0] for name in (talk[1] if talk else "",
                                               (_declared(file, "enum", "Level") or ("", ""))[1]) if name}  # Schedule
    level = _declared(file, "enum", "Level")
    # a Talk or Level under another name is its own case's business, not something else added
    found += [f"message {m.name}" for m in file.message_type if talk and m.name != "Talk" and m.name not in holders]
    found += [f"enum {e.name}" for e in file.enum_type if level and e.name != "Level"]
    found += [f"service {s.name}" for s in file.service]
    if not _borrows_timestamp(file):  # else the import that brings the Timestamp is starts_at's case's business
        found += [f'import "{name}"' for name in file.dependency if name != TIMESTAMP_FILE]
    found += [f'import public "{file.dependency[index]}"' for index in file.public_dependency]  # re-exported
    found += [f'import weak "{file.dependency[index]}"' for index in file.weak_dependency]  # optional at runtime
    found += [f"extend {extension.extendee.lstrip('.')} {{ {extension.name} = {extension.number} }}"
              for extension in file.extension]
    found += [f"extend {extension.extendee.lstrip('.')} inside a message" for message in file.message_type
              for extension in message.extension]
    if file.options.ListFields():
        found.append(f"file options {text_format.MessageToString(file.options, as_one_line=True)}")
    if talk is not None:
        message, written = talk[2], written_json_names(file)
        found += [f"field {f.name} = {f.number}" for f in message.field if f.name not in TALK_FIELDS]
        for field in message.field:
            if field.name in TALK_FIELDS and field.json_name != _default_json_name(field.name):
                found.append(f"{field.name}'s JSON name {field.json_name!r} (JSON clients would send "
                             f"{_default_json_name(field.name)!r})")
            elif field.name in TALK_FIELDS and f"Talk.{field.name}" in written:
                found.append(f'{field.name} [json_name = "{field.json_name}"] (the name protoc gives it anyway, '
                             "but written out it is an option of the contract)")
            if field.name in TALK_FIELDS and field.options.ListFields():
                found.append(f"{field.name} [{text_format.MessageToString(field.options, as_one_line=True)}]")
        found += [f"reserved {r.start}" for r in message.reserved_range] + [
            f'reserved "{name}"' for name in message.reserved_name]
        found += [f"message Talk.{m.name}" for m in message.nested_type if not m.options.map_entry]
        if message.options.ListFields():
            found.append(f"Talk's options [{text_format.MessageToString(message.options, as_one_line=True)}]")
    if level is not None:
        enum = level[2]
        if enum.options.ListFields():
            found.append(f"Level's options [{text_format.MessageToString(enum.options, as_one_line=True)}]")
        found += [f"{value.name} [{text_format.MessageToString(value.options, as_one_line=True)}]"
                  for value in enum.value if value.options.ListFields()]
        found += [f"reserved {r.start} in Level" for r in enum.reserved_range] + [
            f'reserved "{name}" in Level' for name in enum.reserved_name]
    if found:
        more = f" (and {len(found) - 2} more)" if len(found) > 2 else ""
        raise Fail("the contract also has " + "; ".join(found[:2]) + more,
                   "write the spec and nothing else: every field, option and declaration is part of the contract, "
                   "which programs built from it will rely on. Take it out")


TALK_FIELDS = set(TALK_NUMBERS)
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
    "nothing else: no other field, message, enum, service or option, JSON names as protoc makes them":
        _nothing_else,
}


def check_talk(path: str | Path = "my_talk.proto") -> CheckResult:
    """Exercise 2.1: the contract compiles (else protoc's message and line), then one case per rule."""
    path = Path(path)
    file, failure = compile_contract(path, shown=path.name, rerun="the %%writefile cell and this checker again")

    def compiles():
        if failure is not None:
            raise failure

    cases = [(f"{path.name} compiles", compiles)]
    if file is not None:
        cases += [(label, lambda rule=rule: rule(file)) for label, rule in RULES.items()]
    return run_checks("Exercise 2.1 · message Talk", cases)
