"""Bounded shutdown: a server goes away when asked or when its parent dies, whatever the learner's code does.

Each module below misbehaves the way learners' modules do in the wild: an `async def` handler that
calls `time.sleep` (the event loop freezes), a module that waits forever at import, a module
pasted from a tutorial that serves by itself when imported. None of them may outlive its parent
or make `stop` lie.
"""
import contextlib
import subprocess
import sys
import time

import grpc
import psutil
import pytest
from test_server_runner import RUNNER, gone_within, write_module

import server_runner
from workshop import ROOT
from workshop.protos import users_pb2, users_pb2_grpc

FROZEN_LOOP = """
    import time

    from workshop.protos import users_pb2, users_pb2_grpc

    ASYNCIO = True


    class Users(users_pb2_grpc.UserManagerServicer):
        async def GetUser(self, request, context):
            print("handler is sleeping", flush=True)
            time.sleep(45)  # not asyncio.sleep: the whole event loop stops here
            return users_pb2.UserResponse()


    def add_to_server(server):
        users_pb2_grpc.add_UserManagerServicer_to_server(Users(), server)
    """

# The same freeze in a grpclib module (server_runner serves those too).
FROZEN_GRPCLIB = """
    import time

    from grpclib import GRPCError
    from grpclib.const import Status

    from workshop.protos import users_grpc

    GRPCLIB = True


    class Users(users_grpc.UserManagerBase):
        async def GetUser(self, stream):
            print("handler is sleeping", flush=True)
            time.sleep(45)  # not asyncio.sleep: the whole event loop stops here

        async def AddUser(self, stream):
            raise GRPCError(Status.UNIMPLEMENTED)

        CountAlreadyUsers = GetUsersByType = GetUsersByIds = AddUser


    def add_to_server(server):
        server.add(Users())
    """

SLOW_HANDLER = """
    import time

    from workshop.protos import users_pb2, users_pb2_grpc


    class Users(users_pb2_grpc.UserManagerServicer):
        def GetUser(self, request, context):
            print("call started", flush=True)
            time.sleep(1.5)
            return users_pb2.UserResponse(user=users_pb2.User(id=request.id, nickname="finished"))


    def add_to_server(server):
        users_pb2_grpc.add_UserManagerServicer_to_server(Users(), server)
    """

HANGING_IMPORT = """
    import time

    print("importing: about to wait", flush=True)
    time.sleep(60)


    def add_to_server(server):
        pass
    """

# What the popular tutorials write: the module serves by itself as soon as it is imported.
TUTORIAL_THREADED = """
    from concurrent import futures

    import grpc

    from workshop.protos import users_pb2_grpc


    def serve():
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=10))
        users_pb2_grpc.add_UserManagerServicer_to_server(users_pb2_grpc.UserManagerServicer(), server)
        server.add_insecure_port("[::]:0")  # the tutorials say [::]:50051; any port shows the trouble
        server.start()
        print("Server started", flush=True)
        server.wait_for_termination()


    serve()
    """

TUTORIAL_ASYNCIO = """
    import asyncio

    import grpc

    from workshop.protos import users_pb2_grpc


    async def serve():
        server = grpc.aio.server()
        users_pb2_grpc.add_UserManagerServicer_to_server(users_pb2_grpc.UserManagerServicer(), server)
        server.add_insecure_port("[::]:0")
        await server.start()
        print("Server started", flush=True)
        await server.wait_for_termination()


    asyncio.run(serve())
    """

PARENT = """
import sys, time
import server_runner
server = server_runner.start(sys.argv[1], timeout=60)
print(server.pid, server.address, server.log_path, flush=True)
time.sleep(3600)
"""


def log_says(read_log, text, seconds=10):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if text in read_log():
            return True
        time.sleep(0.05)
    return False


def freeze_event_loop(address, read_log):
    """One call into the sleeping handler: from then on the server's event loop runs nothing."""
    with grpc.insecure_channel(address) as channel:
        with pytest.raises(grpc.RpcError):
            users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=0.5)
    assert log_says(read_log, "handler is sleeping"), read_log()


def live_children_running(name):
    found = []
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if child.status() != psutil.STATUS_ZOMBIE and name in " ".join(child.cmdline()):
                found.append(child)
    return found


def kill_if_alive(pid):
    with contextlib.suppress(psutil.Error):
        psutil.Process(pid).kill()


@contextlib.contextmanager
def parent_process(*args):
    """A Python process that starts servers the way a kernel does; killed (and its server) at the end."""
    parent = subprocess.Popen([sys.executable, "-c", PARENT, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        yield parent
    finally:
        children = []
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(parent.pid).children(recursive=True)
        parent.kill()
        parent.wait()
        for child in children:
            kill_if_alive(child.pid)


def server_child_of(parent, seconds=10):
    """The server process a parent is starting (it has not registered yet: it is still importing)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for child in psutil.Process(parent.pid).children():
            with contextlib.suppress(psutil.Error):
                if "_child" in child.cmdline():
                    return child
        time.sleep(0.05)
    raise AssertionError("the parent started no server process")


@pytest.mark.parametrize("frozen", [FROZEN_LOOP, FROZEN_GRPCLIB], ids=["grpc.aio", "grpclib"])
def test_parent_sigkill_takes_down_a_server_whose_event_loop_is_frozen(tmp_path, frozen):
    module = write_module(tmp_path, "my_frozen_server.py", frozen)
    with parent_process(module) as parent:
        pid, address, log = parent.stdout.readline().split()
        pid = int(pid)
        try:
            freeze_event_loop(address, lambda: open(log).read())
            parent.kill()
            parent.wait()
            assert gone_within(pid, 5), "a frozen event loop kept the server alive after its parent died"
        finally:
            kill_if_alive(pid)


def test_parent_sigkill_during_an_import_that_hangs_takes_the_server_down(tmp_path):
    module = write_module(tmp_path, "my_hanging_server.py", HANGING_IMPORT)
    with parent_process(module) as parent:
        child = server_child_of(parent)
        try:
            log = child.cmdline()[child.cmdline().index("--log") + 1]
            assert log_says(lambda: open(log).read(), "about to wait")
            parent.kill()
            parent.wait()
            assert gone_within(child.pid, 5), "a module stuck at import kept the server alive after its parent died"
        finally:
            kill_if_alive(child.pid)


def test_start_timeout_is_the_whole_budget_even_when_the_import_hangs(tmp_path):
    module = write_module(tmp_path, "my_hanging_server.py", HANGING_IMPORT)
    started = time.monotonic()
    with pytest.raises(server_runner.ServerStartError) as raised:
        server_runner.start(str(module), timeout=2)
    took = time.monotonic() - started
    assert took < 2.8, f"start(timeout=2) took {took:.1f} s"
    assert "about to wait" in str(raised.value), "the log's tail shows where it got stuck"
    assert not live_children_running("my_hanging_server"), "the server that never got ready was left running"


@pytest.mark.parametrize("tutorial", [TUTORIAL_THREADED, TUTORIAL_ASYNCIO], ids=["grpc.server", "grpc.aio.server"])
def test_a_module_that_serves_by_itself_at_import_is_refused_with_what_to_change(tmp_path, tutorial):
    module = write_module(tmp_path, "my_tutorial_server.py", tutorial)
    started = time.monotonic()
    with pytest.raises(server_runner.ServerStartError) as raised:
        server_runner.start(str(module), timeout=10)
    assert time.monotonic() - started < 5, "refused at once, not after the timeout"
    message = str(raised.value)
    assert 'if __name__ == "__main__":' in message and "add_to_server(server)" in message, message
    assert "Server started" not in message, "it never started its own server"


def test_cli_stop_waits_for_the_server_and_says_it_had_to_kill_it(tmp_path):
    module = write_module(tmp_path, "my_frozen_server.py", FROZEN_LOOP)
    server = server_runner.start(str(module))
    try:
        freeze_event_loop(server.address, server.logs)
        started = time.monotonic()
        stopped = subprocess.run([sys.executable, RUNNER, "stop", "my_frozen_server"], capture_output=True,
                                 text=True, timeout=30)
        took = time.monotonic() - started
        assert not server.running, "stop returned while the server still ran"
        assert "did not stop within" in stopped.stdout and "killed" in stopped.stdout, stopped.stdout
        assert f"stopped my_frozen_server (pid {server.pid})" not in stopped.stdout
        assert took < 8, f"stop took {took:.1f} s"
    finally:
        server.stop(grace=0)


def test_stop_of_a_server_whose_event_loop_is_frozen_is_bounded(tmp_path):
    module = write_module(tmp_path, "my_frozen_server.py", FROZEN_LOOP)
    server = server_runner.start(str(module))
    freeze_event_loop(server.address, server.logs)
    started = time.monotonic()
    server.stop(grace=0.2)
    took = time.monotonic() - started
    assert not server.running and gone_within(server.pid, 1)
    assert took < 3, f"stop(grace=0.2) took {took:.1f} s"
    assert "did not stop within" in server.logs(), server.logs()


def test_stop_gives_calls_in_flight_the_grace_asked_for(tmp_path):
    module = write_module(tmp_path, "my_slow_server.py", SLOW_HANDLER)
    server = server_runner.start(str(module))
    with grpc.insecure_channel(server.address) as channel:
        call = users_pb2_grpc.UserManagerStub(channel).GetUser.future(users_pb2.UserRequest(id=3), timeout=10)
        assert log_says(server.logs, "call started")
        server.stop(grace=5)
        assert call.result().user.nickname == "finished", "the call in flight was cut short"
    assert gone_within(server.pid, 1)


def test_stop_with_a_short_grace_cuts_calls_in_flight_short(tmp_path):
    module = write_module(tmp_path, "my_slow_server.py", SLOW_HANDLER)
    server = server_runner.start(str(module))
    with grpc.insecure_channel(server.address) as channel:
        call = users_pb2_grpc.UserManagerStub(channel).GetUser.future(users_pb2.UserRequest(id=3), timeout=10)
        assert log_says(server.logs, "call started")
        started = time.monotonic()
        server.stop(grace=0.1)
        assert time.monotonic() - started < 1.2
        with pytest.raises(grpc.RpcError):
            call.result()
