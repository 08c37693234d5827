"""check_delete_user (exercise 3.1): the contract, the regeneration, the generated stub, servicer and registration."""
from pathlib import Path

import pytest
from exercises import answer, skeleton, write_cell

from workshop.checkers.codegen import check_delete_user
from workshop.codegen import generate

SOLUTION = "03_1_delete_user.py"
CONTRACT_CASE = "users.proto has rpc DeleteUser(UserRequest) returns (UserResponse)"
GENERATED_CASES = ["UserManagerStub has DeleteUser", "UserManagerServicer has DeleteUser",
                   "add_UserManagerServicer_to_server registers DeleteUser"]
FRESH_CASE = "my_users/ is generated from your latest users.proto"


@pytest.fixture(autouse=True)
def lenient_checkers(monkeypatch):
    monkeypatch.delenv("WORKSHOP_STRICT_CHECKS", raising=False)


def write_contract(source: str, folder: Path) -> Path:
    """Run the exercise cell (it writes my_contracts/users.proto) in `folder`."""
    (folder / "my_contracts").mkdir(exist_ok=True)
    return write_cell(source, folder)


def regenerate(folder: Path) -> None:
    """What the notebook's generate cell does."""
    generate(folder / "my_contracts", folder / "my_users", "my_users")


def check(folder: Path):
    return check_delete_user(folder / "my_contracts" / "users.proto", folder / "my_users")


def failed(result) -> list[str]:
    return [case.label for case in result.cases if not case.passed]


def test_the_answer_regenerated_passes_every_case(tmp_path):
    write_contract(answer(SOLUTION), tmp_path)
    regenerate(tmp_path)
    result = check(tmp_path)
    assert result.all_passed, repr(result)
    assert len(result.cases) == 7


def test_the_shipped_skeleton_has_no_delete_user_anywhere(tmp_path):
    write_contract(skeleton(SOLUTION), tmp_path)
    regenerate(tmp_path)
    result = check(tmp_path)
    assert failed(result) == [CONTRACT_CASE, *GENERATED_CASES], repr(result)
    assert "declares DeleteUser" in result["UserManagerStub has DeleteUser"].hint


def test_an_answer_that_was_not_regenerated_is_told_to_regenerate(tmp_path):
    write_contract(skeleton(SOLUTION), tmp_path)
    regenerate(tmp_path)
    write_contract(answer(SOLUTION), tmp_path)  # the learner edits the contract but skips the generate cell
    result = check(tmp_path)
    assert failed(result) == [FRESH_CASE, *GENERATED_CASES], repr(result)
    assert all("generate(...)" in result[label].hint for label in [FRESH_CASE, *GENERATED_CASES])


def test_an_answer_never_generated_at_all_says_so(tmp_path):
    write_contract(answer(SOLUTION), tmp_path)
    result = check(tmp_path)
    assert failed(result) == [FRESH_CASE, *GENERATED_CASES]
    assert "there is no generated package my_users/ yet" in result[FRESH_CASE].got


def test_a_broken_contract_shows_protocs_line_and_nothing_else(tmp_path):
    source = answer(SOLUTION).replace("rpc DeleteUser(UserRequest) returns (UserResponse);",
                                      "rpc DeleteUser(UserRequest) returns (UserResponse)")
    write_contract(source, tmp_path)
    result = check(tmp_path)
    assert len(result.cases) == 1 and not result.all_passed
    assert 'protoc says: users.proto:' in result.cases[0].got and 'Expected ";"' in result.cases[0].got
    assert str(tmp_path) not in repr(result)


def test_the_wrong_request_type_fails_the_contract_case(tmp_path):
    write_contract(answer(SOLUTION).replace("rpc DeleteUser(UserRequest)", "rpc DeleteUser(User)"), tmp_path)
    regenerate(tmp_path)
    result = check(tmp_path)
    assert failed(result) == [CONTRACT_CASE]
    assert "takes User and returns UserResponse" in result[CONTRACT_CASE].got


def test_a_streaming_delete_fails_the_contract_case(tmp_path):
    write_contract(answer(SOLUTION).replace("returns (UserResponse);\n}", "returns (stream UserResponse);\n}"),
                   tmp_path)
    regenerate(tmp_path)
    result = check(tmp_path)
    assert failed(result) == [CONTRACT_CASE]
    assert "stream" in result[CONTRACT_CASE].hint


def test_replacing_a_method_instead_of_adding_one_is_caught(tmp_path):
    write_contract(answer(SOLUTION).replace("  rpc GetUsersByIds(stream UserRequest) returns (stream UserResponse);\n",
                                            ""), tmp_path)
    regenerate(tmp_path)
    result = check(tmp_path)
    assert failed(result) == ["the five existing methods are still there"]
    assert "GetUsersByIds" in result["the five existing methods are still there"].got


def test_a_renamed_service_fails_without_a_traceback(tmp_path):
    write_contract(answer(SOLUTION).replace("service UserManager", "service Users"), tmp_path)
    regenerate(tmp_path)
    result = check(tmp_path)
    assert CONTRACT_CASE in failed(result) and "Traceback" not in repr(result)
    assert "has no service UserManager" in result["UserManagerStub has DeleteUser"].got
