"""check_delete_user (exercise 3.1): each rule written beside the checker, broken alone by a wrong answer."""
import shutil
from pathlib import Path

import nbformat
import pytest
from exercises import answer, skeleton, write_cell, wrong_in_places

from workshop import NOTEBOOKS, PROTOS
from workshop.checkers import codegen as checker
from workshop.checkers.codegen import RULES, check_delete_user
from workshop.codegen import generate
from workshop.notebooks import execute

SOLUTION = "03_1_delete_user.py"
COMPILES = "users.proto compiles"
KIT = "the kit's own protos/users.proto is as shipped: the exercise changes only your copy"
PACKAGE = "package users.v1, as before"
KEPT = "every message, field and enum value keeps its name, number, type and options"
RPCS = "UserManager keeps its five rpcs as they were"
ADDED = "nothing else is added: no other new rpc, service, message, field, enum value, import, option or reserved"
DECLARED = "UserManager has rpc DeleteUser(UserRequest) returns (UserResponse), unary"
ALONE = "no other .proto next to users.proto (generate puts every .proto of the folder into the package)"
FRESH = "the generated package is made from your latest contract"
STUB, SERVICER, REGISTERED = ("UserManagerStub has DeleteUser", "UserManagerServicer has DeleteUser",
                              "add_UserManagerServicer_to_server registers DeleteUser")
GENERATED = [STUB, SERVICER, REGISTERED]


def write_contract(source: str, folder: Path) -> Path:
    """Run the exercise cell (it writes my_contracts/users.proto) in `folder`."""
    (folder / "my_contracts").mkdir(exist_ok=True)
    return write_cell(source, folder)


def regenerate(folder: Path) -> None:
    """What the notebook's generate cell does."""
    generate(folder / "my_contracts", folder / "my_users", "my_users")


def check(folder: Path):
    result = check_delete_user(folder / "my_contracts" / "users.proto", folder / "my_users")
    assert "Traceback" not in repr(result)
    return result


def wrong(replacements: dict) -> str:
    """The answer with some of its text replaced: a typical mistake."""
    return wrong_in_places(SOLUTION, replacements)


def written_and_generated(source: str, folder: Path):
    write_contract(source, folder)
    regenerate(folder)
    return check(folder)


def failed(result) -> list[str]:
    return [case.label for case in result.cases if not case.passed]


def test_the_answer_regenerated_passes_every_rule_written_beside_the_checker(tmp_path):
    result = written_and_generated(answer(SOLUTION), tmp_path)
    assert result.all_passed, repr(result)
    assert [case.label for case in result.cases] == [COMPILES, *RULES]


def test_the_shipped_skeleton_has_no_delete_user_anywhere(tmp_path):
    result = written_and_generated(skeleton(SOLUTION), tmp_path)
    assert failed(result) == [DECLARED, *GENERATED], repr(result)
    assert "declares DeleteUser" in result[STUB].hint


# Each wrong answer breaks one rule: (the rule, what the answer gets wrong, words its hint must hold)
ONE_RULE_BROKEN = [
    (PACKAGE, {"package users.v1;": "package users.v2;"}, "package users.v1;"),
    (KEPT, {"int64 id = 1;\n  string nickname": "int64 id = 5;\n  string nickname"}, "stays as it was"),
    (KEPT, {"string nickname = 2;": "string name = 2;"}, "stays as it was"),
    (KEPT, {"string mail_address = 3;": "bytes mail_address = 3;"}, "stays as it was"),
    (KEPT, {"USER_TYPE_GUEST = 3;": "USER_TYPE_GUEST = 5;"}, "stays as it was"),
    (KEPT, {"message UserRequest { int64 id = 1; }": "message UserRequest { int32 id = 1; }"},
     "stays as it was"),
    (KEPT, {"string mail_address = 3;": 'string mail_address = 3 [json_name = "email"];'}, "JSON name"),
    (KEPT, {"string mail_address = 3;": "string mail_address = 3 [deprecated = true];"}, "stays as it was"),
    (KEPT, {"string nickname = 2;": "oneof name { string nickname = 2; }"}, "stays as it was"),
    (KEPT, {'syntax = "proto3";': 'edition = "2023";'}, "stays as it was"),  # every field now tracks presence
    (RPCS, {"  rpc GetUsersByIds(stream UserRequest) returns (stream UserResponse);\n": ""}, "as they are"),
    (RPCS, {"rpc GetUser(UserRequest) returns (UserResponse);":
            "rpc GetUser(UserRequest) returns (UserResponse) { option deprecated = true; }"}, "as they are"),
    (RPCS, {"returns (stream UserResponse);\n  rpc GetUsersByIds": "returns (UserResponse);\n  rpc GetUsersByIds"},
     "as they are"),
    (DECLARED, {"rpc DeleteUser(UserRequest)": "rpc DeleteUser(User)"}, "only the id (UserRequest)"),
    (DECLARED, {"rpc DeleteUser(UserRequest) returns (UserResponse)":
                "rpc DeleteUser(UserRequest) returns (stream UserResponse)"}, "leave out the word `stream`"),
]


@pytest.mark.parametrize(("rule", "mistake", "hint"), ONE_RULE_BROKEN,
                         ids=[f"{rule[:30]}: {next(iter(mistake.values()))[:30]}" for rule, mistake, _
                              in ONE_RULE_BROKEN])
def test_a_wrong_answer_that_breaks_one_rule_fails_that_case_alone(rule, mistake, hint, tmp_path):
    result = written_and_generated(wrong(mistake), tmp_path)
    assert failed(result) == [rule], repr(result)
    assert hint in result[rule].hint, repr(result)


# Each addition besides DeleteUser breaks the "nothing else is added" rule alone: (the addition, how it reads)
ADDITIONS = [
    ({"  // Unary: removes": "  rpc PurgeUsers(UserRequest) returns (UserCountResponse);\n  // Unary: removes"},
     "rpc PurgeUsers is new"),
    ({"USER_TYPE_DISABLED = 4;": "USER_TYPE_DISABLED = 4;\n  USER_TYPE_DELETED = 5;"},
     "value UserType.USER_TYPE_DELETED = 5 is new"),
    ({"UserType user_type = 4;\n}": "UserType user_type = 4;\n  bool deleted = 5;\n}"},
     "field User.deleted = 5 is new"),
    ({"message UserCountResponse": "message DeleteReason { string text = 1; }\nmessage UserCountResponse"},
     "message DeleteReason is new"),
    ({'package users.v1;': 'package users.v1;\n\nimport "google/protobuf/empty.proto";'},
     'import "google/protobuf/empty.proto" is new'),
    ({'package users.v1;': 'package users.v1;\n\noption java_package = "com.example.users";'},
     'option java_package = "com.example.users" is new'),
    ({"rpc DeleteUser(UserRequest) returns (UserResponse);":
      "rpc DeleteUser(UserRequest) returns (UserResponse) { option deprecated = true; }"},
     "rpc DeleteUser has [deprecated: true], which is new"),
    ({"UserType user_type = 4;\n}": "UserType user_type = 4;\n  reserved 5;\n}"},
     "message User has `reserved 5`, which is new"),
    ({"USER_TYPE_DISABLED = 4;": "USER_TYPE_DISABLED = 4;\n  reserved 5 to 9;"},
     "enum UserType has `reserved 5 to 9`, which is new"),
    ({"string mail_address = 3;": 'string mail_address = 3 [json_name = "mailAddress"];'},
     'User.mail_address has [json_name = "mailAddress"], which is new'),
    ({"USER_TYPE_UNSPECIFIED = 0;": "USER_TYPE_UNSPECIFIED = 0;\n  USER_TYPE_UNKNOWN = 0;",
      "enum UserType {\n": "enum UserType {\n  option allow_alias = true;\n"},
     "value UserType.USER_TYPE_UNKNOWN = 0 is new; enum UserType now has [allow_alias: true]; it had no options"),
    ({"service UserManager {": "service UserAdmin { rpc PurgeUsers(UserRequest) returns (UserCountResponse); }\n"
                               "service UserManager {"}, "service UserAdmin is new"),
]


@pytest.mark.parametrize(("mistake", "got"), ADDITIONS, ids=[got for _, got in ADDITIONS])
def test_anything_added_besides_delete_user_fails_the_nothing_else_rule_alone(mistake, got, tmp_path):
    result = written_and_generated(wrong(mistake), tmp_path)
    assert failed(result) == [ADDED], repr(result)
    assert result[ADDED].got == got
    assert "rpc DeleteUser, and nothing else" in result[ADDED].hint


def test_several_additions_are_counted_after_the_first_two(tmp_path):
    mistake = {}
    for replacements, _ in ADDITIONS[:4]:
        mistake.update(replacements)
    result = written_and_generated(wrong(mistake), tmp_path)
    assert failed(result) == [ADDED], repr(result)
    assert result[ADDED].got.endswith("(and 2 more)"), result[ADDED].got


def test_delete_user_spelt_in_lower_case_is_told_names_are_case_sensitive(tmp_path):
    result = written_and_generated(wrong({"rpc DeleteUser(": "rpc deleteUser("}), tmp_path)
    assert failed(result) == [DECLARED, *GENERATED], repr(result)  # not also "added": it is the attempt at DeleteUser
    assert result[DECLARED].got == "UserManager has no rpc DeleteUser, but it has rpc deleteUser"
    assert "case-sensitive" in result[DECLARED].hint and "/users.v1.UserManager/DeleteUser" in result[DECLARED].hint


def test_delete_user_in_a_service_of_its_own_is_told_it_is_in_the_wrong_service(tmp_path):
    line = "  rpc DeleteUser(UserRequest) returns (UserResponse);\n"
    moved = wrong({line: ""}) + "\nservice UserAdmin {\n" + line + "}\n"
    result = written_and_generated(moved, tmp_path)
    assert failed(result) == [DECLARED, *GENERATED], repr(result)
    assert result[DECLARED].got == "rpc DeleteUser is in service UserAdmin, not in UserManager"
    assert "into `service UserManager { ... }`, then remove service UserAdmin" in result[DECLARED].hint
    assert "`service UserManager` declares DeleteUser" in result[STUB].hint


@pytest.mark.parametrize(("mistake", "got"), [
    ({"message UserRequest { int64 id = 1; }": "message UserRequest { int32 id = 1; }"},
     "UserRequest.id is now int32; it was int64"),
    ({"string nickname = 2;": "optional string nickname = 2;"}, "User.nickname is now optional string; it was string"),
    ({"string mail_address = 3;": "repeated string mail_address = 3;"},
     "User.mail_address is now repeated string; it was string"),
], ids=["int32", "optional", "repeated"])
def test_a_retyped_field_names_its_type_now_and_before(mistake, got, tmp_path):
    result = written_and_generated(wrong(mistake), tmp_path)
    assert failed(result) == [KEPT], repr(result)
    assert result[KEPT].got == got


def test_a_renumbered_and_a_renamed_field_are_both_named(tmp_path):
    result = written_and_generated(wrong({"int64 id = 1;\n  string nickname = 2;":
                                          "int64 id = 5;\n  string name = 2;"}), tmp_path)
    assert failed(result) == [KEPT]
    assert result[KEPT].got == "User.id is now number 5, not 1; User's number 2 is now called name, not nickname"


def test_a_renamed_message_fails_the_kept_rule_and_the_rpc_that_uses_it(tmp_path):
    result = written_and_generated(wrong({"UserCountResponse": "CountResponse"}), tmp_path)
    assert failed(result) == [KEPT, RPCS], repr(result)
    assert "message UserCountResponse is gone" in result[KEPT].got


def test_a_changed_package_names_the_package_as_the_cause_not_the_generate_cell(tmp_path):
    result = written_and_generated(wrong({"package users.v1;": "package users.v2;"}), tmp_path)
    assert result[PACKAGE].got == "the package is users.v2; it was users.v1"
    assert "/users.v1.UserManager/GetUser" in result[PACKAGE].hint
    assert not any("generate" in case.hint for case in result.cases)


def test_a_contract_changed_after_generating_fails_only_the_freshness_rule(tmp_path):
    contract = write_contract(answer(SOLUTION), tmp_path)
    regenerate(tmp_path)
    contract.write_text(contract.read_text() + "// a comment added later\n")
    result = check(tmp_path)
    assert failed(result) == [FRESH]
    assert "generate(...) cell" in result[FRESH].hint


def test_an_answer_that_was_not_regenerated_is_told_to_regenerate(tmp_path):
    write_contract(skeleton(SOLUTION), tmp_path)
    regenerate(tmp_path)
    write_contract(answer(SOLUTION), tmp_path)  # the learner edits the contract but skips the generate cell
    result = check(tmp_path)
    assert failed(result) == [FRESH, *GENERATED], repr(result)
    assert all("generate(...) cell" in result[label].hint for label in [FRESH, *GENERATED])


def test_an_answer_never_generated_at_all_says_so(tmp_path):
    write_contract(answer(SOLUTION), tmp_path)
    result = check(tmp_path)
    assert failed(result) == [FRESH, *GENERATED]
    assert result[FRESH].got == "there is no generated package my_users/ yet"


def cut(path: Path, first: str, last: str) -> None:
    """Delete the lines from the one holding `first` to the next one that is `last`: a hand edit."""
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if first in line)
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == last)
    path.write_text("".join(lines[:start] + lines[end + 1:]))


HAND_EDITS = [  # (the rule, the generated lines a hand edit removed)
    (STUB, "self.DeleteUser = channel.unary_unary(", "_registered_method=True)"),
    (SERVICER, "def DeleteUser(self, request, context):", "raise NotImplementedError('Method not implemented!')"),
    (REGISTERED, "'DeleteUser': grpc.unary_unary_rpc_method_handler(", "),"),
]


@pytest.mark.parametrize(("rule", "first", "last"), HAND_EDITS, ids=[rule for rule, _, _ in HAND_EDITS])
def test_generated_code_missing_one_piece_fails_that_case_alone(rule, first, last, tmp_path):
    """Judged as a server uses the package (imported in a fresh process, a real call), each piece on its own."""
    write_contract(answer(SOLUTION), tmp_path)
    regenerate(tmp_path)
    cut(tmp_path / "my_users" / "users_pb2_grpc.py", first, last)
    result = check(tmp_path)
    assert failed(result) == [FRESH, rule], repr(result)  # and the stamp tells that the package was edited
    assert "changed by hand" in result[rule].hint
    assert "edited by hand" in result[FRESH].got


def test_generated_code_edited_by_hand_where_no_other_case_looks_fails_the_fresh_case(tmp_path):
    """The stub's path renamed: every piece is there, yet the stub's DeleteUser reaches no method."""
    write_contract(answer(SOLUTION), tmp_path)
    regenerate(tmp_path)
    grpc_module = tmp_path / "my_users" / "users_pb2_grpc.py"
    grpc_module.write_text(grpc_module.read_text().replace("/users.v1.UserManager/DeleteUser",
                                                           "/users.v1.UserManager/RemoveUser"))
    result = check(tmp_path)
    assert failed(result) == [FRESH], repr(result)
    assert result[FRESH].got == "my_users/ was changed after it was generated (a file edited by hand?)"
    assert "never edited" in result[FRESH].hint
    regenerate(tmp_path)  # the generate cell, run again, writes the files anew
    assert check(tmp_path).all_passed


def test_generated_code_that_does_not_import_is_reported_in_one_line(tmp_path):
    write_contract(answer(SOLUTION), tmp_path)
    regenerate(tmp_path)
    (tmp_path / "my_users" / "users_pb2.py").write_text("raise ImportError('half a file')\n")
    result = check(tmp_path)
    assert failed(result) == [FRESH, *GENERATED]  # not as generated, and each piece does not import
    assert "does not import (ImportError: half a file)" in result[STUB].got


def test_a_broken_contract_shows_protocs_line_and_nothing_else(tmp_path):
    write_contract(wrong({"rpc DeleteUser(UserRequest) returns (UserResponse);":
                          "rpc DeleteUser(UserRequest) returns (UserResponse)"}), tmp_path)
    result = check(tmp_path)
    assert [case.label for case in result.cases] == [COMPILES] and not result.all_passed
    assert result[COMPILES].got.startswith("protoc says: users.proto:") and 'Expected ";"' in result[COMPILES].got
    assert "the %%writefile cell, the generate cell and this checker again" in result[COMPILES].hint
    assert str(tmp_path) not in repr(result)


def test_a_missing_contract_says_to_run_the_writefile_cell(tmp_path):
    result = check(tmp_path)
    assert failed(result) == [COMPILES] and "%%writefile" in result[COMPILES].hint


def test_a_renamed_service_fails_without_a_traceback(tmp_path):
    result = written_and_generated(wrong({"service UserManager": "service Users"}), tmp_path)
    assert failed(result) == [RPCS, DECLARED, *GENERATED], repr(result)
    assert result[RPCS].got == "there is no service UserManager any more (services: Users)"
    assert "has no UserManagerStub" in result[STUB].got
    assert "has no UserManagerServicer" in result[SERVICER].got  # each line names what it looked for
    assert "has no add_UserManagerServicer_to_server" in result[REGISTERED].got


def test_the_notebooks_generate_cell_shows_protocs_line_for_a_broken_contract_not_a_traceback(tmp_path):
    """Exercise 3.1's cells after a restart (first cell, exercise, generate, checker), with a contract that
    does not compile: the generate cell prints protoc's file and line, and no cell shows a traceback."""
    notebook = nbformat.read(NOTEBOOKS / "03-code-generation.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    cells = [cell for cell in code[1:] if cell.metadata.get("workshop", {}).get("exercise") == "3.1"]
    broken = wrong({"rpc DeleteUser(UserRequest) returns (UserResponse);":
                    "rpc DeleteUser(UserRequest) returns (UserResponse)"})
    cells[0].source = broken
    notebook.cells = [code[0], *cells]
    execute(notebook, tmp_path)  # raises on a cell that ends in an error

    def shown(cell) -> str:
        return "".join(output.get("text", "") + str(output.get("data", {}).get("text/plain", ""))
                       for output in cell.outputs)

    generate_cell = next(cell for cell in cells if "generate(" in cell.source)
    missing_semicolon = broken.splitlines().index("  rpc DeleteUser(UserRequest) returns (UserResponse)") + 1
    assert f'users.proto:{missing_semicolon}:1: Expected ";".' in shown(generate_cell), shown(generate_cell)
    assert "not generated" in shown(generate_cell)
    assert not any("Traceback" in shown(cell) or "ProtoError" in shown(cell) for cell in notebook.cells)


def test_an_edition_instead_of_proto3_names_the_file_line_as_the_change(tmp_path):
    result = written_and_generated(wrong({'syntax = "proto3";': 'edition = "2023";'}), tmp_path)
    assert result[KEPT].got.startswith("the file is now edition 2023; it was proto3"), repr(result)


def test_code_generated_by_hand_is_told_to_use_the_generate_cell(tmp_path):
    """protoc run by hand into my_users/, as notebook 03's first section runs it: no package, no stamp."""
    import subprocess
    import sys

    write_contract(answer(SOLUTION), tmp_path)
    (tmp_path / "my_users").mkdir()
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", "-Imy_contracts", "--python_out=my_users",
                    "--grpc_python_out=my_users", "users.proto"], cwd=tmp_path, check=True)
    result = check(tmp_path)
    assert FRESH in failed(result), repr(result)
    assert result[FRESH].got == "my_users/ holds generated files, but not from the generate(...) cell"
    assert "`import users_pb2`" in result[FRESH].hint



def test_code_whose_note_of_its_contract_was_deleted_is_told_what_the_note_is(tmp_path):
    """The walker's: generated by the cell, then its note (checker.STAMP_NAME) deleted; nobody ran protoc by hand."""
    write_contract(answer(SOLUTION), tmp_path)
    regenerate(tmp_path)
    (tmp_path / "my_users" / checker.STAMP_NAME).unlink()
    result = check(tmp_path)
    assert result[FRESH].got == "my_users/ holds generated files, but not from the generate(...) cell", repr(result)
    assert f"notes in {checker.STAMP_NAME} which contract" in result[FRESH].hint
    assert "with the note deleted" in result[FRESH].hint


# The walker's edits of the kit's own protos/users.proto, made before copying it into my_contracts/
KIT_EDITS = {
    "a new field and DeleteUser": {"  UserType user_type = 4;\n}": "  UserType user_type = 4;\n  string phone = 5;\n}",
                                   "returns (stream UserResponse);\n}": "returns (stream UserResponse);\n"
                                   "  rpc DeleteUser(UserRequest) returns (UserResponse);\n}"},
    "a renamed field and DeleteUser": {"string mail_address = 3;": "string email = 3;",
                                       "returns (stream UserResponse);\n}": "returns (stream UserResponse);\n"
                                       "  rpc DeleteUser(UserRequest) returns (UserResponse);\n}"},
}


def edited_kit(tmp_path: Path, monkeypatch, replacements: dict) -> Path:
    """A copy of the kit's protos/ with users.proto edited, which the checker takes for the kit's."""
    protos = tmp_path / "kit" / "protos"
    shutil.copytree(PROTOS, protos)
    users = protos / "users.proto"
    text = users.read_text()
    for old, new in replacements.items():
        assert old in text, f"protos/users.proto no longer holds {old!r}: update this edit"
        text = text.replace(old, new)
    users.write_text(text)
    monkeypatch.setattr(checker, "PROTOS", protos)
    return users


@pytest.mark.parametrize("edit", KIT_EDITS, ids=list(KIT_EDITS))
def test_an_edit_of_the_kits_own_contract_copied_into_my_contracts_fails_the_kit_rule_alone(edit, tmp_path,
                                                                                            monkeypatch):
    """The notebook's own cells after an edit of protos/users.proto: the copy cell, generate, the checker."""
    kit = edited_kit(tmp_path, monkeypatch, KIT_EDITS[edit])
    (tmp_path / "my_contracts").mkdir()
    shutil.copyfile(kit, tmp_path / "my_contracts" / "users.proto")
    regenerate(tmp_path)
    result = check(tmp_path)
    assert failed(result) == [KIT], repr(result)
    assert result[KIT].got.startswith("the kit's own protos/users.proto is not as the kit shipped it")
    assert "never the kit's own" in result[KIT].hint and "git checkout protos/users.proto" in result[KIT].hint


def test_a_kits_contract_that_no_longer_compiles_is_named_without_a_traceback(tmp_path, monkeypatch):
    edited_kit(tmp_path, monkeypatch, {"string mail_address = 3;": "string mail_address = 3"})
    result = written_and_generated(answer(SOLUTION), tmp_path)
    assert [case.label for case in result.cases] == [COMPILES, KIT] and failed(result) == [KIT], repr(result)
    assert "does not compile any more" in result[KIT].got


# The walker's other files in my_contracts/ next to a right answer: (file, its text)
OTHER_CONTRACTS = {
    "delete.proto": 'syntax = "proto3";\n\npackage users.v1;\n\n'
                    "message DeleteUserRequest { int64 id = 1; bool hard = 2; }\n",
    "users_v0.proto": None,  # the shipped skeleton, kept as an "old version" under package users.v0
}


@pytest.mark.parametrize("name", OTHER_CONTRACTS, ids=list(OTHER_CONTRACTS))
def test_another_proto_in_my_contracts_fails_the_folder_rule_alone(name, tmp_path):
    write_contract(answer(SOLUTION), tmp_path)
    other = OTHER_CONTRACTS[name] or skeleton(SOLUTION).partition("\n")[2].replace("package users.v1;",
                                                                                    "package users.v0;")
    (tmp_path / "my_contracts" / name).write_text(other)
    regenerate(tmp_path)
    result = check(tmp_path)
    assert failed(result) == [ALONE], repr(result)
    assert result[ALONE].got == f"my_contracts/ also holds {name}"
    assert f"move {name} out of my_contracts/" in result[ALONE].hint


def test_a_package_generated_under_another_name_is_regenerated_by_the_notebooks_generate_cell(tmp_path):
    """The walker's blocker: generate(..., "users") once, then the notebook's own cell must not say "up to date"."""
    write_contract(answer(SOLUTION), tmp_path)
    generate(tmp_path / "my_contracts", tmp_path / "my_users", "users")
    result = check(tmp_path)
    assert failed(result) == [FRESH, *GENERATED], repr(result)
    assert result[FRESH].got.startswith("my_users/ was generated as package 'users'")
    assert 'generate(Path("my_contracts"), Path("my_users"), "my_users")' in result[FRESH].hint
    assert "No module named 'users'" in result[STUB].got
    assert generate(tmp_path / "my_contracts", tmp_path / "my_users", "my_users") is True  # the notebook's cell
    assert check(tmp_path).all_passed


def test_an_import_protoc_cannot_find_shows_its_folders_and_the_line_that_imports_it(tmp_path):
    """The walker's AI-style `option (google.api.http)`, with its import: a file the kit does not have."""
    source = wrong({"package users.v1;": 'package users.v1;\n\nimport "google/api/annotations.proto";',
                    "rpc DeleteUser(UserRequest) returns (UserResponse);":
                    "rpc DeleteUser(UserRequest) returns (UserResponse) {\n"
                    '    option (google.api.http) = { delete: "/v1/users/{id}" };\n  }'})
    write_contract(source, tmp_path)
    result = check(tmp_path)
    assert failed(result) == [COMPILES], repr(result)
    line = source.splitlines().index('import "google/api/annotations.proto";')  # the %%writefile line is not written
    assert result[COMPILES].got.startswith(f'protoc says: users.proto:{line}:1: Import "google/api/annotations.proto" '
                                           "was not found"), result[COMPILES].got
    assert "take the import out, with whatever uses it" in result[COMPILES].hint
