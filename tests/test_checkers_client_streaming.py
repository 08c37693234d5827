"""check_count_already_users (notebook 06) against the shipped skeleton, typical mistakes and the answer."""
from exercises import answer, check_server_cell, failed, reference_with, skeleton, write_cell

import server_runner
from workshop.checkers.client_streaming import check_count_already_users


def check(source, tmp_path):
    return check_server_cell(check_count_already_users, source, tmp_path)


SOLUTION = "06_1_count_already_users.py"


COUNTS_REPEATS = reference_with('''
    def CountAlreadyUsers(self, request_iterator, context):
        count = sum(1 for request in request_iterator if self.directory.get(request.id))
        return users_pb2.UserCountResponse(count=count)
''')
COUNTS_UNKNOWN_IDS = reference_with('''
    def CountAlreadyUsers(self, request_iterator, context):
        return users_pb2.UserCountResponse(count=len({request.id for request in request_iterator}))
''')
ABORTS_ON_UNKNOWN_ID = reference_with('''
    def CountAlreadyUsers(self, request_iterator, context):
        found = set()
        for request in request_iterator:
            if self.directory.get(request.id) is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {request.id}")
            found.add(request.id)
        return users_pb2.UserCountResponse(count=len(found))
''')
READS_ONLY_THE_FIRST_ID = reference_with('''
    def CountAlreadyUsers(self, request_iterator, context):
        request = next(request_iterator)
        return users_pb2.UserCountResponse(count=1 if self.directory.get(request.id) else 0)
''')


def test_shipped_skeleton_is_reported_not_done_yet(tmp_path):
    result = check(skeleton(SOLUTION), tmp_path)
    assert result.passed == 0, result
    assert all("not done yet" in case.got for case in result.cases), result


def test_counting_a_repeated_id_twice_fails_the_distinct_case(tmp_path):
    result = check(COUNTS_REPEATS, tmp_path)
    assert failed(result) == {"ids 1, 1, 2, 1 → 2 (each user counted once)"}, result
    assert "got count=4; expected 2" in result["ids 1, 1, 2, 1 → 2 (each user counted once)"].got
    assert "set" in result["ids 1, 1, 2, 1 → 2 (each user counted once)"].hint


def test_counting_unknown_ids_fails_with_a_hint_about_existing_users(tmp_path):
    result = check(COUNTS_UNKNOWN_IDS, tmp_path)
    case = result["ids 1, 999, 2 → 2 (nobody has id 999)"]
    assert not case.passed and "got count=3; expected 2" in case.got, result
    assert not result.all_passed


def test_aborting_at_an_unknown_id_is_reported_as_the_wrong_status(tmp_path):
    result = check(ABORTS_ON_UNKNOWN_ID, tmp_path)
    case = result["ids 1, 999, 2 → 2 (nobody has id 999)"]
    assert not case.passed and "NOT_FOUND" in case.got, result
    assert "skip them instead of aborting" in case.hint


def test_answering_after_the_first_id_fails_the_waiting_case(tmp_path):
    result = check(READS_ONLY_THE_FIRST_ID, tmp_path)
    case = result["ids 5, then 6 after a pause → 2 (the answer waits for the last id)"]
    assert not case.passed and "got count=1; expected 2" in case.got, result


def test_solution_passes_every_case_also_by_address(tmp_path):
    with server_runner.start(str(write_cell(answer(SOLUTION), tmp_path))) as server:
        by_handle = check_count_already_users(server)
        by_address = check_count_already_users(server.address)
    assert by_handle.all_passed, by_handle
    assert by_address.all_passed, by_address
    assert "Traceback" not in repr(by_handle)


def test_stopped_server_is_reported_as_not_running(tmp_path):
    server = server_runner.start(str(write_cell(answer(SOLUTION), tmp_path)))
    server.stop()
    result = check_count_already_users(server)
    assert result.passed == 0, result
    assert all(case.got == "your server is not running" for case in result.cases), result
