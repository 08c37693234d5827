"""check_get_users_by_ids (notebook 07) against the shipped skeleton, typical mistakes and the answer."""
from exercises import answer, check_server_cell, failed, reference_with, skeleton, write_cell

import server_runner
from workshop.checkers.bidirectional import check_get_users_by_ids


def check(source, tmp_path):
    return check_server_cell(check_get_users_by_ids, source, tmp_path)


SOLUTION = "07_1_get_users_by_ids.py"
PING_PONG = "id 1 answered before id 2 is sent (ping-pong)"
UNKNOWN_ID = "ids 2, 999, 3 → bob, then NOT_FOUND naming 999"


# The source article's version: correct answers, but only after the client's stream has ended.
COLLECTS_THEN_REPLIES = reference_with('''
    def GetUsersByIds(self, request_iterator, context):
        ids = [request.id for request in request_iterator]
        for user_id in ids:
            user = self.directory.get(user_id)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {user_id}")
            yield users_pb2.UserResponse(user=user)
''')
SKIPS_UNKNOWN_IDS = reference_with('''
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            user = self.directory.get(request.id)
            if user is not None:
                yield users_pb2.UserResponse(user=user)
''')
NOT_FOUND_WITHOUT_THE_ID = reference_with('''
    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:
            user = self.directory.get(request.id)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, "user not found")
            yield users_pb2.UserResponse(user=user)
''')
ANSWERS_EACH_ID_ONCE = reference_with('''
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


def test_shipped_skeleton_is_reported_not_done_yet(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0, result
    assert all("not done yet" in case.got for case in result.cases), result


def test_collect_then_reply_fails_only_the_ping_pong_case_with_a_hint(tmp_path):
    result = check(COLLECTS_THEN_REPLIES, tmp_path)
    assert failed(result) == {PING_PONG}, result
    case = result[PING_PONG]
    assert "no answer to id 1" in case.got and "before sending the next id" in case.got
    assert "do not collect every request before answering" in case.hint


def test_skipping_an_unknown_id_instead_of_not_found_fails(tmp_path):
    result = check(SKIPS_UNKNOWN_IDS, tmp_path)
    assert failed(result) == {UNKNOWN_ID}, result
    assert "got bob, carol and the stream ended OK" in result[UNKNOWN_ID].got


def test_not_found_that_does_not_name_the_id_fails(tmp_path):
    result = check(NOT_FOUND_WITHOUT_THE_ID, tmp_path)
    assert failed(result) == {UNKNOWN_ID}, result
    assert "does not name the id" in result[UNKNOWN_ID].got


def test_answering_a_repeated_id_once_fails(tmp_path):
    result = check(ANSWERS_EACH_ID_ONCE, tmp_path)
    assert failed(result) == {"ids 4, 4 → dave, dave (one answer per request)"}, result


def test_solution_passes_every_case_also_by_address(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        by_handle = check_get_users_by_ids(server)
        by_address = check_get_users_by_ids(server.address)
    assert by_handle.all_passed, by_handle
    assert by_address.all_passed, by_address
    assert "Traceback" not in repr(by_handle)


def test_stopped_server_is_reported_as_not_running(tmp_path):
    server = server_runner.start(str(write_cell(answer(SOLUTION), tmp_path)))
    server.stop()
    result = check_get_users_by_ids(server)
    assert result.passed == 0, result
    assert all(case.got == "your server is not running" for case in result.cases), result
