"""server_runner serves grpclib modules as it serves grpcio's: grpcio clients call them in all four
modes, the kit's checkers judge them, and a frozen event loop or a killed parent leaves nothing behind."""
import grpc
import pytest
from test_runner_shutdown import FROZEN_GRPCLIB, freeze_event_loop, kill_if_alive
from test_server_runner import gone_within, write_module

import server_runner
from workshop.checkers.bidirectional import check_get_users_by_ids
from workshop.protos import users_pb2, users_pb2_grpc


@pytest.fixture(scope="module")
def grpclib_users():
    with server_runner.start("users_grpclib") as server:
        yield server


def test_a_grpcio_stub_calls_the_grpclib_server_in_all_four_modes(grpclib_users):
    with grpc.insecure_channel(grpclib_users.address) as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        assert stub.GetUser(users_pb2.UserRequest(id=1), timeout=5).user.nickname == "alice"
        counted = stub.CountAlreadyUsers(iter([users_pb2.UserRequest(id=i) for i in (1, 2, 2, 404)]), timeout=5)
        assert counted.count == 2
        normal = [reply.user.id for reply in stub.GetUsersByType(
            users_pb2.UserTypeRequest(user_type=users_pb2.USER_TYPE_NORMAL), timeout=5)]
        assert normal == sorted(normal) and normal
        by_ids = [reply.user.nickname for reply in stub.GetUsersByIds(
            iter([users_pb2.UserRequest(id=i) for i in (2, 1)]), timeout=5)]
        assert by_ids[1] == "alice" and len(by_ids) == 2


def test_the_grpclib_server_answers_errors_with_the_kits_codes_and_words(grpclib_users):
    with grpc.insecure_channel(grpclib_users.address) as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        with pytest.raises(grpc.RpcError) as missing:
            stub.GetUser(users_pb2.UserRequest(id=999), timeout=5)
        with pytest.raises(grpc.RpcError) as wrong:
            stub.GetUser(users_pb2.UserRequest(id=0), timeout=5)
    assert (missing.value.code(), missing.value.details()) == (grpc.StatusCode.NOT_FOUND, "no user has id 999")
    assert wrong.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "positive" in wrong.value.details()


def test_the_kits_checker_judges_a_grpclib_module_as_it_judges_a_grpcio_one(tmp_path):
    module = tmp_path / "my_grpclib_users.py"
    module.write_text("from workshop.servers.users_grpclib import GRPCLIB, add_to_server  # noqa: F401\n")
    with server_runner.start(str(module)) as server:
        result = check_get_users_by_ids(server)  # fresh seeded copies of the module, served by grpclib
    assert result.all_passed, repr(result)


def test_a_module_that_adds_something_else_is_told_what_to_add(tmp_path):
    module = write_module(tmp_path, "my_not_a_servicer.py", """
        GRPCLIB = True


        def add_to_server(server):
            server.add(object())
        """)
    with pytest.raises(server_runner.ServerStartError) as refused:
        server_runner.start(str(module))
    assert "is not a grpclib servicer" in str(refused.value) and "UserManagerBase" in str(refused.value)


def test_stop_ends_a_grpclib_server_whose_event_loop_is_frozen(tmp_path):
    module = write_module(tmp_path, "my_frozen_grpclib.py", FROZEN_GRPCLIB)
    server = server_runner.start(str(module))
    try:
        freeze_event_loop(server.address, lambda: server.logs(80))
        server.stop()
        assert gone_within(server.pid, 1), "stop() returned but the frozen grpclib server still runs"
    finally:
        kill_if_alive(server.pid)


@pytest.mark.parametrize("setting", ["INTERCEPTORS = []", "OPTIONS = []"])
def test_grpcio_only_settings_on_a_grpclib_module_are_refused_with_what_grpclib_has(tmp_path, setting):
    module = write_module(tmp_path, "grpclib_with_settings.py", f"""
        from workshop.servers.users_grpclib import GRPCLIB, add_to_server  # noqa: F401
        {setting}
    """)
    with pytest.raises(server_runner.ServerStartError, match="grpclib has no server interceptors"):
        server_runner.start(str(module))
