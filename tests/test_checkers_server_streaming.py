"""check_get_users_by_type fails the shipped skeleton and typical wrong servers, and passes the answer."""
import pytest
from exercises import answer, check_server_cell, failed, skeleton, write_cell

import server_runner
from workshop.checkers.server_streaming import check_get_users_by_type


def check(source, tmp_path):
    return check_server_cell(check_get_users_by_type, source, tmp_path)


SOLUTION = "05_1_get_users_by_type.py"


@pytest.fixture(autouse=True)
def lenient_checks(monkeypatch):
    monkeypatch.delenv("WORKSHOP_STRICT_CHECKS", raising=False)  # a failing check reports, never raises


def wrong(replace: str, by: str) -> str:
    """The answer with one typical mistake put in."""
    source = answer(SOLUTION)
    assert replace in source, "the answer changed; update this wrong answer"
    return source.replace(replace, by)





EVERY_USER = wrong("if user.user_type == request.user_type]", "]")

UNSORTED = wrong("for user in sorted(matches, key=lambda user: user.id):", "for user in matches:")

UNSPECIFIED_ALLOWED = wrong('''        if request.user_type == users_pb2.USER_TYPE_UNSPECIFIED:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "user_type is not set; choose which type to list")
''', "")

YIELDS_USERS = wrong("            yield users_pb2.UserResponse(user=user)\n", "            yield user\n")


def test_skeleton_is_reported_as_not_done(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0
    assert all("not done yet" in case.got for case in result.cases)


def test_streaming_every_user_fails_the_type_cases(tmp_path):
    result = check(EVERY_USER, tmp_path)
    assert {"NORMAL → bob, carol, erin", "ADMINISTRATOR → alice"} <= failed(result)
    assert "alice came too, and is USER_TYPE_ADMINISTRATOR" in repr(result)


def test_streaming_in_insertion_order_fails_the_order_case(tmp_path):
    result = check(UNSORTED, tmp_path)
    assert failed(result) == {"users added later are in id order too"}
    assert "sorted(users, key=lambda user: user.id)" in repr(result)


def test_unspecified_type_must_be_invalid_argument(tmp_path):
    result = check(UNSPECIFIED_ALLOWED, tmp_path)
    assert failed(result) == {"UNSPECIFIED → INVALID_ARGUMENT"}
    assert "expected INVALID_ARGUMENT" in repr(result)


def test_yielding_users_instead_of_responses_is_reported(tmp_path):
    result = check(YIELDS_USERS, tmp_path)
    assert {"NORMAL → bob, carol, erin", "ADMINISTRATOR → alice"} <= failed(result)
    assert "a message came with no user in it" in repr(result)


def test_answer_passes_every_case_and_again_on_the_same_server(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        first, second = check_get_users_by_type(server), check_get_users_by_type(server)
    assert first.all_passed, repr(first)
    assert second.all_passed, repr(second)
    assert repr(first) == repr(second)


def test_answer_passes_when_given_an_address(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        result = check_get_users_by_type(server.address)
    assert result.all_passed, repr(result)
