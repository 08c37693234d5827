"""check_get_user and check_add_user fail the shipped skeletons and typical wrong servers, and pass the answers."""
import pytest
from exercises import answer, failed, skeleton, write_cell
from exercises import check_server_cell as check

import server_runner
from workshop.checkers.unary import check_add_user, check_get_user

GET_USER = "04_1_get_user.py"
ADD_USER = "04_2_add_user.py"


@pytest.fixture(autouse=True)
def lenient_checks(monkeypatch):
    monkeypatch.delenv("WORKSHOP_STRICT_CHECKS", raising=False)  # a failing check reports, never raises


def wrong(solution: str, replace: str, by: str) -> str:
    """The answer with one typical mistake put in."""
    source = answer(solution)
    assert replace in source, "the answer changed; update this wrong answer"
    return source.replace(replace, by)






# ---------------------------------------------------------------- GetUser

FOUND_OR_NOT = '''        if request.id <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"id must be a positive number; got {request.id}")
        user = self.directory.get(request.id)
        if user is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {request.id}")
        return users_pb2.UserResponse(user=user)'''

ERROR_AS_EMPTY_REPLY = wrong(GET_USER, FOUND_OR_NOT, '''        user = self.directory.get(request.id)
        if user is None:
            return users_pb2.UserResponse()  # the source article's way: OK, and an "error" the caller may miss
        return users_pb2.UserResponse(user=user)''')

NOT_FOUND_FOR_EVERY_MISS = wrong(GET_USER, '''        if request.id <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"id must be a positive number; got {request.id}")
''', "")

NOT_FOUND_WITHOUT_THE_ID = wrong(GET_USER, 'f"no user has id {request.id}"', '"user not found"')

KEY_ERROR = wrong(GET_USER, FOUND_OR_NOT,
                  "        return users_pb2.UserResponse(user=self.directory._users[request.id])")


def test_get_user_skeleton_is_reported_as_not_done(tmp_path):
    result = check(check_get_user, skeleton(GET_USER), tmp_path)
    assert result.passed == 0
    assert all("not done yet" in case.got for case in result.cases)


def test_get_user_answering_ok_with_an_empty_user_fails_the_error_cases(tmp_path):
    result = check(check_get_user, ERROR_AS_EMPTY_REPLY, tmp_path)
    assert failed(result) == {"unknown id 999 → NOT_FOUND, naming the id", "id 0 → INVALID_ARGUMENT",
                              "id -7 → INVALID_ARGUMENT"}
    assert "got OK with an empty reply; expected NOT_FOUND" in repr(result)


def test_get_user_not_found_for_id_zero_fails_the_invalid_argument_cases(tmp_path):
    result = check(check_get_user, NOT_FOUND_FOR_EVERY_MISS, tmp_path)
    assert failed(result) == {"id 0 → INVALID_ARGUMENT", "id -7 → INVALID_ARGUMENT"}
    assert "got NOT_FOUND: no user has id 0; expected INVALID_ARGUMENT" in repr(result)


def test_get_user_not_found_message_must_name_the_id(tmp_path):
    result = check(check_get_user, NOT_FOUND_WITHOUT_THE_ID, tmp_path)
    assert failed(result) == {"unknown id 999 → NOT_FOUND, naming the id"}
    assert "does not say which id" in repr(result)


def test_get_user_exception_in_the_server_is_reported_not_raised(tmp_path):
    result = check(check_get_user, KEY_ERROR, tmp_path)
    assert not result.all_passed
    assert "your server raised an exception (UNKNOWN: Exception calling application" in result[
        "unknown id 999 → NOT_FOUND, naming the id"].got


def test_get_user_answer_passes_every_case(tmp_path):
    result = check(check_get_user, answer(GET_USER), tmp_path)
    assert result.all_passed, repr(result)


def test_get_user_answer_passes_when_given_an_address(tmp_path):
    with server_runner.start(str(write_cell(answer(GET_USER), tmp_path))) as server:
        result = check_get_user(server.address)
    assert result.all_passed, repr(result)


def test_get_user_stopped_server_is_reported_as_not_running(tmp_path):
    server = server_runner.start(str(write_cell(answer(GET_USER), tmp_path)))
    server.stop()
    result = check_get_user(server)
    assert result.passed == 0
    assert all(case.got == "your server is not running" for case in result.cases)


# ---------------------------------------------------------------- AddUser

VALIDATION = '''        problem = problem_with(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
'''

NO_VALIDATION = wrong(ADD_USER, VALIDATION, "")

ALREADY_EXISTS_UNCAUGHT = wrong(ADD_USER, '''        try:
            stored = self.directory.add(request)
        except AlreadyExists as taken:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))
''', '''        stored = self.directory.add(request)
''')

STORES_BEFORE_CHECKING = wrong(ADD_USER, VALIDATION + '''        try:
            stored = self.directory.add(request)
        except AlreadyExists as taken:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))
''', '''        try:
            stored = self.directory.add(request)
        except AlreadyExists as taken:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))
''' + VALIDATION)

REPLIES_WITH_THE_REQUEST = wrong(ADD_USER, "return users_pb2.UserResponse(user=stored)",
                                 "return users_pb2.UserResponse(user=request)")

INVALID_CASES = {"empty nickname → INVALID_ARGUMENT", "mail address without '@' → INVALID_ARGUMENT",
                 "user_type not set → INVALID_ARGUMENT", "negative id → INVALID_ARGUMENT"}


def test_add_user_skeleton_is_reported_as_not_done(tmp_path):
    result = check(check_add_user, skeleton(ADD_USER), tmp_path)
    assert result.passed == 0
    assert all("not done yet" in case.got for case in result.cases)


def test_add_user_without_validation_fails_every_invalid_argument_case(tmp_path):
    result = check(check_add_user, NO_VALIDATION, tmp_path)
    assert INVALID_CASES <= failed(result)
    assert "taken nickname 'alice' → ALREADY_EXISTS" not in failed(result)


def test_add_user_letting_already_exists_escape_fails_the_taken_cases(tmp_path):
    result = check(check_add_user, ALREADY_EXISTS_UNCAUGHT, tmp_path)
    assert failed(result) == {"taken nickname 'alice' → ALREADY_EXISTS", "taken id 1 → ALREADY_EXISTS"}
    assert "your server raised an exception (UNKNOWN" in repr(result)


def test_add_user_storing_before_checking_leaves_a_trace(tmp_path):
    result = check(check_add_user, STORES_BEFORE_CHECKING, tmp_path)
    assert "a refused user is not stored" in failed(result)
    assert not INVALID_CASES & failed(result)  # each refusal alone looks right; only the trace gives it away


def test_add_user_replying_with_the_request_misses_the_new_id(tmp_path):
    result = check(check_add_user, REPLIES_WITH_THE_REQUEST, tmp_path)
    assert failed(result) == {"new user with id 0 → the server picks its id"}


def test_add_user_answer_passes_every_case_and_again_on_the_same_server(tmp_path):
    with server_runner.start(str(write_cell(answer(ADD_USER), tmp_path))) as server:
        first, second = check_add_user(server), check_add_user(server)
    assert first.all_passed, repr(first)
    assert second.all_passed, repr(second)
    assert repr(first) == repr(second)  # stable labels: the stored output does not change between runs
