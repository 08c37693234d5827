"""The support every checker stands on: what a ✗ says when the learner's server raises."""
import textwrap
import time

import grpc
import pytest

import server_runner
from workshop.checkers.unary import check_get_user
from workshop.protos import users_pb2, users_pb2_grpc

RAISES = textwrap.dedent('''
    from workshop.servers import users


    class UserManager(users.UserManager):
        def GetUser(self, request, context):
            return {}["no such key"]


    def add_to_server(server):
        users.add_to_server(server, UserManager)
''')


def test_an_exception_in_a_handler_lands_in_the_server_log_with_its_line(tmp_path):
    module = tmp_path / "my_raising.py"
    module.write_text(RAISES)
    with server_runner.start(str(module)) as server, server.channel() as channel:
        with pytest.raises(grpc.RpcError):
            users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=5)
        for _ in range(50):  # the log is written as the server goes on
            log = server.logs(80)
            if "KeyError" in log:
                break
            time.sleep(0.1)
    assert "KeyError: 'no such key'" in log and 'my_raising.py", line 7, in GetUser' in log


@pytest.mark.parametrize("given", ["the server", "its address"])
def test_a_checker_names_the_exception_the_server_raised_and_where(tmp_path, given):
    module = tmp_path / "my_raising.py"
    module.write_text(RAISES)
    with server_runner.start(str(module)) as server:
        result = check_get_user(server if given == "the server" else server.address)  # the registry has its log
    found = result.cases[0]
    assert not found.passed
    assert found.got == "your server raised KeyError: 'no such key' (my_raising.py, line 7, in GetUser)"
    assert "Traceback" not in repr(result)


@pytest.mark.parametrize(("late_hint", "hint"), [
    (lambda: "each Post is slow", "each Post is slow"),
    (lambda: None, "something never returns"),  # the case knows of nothing: the plain words
])
def test_a_case_past_its_deadline_is_told_why_if_it_can_say(late_hint, hint):
    from workshop.checkers.support import run_checks

    def slow():
        time.sleep(1.0)

    slow.late_hint = late_hint
    result = run_checks("a case that runs late", [("takes its time", slow)], deadline=0.1)
    assert not result.all_passed
    assert result["takes its time"].got == "no answer within 0.1 s"
    assert result["takes its time"].hint.startswith(hint)
