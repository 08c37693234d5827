"""check_get_users_by_ids (notebook 07) against the shipped skeleton, typical mistakes and the answer."""
import textwrap

import pytest

import server_runner
from exercises import answer, skeleton, write_cell
from workshop.checkers.bidirectional import check_get_users_by_ids

SOLUTION = "07_1_get_users_by_ids.py"
PING_PONG = "id 1 answered before id 2 is sent (ping-pong)"
UNKNOWN_ID = "ids 2, 999, 3 → bob, then NOT_FOUND naming 999"

MODULE = '''
import grpc

from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers.users import UserDirectory, UserManager


class MyUserManager(UserManager):
{method}


def add_to_server(server):
    users_pb2_grpc.add_UserManagerServicer_to_server(MyUserManager(UserDirectory()), server)
'''


def module_with(method: str) -> str:
    return MODULE.format(method=textwrap.indent(textwrap.dedent(method), "    "))


# The source article's version: correct answers, but only after the client's stream has ended.
COLLECTS_THEN_REPLIES = module_with('''
    def GetUsersByIds(self, request_iterator, context):
        ids = [request.id for request in request_iterator]
        for user_id in ids:
            user = self.directory.get(user_id)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {user_id}")
            yield users_pb2.UserResponse(user=user)
''')
SKIPS_UNKNOWN_IDS = module_with('''
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            user = self.directory.get(request.id)
            if user is not None:
                yield users_pb2.UserResponse(user=user)
''')
NOT_FOUND_WITHOUT_THE_ID = module_with('''
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            user = self.directory.get(request.id)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "user not found")
            yield users_pb2.UserResponse(user=user)
''')
ANSWERS_EACH_ID_ONCE = module_with('''
    def GetUsersByIds(self, request_iterator, context):
        seen = set()
        for request in request_iterator:
            if request.id in seen:
                continue
            seen.add(request.id)
            user = self.directory.get(request.id)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {request.id}")
            yield users_pb2.UserResponse(user=user)
''')


@pytest.fixture(autouse=True)
def not_strict(monkeypatch):
    monkeypatch.delenv("WORKSHOP_STRICT_CHECKS", raising=False)


def check(source, tmp_path):
    with server_runner.start(str(write_cell(source, tmp_path))) as server:
        return check_get_users_by_ids(server)


def failed(result) -> list[str]:
    return [case.label for case in result.cases if not case.passed]


def test_shipped_skeleton_is_reported_not_done_yet(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0, result
    assert all("not done yet" in case.got for case in result.cases), result


def test_collect_then_reply_fails_only_the_ping_pong_case_with_a_hint(tmp_path):
    result = check(COLLECTS_THEN_REPLIES, tmp_path)
    assert failed(result) == [PING_PONG], result
    case = result[PING_PONG]
    assert "no answer to id 1" in case.got and "before sending the next id" in case.got
    assert "do not collect every request before answering" in case.hint


def test_skipping_an_unknown_id_instead_of_not_found_fails(tmp_path):
    result = check(SKIPS_UNKNOWN_IDS, tmp_path)
    assert failed(result) == [UNKNOWN_ID], result
    assert "got bob, carol and the stream ended OK" in result[UNKNOWN_ID].got


def test_not_found_that_does_not_name_the_id_fails(tmp_path):
    result = check(NOT_FOUND_WITHOUT_THE_ID, tmp_path)
    assert failed(result) == [UNKNOWN_ID], result
    assert "does not name the id" in result[UNKNOWN_ID].got


def test_answering_a_repeated_id_once_fails(tmp_path):
    result = check(ANSWERS_EACH_ID_ONCE, tmp_path)
    assert failed(result) == ["ids 4, 4 → dave, dave (one answer per request)"], result


def test_solution_passes_every_case_also_by_address(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        by_handle = check_get_users_by_ids(server)
        by_address = check_get_users_by_ids(server.address)
    assert by_handle.all_passed, by_handle
    assert by_address.all_passed, by_address
    assert "Traceback" not in repr(by_handle)
