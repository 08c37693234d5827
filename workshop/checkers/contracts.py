"""What the two contract exercises (2.1 and 3.1) share: a learner's .proto as protoc understood it.

Both judge protoc's descriptor of the file, never its text. This module compiles the file for
a checker (protoc's first complaint becomes one ✗ line) and names the differences between two
versions of a contract the way a learner writes them: `UserRequest.id is now int32; it was int64`.
It is not a checker; the checkers of notebooks 02 and 03 both stand on it.
"""
from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path

from google.protobuf import descriptor_pb2, text_format

from workshop.checkers.support import Fail
from workshop.codegen import ProtoError, descriptor_set, protoc_message, well_known_types

FieldProto = descriptor_pb2.FieldDescriptorProto
PROTO2_COMPLAINT = 'Expected "required", "optional", or "repeated"'  # protoc's words for a field without a label
# Field numbers of descriptor.proto, as they stand in a source location's path
MESSAGE_TYPE = descriptor_pb2.FileDescriptorProto.MESSAGE_TYPE_FIELD_NUMBER
NESTED_TYPE = descriptor_pb2.DescriptorProto.NESTED_TYPE_FIELD_NUMBER
FIELD = descriptor_pb2.DescriptorProto.FIELD_FIELD_NUMBER
JSON_NAME = FieldProto.JSON_NAME_FIELD_NUMBER
UNDEFINED_WELL_KNOWN = re.compile(r'"google\.protobuf\.(\w+)" is not defined')  # a missing import, or a misspelling
IMPORT_NOT_FOUND = re.compile(r'Import "([^"]+)" was not found')
NO_EFFECT = re.compile(r"\"(\w+)\" declares '([^']+)' which has no effect")  # protoc's line is past the declaration


# ---------------------------------------------------------------- compiling


def first_problem(error: ProtoError) -> str:
    """protoc's first line that names a file, line and column (the one a learner should read).

    An import that is not found comes first as `google/api/annotations.proto: File not found.`, a line with no
    number; the line after it names the import's line in the contract.
    """
    lines = protoc_message(error).splitlines()
    return next((line for line in lines if re.search(r"\.proto:\d+:\d+:", line)),
                next((line for line in lines if ".proto:" in line), lines[0] if lines else str(error)))


def closest_well_known(name: str) -> str:
    """The well-known type a misspelt google.protobuf.<name> most likely meant: TimeStamp, timestamp or DateTime
    → Timestamp. The words of the name found in a type's name count first, then how alike the two are."""
    words = [word.lower() for word in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name) if len(word) > 2]

    def likeness(candidate: str) -> tuple[int, float]:
        lower = candidate.lower()
        return sum(word in lower for word in words), difflib.SequenceMatcher(None, name.lower(), lower).ratio()

    return max(sorted(well_known_types()), key=likeness)


def _undefined_well_known_hint(name: str, rerun: str) -> str:
    """A google.protobuf type protoc does not know: its file is not imported, or no such type exists."""
    types = well_known_types()
    if name in types:
        return (f'google.protobuf.{name} is declared in another file, which yours must import: `import '
                f'"{types[name]}";` after the package line. Then run {rerun}')
    meant = closest_well_known(name)
    return (f"google.protobuf has no type {name}; the well-known type closest to it is {meant}, from "
            f'"{types[meant]}". Type names are case-sensitive and exact: write google.protobuf.{meant} (and '
            f'import "{types[meant]}" if your file does not yet). Then run {rerun}')


def _import_not_found_hint(imported: str, rerun: str) -> str:
    """An import protoc cannot find: a misspelt well-known file, or a file the kit does not have."""
    files = sorted(set(well_known_types().values()))
    by_name = {file.rsplit("/", 1)[-1]: file for file in files}
    close = difflib.get_close_matches(imported.rsplit("/", 1)[-1], by_name, n=1, cutoff=0.8)
    if close:
        return (f'there is no "{imported}"; the well-known file closest to it is "{by_name[close[0]]}", which '
                f"protoc always finds: write that in the import line (file names are exact, folders included). "
                f"Then run {rerun}")
    return (f'"{imported}" is not here: protoc finds an import in the contract\'s own folder, or among the '
            "well-known types that come with it (google/protobuf/...). The exercise needs no other file: take the "
            f"import out, with whatever uses it. Then run {rerun}")


def compile_contract(path: Path, shown: str, rerun: str) -> tuple[descriptor_pb2.FileDescriptorProto | None,
                                                                  Fail | None]:
    """(what protoc understood of the contract, None), or (None, why it does not compile).

    `shown` names the file in the ✗ line; `rerun` says which cells to run after a fix.
    """
    try:
        return descriptor_set(path, source_info=True).file[-1], None
    except FileNotFoundError:
        return None, Fail(f"there is no {shown} in this folder",
                          "run the exercise's %%writefile cell first; it writes the file")
    except ProtoError as error:
        problem = first_problem(error)
        hint = f"fix the line protoc names (or the one just before it), then run {rerun}"
        if undefined := UNDEFINED_WELL_KNOWN.search(problem):
            hint = _undefined_well_known_hint(undefined.group(1), rerun)
        if missing := IMPORT_NOT_FOUND.search(problem):
            hint = _import_not_found_hint(missing.group(1), rerun)
        if no_effect := NO_EFFECT.search(problem):
            declaration, option = no_effect.groups()
            hint = (f"delete `{option}` from {declaration}: it changes nothing, so protoc refuses it. (For this one "
                    f"protoc's line number points past {declaration}, not at the option.) Then run {rerun}")
        if PROTO2_COMPLAINT in problem:
            hint = ('is `syntax = "proto3";` the first line? Without it protoc reads the file as proto2, '
                    "where every field needs a label")
        return None, Fail(f"protoc says: {problem}", hint)


# ---------------------------------------------------------------- naming what is declared


def short(type_name: str, package: str) -> str:
    """'.users.v1.User' → 'User': a type as written inside its own package."""
    return type_name.lstrip(".").removeprefix(f"{package}.")


def messages(file) -> dict[str, descriptor_pb2.DescriptorProto]:
    """Every message of the file, nested ones too, by name inside the package ('User', 'User.Address').

    The entry types protoc makes for `map<...>` fields are left out: nobody wrote them.
    """
    found = {}

    def walk(declared, outer: str) -> None:
        for message in declared:
            if not message.options.map_entry:
                found[f"{outer}{message.name}"] = message
                walk(message.nested_type, f"{outer}{message.name}.")

    walk(file.message_type, "")
    return found


def written_json_names(file) -> dict[str, str]:
    """{'Talk.starts_at': 'startsAt'}: the fields whose JSON name the contract spells out (`[json_name = ...]`).

    protoc fills in every field's JSON name, so only the file's source info (compiled with `source_info`) tells
    one written by hand, even one that protoc would have made anyway.
    """
    found = {}
    for location in file.source_code_info.location:
        path = list(location.path)  # [4, message, (3, nested message)..., 2, field, 10]: a field's json_name
        if (len(path) < 5 or len(path) % 2 == 0 or (path[0], path[-3], path[-1]) != (MESSAGE_TYPE, FIELD, JSON_NAME)
                or any(kind != NESTED_TYPE for kind in path[2:-3:2])):
            continue
        message = file.message_type[path[1]]
        names = [message.name]
        for nested in path[3:-3:2]:
            message = message.nested_type[nested]
            names.append(message.name)
        found[".".join([*names, message.field[path[-2]].name])] = message.field[path[-2]].json_name
    return found


def enums(file) -> dict[str, descriptor_pb2.EnumDescriptorProto]:
    """Every enum of the file, at the top level or inside a message, by name inside the package."""
    found = {enum.name: enum for enum in file.enum_type}
    for outer, message in messages(file).items():
        found.update((f"{outer}.{enum.name}", enum) for enum in message.enum_type)
    return found


def spelled(field, message, package: str) -> str:
    """A field's type as a .proto spells it: 'int64', 'repeated string', 'optional User', 'map<string, int32>'."""
    if field.type in (FieldProto.TYPE_MESSAGE, FieldProto.TYPE_ENUM):
        type_ = short(field.type_name, package)
        entry = next((n for n in message.nested_type
                      if n.options.map_entry and type_.endswith(f".{n.name}")), None)
        if entry is not None:
            key, value = entry.field
            return f"map<{spelled(key, entry, package)}, {spelled(value, entry, package)}>"
    else:
        type_ = FieldProto.Type.Name(field.type).removeprefix("TYPE_").lower()
    if field.label == FieldProto.LABEL_REPEATED:
        return f"repeated {type_}"
    return f"optional {type_}" if field.proto3_optional else type_


def signature(method, package: str) -> str:
    """'(stream UserRequest) returns (UserCountResponse)': an rpc as written after its name."""
    takes = ("stream " if method.client_streaming else "") + short(method.input_type, package)
    gives = ("stream " if method.server_streaming else "") + short(method.output_type, package)
    return f"({takes}) returns ({gives})"


def rpcs_named_like(file, name: str) -> list[tuple[str, str]]:
    """(service, rpc) of every rpc, in any service, whose name is `name` spelt any way: deleteUser, Delete_User."""
    return [(s.name, m.name) for s in file.service for m in s.method
            if m.name.replace("_", "").lower() == name.replace("_", "").lower()]


# ---------------------------------------------------------------- comparing two versions


def dialect(file) -> str:
    """'proto3', 'proto2' or 'edition 2023': what the file's first line says, which sets every field's meaning."""
    if file.syntax == "editions":
        return "edition " + descriptor_pb2.Edition.Name(file.edition).removeprefix("EDITION_")
    return file.syntax or "proto2"


def changes(mine, original) -> list[str]:
    """Every message, field, enum and enum value of `original` that is gone, renamed, renumbered or retyped,
    and the file's syntax or edition (under edition 2023 every field tracks presence: a change to them all)."""
    found = []
    if dialect(mine) != dialect(original):
        found.append(f"the file is now {dialect(mine)}; it was {dialect(original)}, which gives every field its "
                     "meaning")
    for kind, old_items, new_items, members in (("message", messages(original), messages(mine), "field"),
                                                ("enum", enums(original), enums(mine), "value")):
        for name, old in old_items.items():
            new = new_items.get(name)
            if new is None:
                found.append(f"{kind} {name} is gone")
                continue
            by_number = {m.number: m for m in getattr(new, members)}
            by_name = {m.name: m for m in getattr(new, members)}
            for member in getattr(old, members):
                now = by_number.get(member.number)
                if member.name in by_name and by_name[member.name].number == member.number:
                    now = by_name[member.name]  # kept, though an alias (allow_alias) may share its number
                if now is None and member.name in by_name:
                    found.append(f"{name}.{member.name} is now number {by_name[member.name].number}, "
                                 f"not {member.number}")
                elif now is None:
                    found.append(f"{name}.{member.name} = {member.number} is gone")
                elif now.name != member.name:
                    found.append(f"{name}'s number {member.number} is now called {now.name}, not {member.name}")
                elif members == "field":
                    found += _field_changes(f"{name}.{member.name}", (member, old, original), (now, new, mine))
                elif now.options != member.options:
                    found.append(f"{name}.{member.name} now has {options(now)}; it had {options(member)}")
    return found


def options(declared) -> str:
    """'[deprecated: true]': the options of a field, value, message, enum, rpc or service, as one line."""
    return f"[{text_format.MessageToString(declared.options, as_one_line=True)}]" if declared.options.ListFields() \
        else "no options"


def oneof(field, message) -> str | None:
    """The name of the oneof `field` is in; None for a field on its own (an `optional` field's hidden oneof too)."""
    if not field.HasField("oneof_index") or field.proto3_optional:
        return None
    return message.oneof_decl[field.oneof_index].name


def _field_changes(where: str, before, after) -> list[str]:
    """How one field (kept by name and number) changed: its type, JSON name, oneof or options."""
    (was, old_message, old_file), (now, new_message, new_file) = before, after
    old_type, new_type = spelled(was, old_message, old_file.package), spelled(now, new_message, new_file.package)
    if new_type != old_type:
        return [f"{where} is now {new_type}; it was {old_type}"]
    if now.json_name != was.json_name:
        return [f"{where}'s JSON name is now {now.json_name!r}; it was {was.json_name!r}, which JSON clients send"]
    if oneof(now, new_message) != oneof(was, old_message):
        inside, outside = oneof(now, new_message), oneof(was, old_message)
        return [f"{where} is now in oneof {inside}" if inside else f"{where} is no longer in oneof {outside}"]
    if now.options != was.options:
        return [f"{where} now has {options(now)}; it had {options(was)}"]
    return []


def _new(kind: str, old: Iterable[str], new: Iterable[str]) -> list[str]:
    """What is new in a container, unless something of the same kind is gone from it: then a
    "new" one is most likely the gone one renamed, which `changes` already reports."""
    old, new = list(old), list(new)
    if any(name not in new for name in old):
        return []
    return [f"{kind} {name} is new" for name in new if name not in old]


def _new_members(kind: str, container: str, old_members, new_members) -> list[str]:
    """Fields (or enum values) that match none of the old ones by name or by number."""
    def known(member, members) -> bool:
        return any(m.name == member.name or m.number == member.number for m in members)

    if any(not known(member, new_members) for member in old_members):
        return []  # one is gone: a "new" one is probably it, renamed and renumbered
    kept = {m.name for m in new_members}
    # a member under a new name whose number an old one still has, by its old name: an alias (allow_alias)
    aliases = [m for m in new_members if all(o.name != m.name for o in old_members) and any(
        o.number == m.number and o.name in kept for o in old_members)]
    return [f"{kind} {container}.{m.name} = {m.number} is new" for m in new_members
            if not known(m, old_members) or m in aliases]


def additions(mine, original, expected: set[tuple[str, str]]) -> list[str]:
    """Everything `mine` declares that `original` does not, but the rpcs in `expected` ((service, rpc) pairs).

    A new service that holds only expected rpcs is left out too: the case that judges those rpcs
    says where they belong.
    """
    found = [f'import "{name}" is new' for name in mine.dependency if name not in original.dependency]
    before = dict(original.options.ListFields())
    found += [f"option {field.name} = {json.dumps(value) if isinstance(value, str) else value} is new"
              for field, value in mine.options.ListFields() if before.get(field) != value]
    old_messages, new_messages = messages(original), messages(mine)
    found += _new("message", old_messages, new_messages)
    # a JSON name written out as it was (protoc's own): a changed one is `changes`'s to name
    was_written = written_json_names(original)
    old_json_names = {f"{name}.{field.name}": field.json_name for name, message in old_messages.items()
                      for field in message.field}
    found += [f'{field} has [json_name = "{json_name}"], which is new' for field, json_name in
              written_json_names(mine).items() if field not in was_written and old_json_names.get(field) == json_name]
    for name, message in new_messages.items():
        if name in old_messages:
            found += _new_members("field", name, old_messages[name].field, message.field)
            found += _new_settings(f"message {name}", old_messages[name], message)
    old_enums, new_enums = enums(original), enums(mine)
    found += _new("enum", old_enums, new_enums)
    for name, enum in new_enums.items():
        if name in old_enums:
            found += _new_members("value", name, old_enums[name].value, enum.value)
            found += _new_settings(f"enum {name}", old_enums[name], enum)
    old_services = {s.name: s for s in original.service}
    services = [s.name for s in mine.service if s.name in old_services or not s.method
                or any((s.name, m.name) not in expected for m in s.method)]
    found += _new("service", old_services, services)
    for service in mine.service:
        if service.name in old_services:
            rpcs = [m.name for m in service.method if (service.name, m.name) not in expected]
            found += _new("rpc", [m.name for m in old_services[service.name].method], rpcs)
            found += _new_settings(f"service {service.name}", old_services[service.name], service)
        found += [f"rpc {m.name} has {options(m)}, which is new" for m in service.method
                  if (service.name, m.name) in expected and m.options.ListFields()]
    return found


def _new_settings(what: str, old, new) -> list[str]:
    """Options, and `reserved` numbers or names, that a message, enum or service has and had not."""
    found = [] if new.options == old.options else [f"{what} now has {options(new)}; it had {options(old)}"]
    last = 0 if isinstance(new, descriptor_pb2.EnumDescriptorProto) else 1  # a message's range ends one past it
    reserved = [*(f"reserved {r.start}" if r.end - last == r.start else f"reserved {r.start} to {r.end - last}"
                  for r in getattr(new, "reserved_range", ()) if r not in getattr(old, "reserved_range", ())),
                *(f'reserved "{name}"' for name in getattr(new, "reserved_name", ())
                  if name not in getattr(old, "reserved_name", ()))]
    return found + [f"{what} has `{line}`, which is new" for line in reserved]
