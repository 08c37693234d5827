"""server_runner: start, readiness, address, logs, stop, failures, orphans and the CLI."""
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time

import grpc
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

import server_runner
from workshop import ROOT
from workshop.protos import users_pb2, users_pb2_grpc

RUNNER = str(ROOT / "server_runner.py")


def get_user(address, user_id=1):
    with grpc.insecure_channel(address) as channel:
        return users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=user_id), timeout=5)


def gone_within(pid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def write_module(folder, name, body):
    path = folder / name
    path.write_text(textwrap.dedent(body))
    return path


def test_start_returns_a_serving_server_on_loopback_with_logs(users_server):
    assert users_server.address.startswith("127.0.0.1:") and users_server.port > 0
    assert get_user(users_server.address).user.nickname == "alice"
    with users_server.channel() as channel:
        request = health_pb2.HealthCheckRequest(service="users.v1.UserManager")
        status = health_pb2_grpc.HealthStub(channel).Check(request, timeout=5)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
    assert "serving users on 127.0.0.1:" in users_server.logs()


def test_stop_ends_the_process_frees_the_port_and_forgets_the_server():
    server = server_runner.start("chat")
    pid, address = server.pid, server.address
    assert any(entry.pid == pid for entry in server_runner.list_servers())
    server.stop()
    assert gone_within(pid, 2)
    assert not server.running
    assert all(entry.pid != pid for entry in server_runner.list_servers())
    with pytest.raises(grpc.RpcError) as refused:
        get_user(address)
    assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "stopped" in server.logs(), "the log stays readable after the server stops"


def test_context_manager_stops_the_server():
    with server_runner.start("users") as server:
        pid = server.pid
    assert gone_within(pid, 2)


def test_channel_of_a_stopped_server_says_it_is_not_running():
    server = server_runner.start("users")
    server.stop()
    with pytest.raises(server_runner.ServerNotRunningError, match="'users' server is not running"):
        server.channel()


def test_calls_to_a_server_that_stopped_name_it_and_say_how_to_start_it():
    server = server_runner.start("users")
    channel = server.channel()
    stub = users_pb2_grpc.UserManagerStub(channel)
    assert stub.GetUser(users_pb2.UserRequest(id=1), timeout=5).user.nickname == "alice"
    server.stop()
    with pytest.raises(grpc.RpcError) as unary:
        stub.GetUser(users_pb2.UserRequest(id=1), timeout=5)
    with pytest.raises(grpc.RpcError) as streaming:
        next(stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=1), timeout=5))
    for error in (unary.value, streaming.value):
        assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert "the 'users' server is not running" in error.details()
        assert "server_runner.start('users')" in error.details()
    channel.close()


def test_two_servers_at_once_get_different_ports():
    with server_runner.start("users") as first, server_runner.start("users") as second:
        assert first.port != second.port
        assert get_user(first.address).user.id == 1 and get_user(second.address).user.id == 1


def test_a_taken_port_is_refused_instead_of_silently_shared(users_server):
    with pytest.raises(server_runner.ServerStartError, match="could not listen"):
        server_runner.start("users", port=users_server.port)


def test_learner_module_by_path_is_served(tmp_path):
    module = write_module(tmp_path, "my_users_server.py", """
        from workshop.protos import users_pb2, users_pb2_grpc

        class Users(users_pb2_grpc.UserManagerServicer):
            def GetUser(self, request, context):
                return users_pb2.UserResponse(user=users_pb2.User(id=request.id, nickname="from my module"))

        def add_to_server(server):
            users_pb2_grpc.add_UserManagerServicer_to_server(Users(), server)
        """)
    with server_runner.start(str(module)) as server:
        assert server.name == "my_users_server"
        assert get_user(server.address, 7).user.nickname == "from my module"


def test_module_that_crashes_at_start_reports_its_error_from_the_log(tmp_path):
    module = write_module(tmp_path, "my_broken_server.py", """
        raise RuntimeError("my server cannot start: the answer is 42")
        """)
    started = time.monotonic()
    with pytest.raises(server_runner.ServerStartError) as raised:
        server_runner.start(str(module), timeout=20)
    assert time.monotonic() - started < 10, "a crash is reported at once, not after the timeout"
    assert "exited during start-up" in str(raised.value)
    assert "the answer is 42" in str(raised.value)


def test_module_that_never_becomes_ready_times_out_with_its_log(tmp_path):
    module = write_module(tmp_path, "my_slow_server.py", """
        import time

        def add_to_server(server):
            print("warming up forever", flush=True)
            time.sleep(3600)
        """)
    with pytest.raises(server_runner.ServerStartError) as raised:
        server_runner.start(str(module), timeout=2)
    message = str(raised.value)
    assert "was not SERVING after 2 s" in message and "warming up forever" in message
    assert not [e for e in server_runner.list_servers() if e.name == "my_slow_server"]


def test_unknown_target_and_missing_module_say_what_to_do(tmp_path):
    with pytest.raises(ValueError, match="use one of 'users', 'chat'"):
        server_runner.start("nope")
    with pytest.raises(FileNotFoundError, match="write it first"):
        server_runner.start(str(tmp_path / "missing.py"))


PARENT = """
import sys, time
import server_runner
server = server_runner.start("users")
print(server.pid, flush=True)
if sys.argv[1] == "exit":
    sys.exit(0)
time.sleep(3600)
"""


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM", "exit"])
def test_server_dies_with_its_parent(how):
    parent = subprocess.Popen([sys.executable, "-c", PARENT, how], stdout=subprocess.PIPE, text=True)
    try:
        child_pid = int(parent.stdout.readline())
        assert psutil.pid_exists(child_pid)
        if how != "exit":
            parent.send_signal(getattr(signal, how))
        parent.wait(timeout=10)
        assert gone_within(child_pid, 2), f"the server outlived its parent ({how})"
    finally:
        parent.kill()
        parent.wait()


def test_cli_list_keeps_its_columns_aligned_for_a_long_name(tmp_path):
    module = tmp_path / "my_server_with_a_rather_long_name.py"
    module.write_text("from workshop.servers.users import add_to_server\n")
    with server_runner.start(str(module)) as server:
        listing = subprocess.run([sys.executable, RUNNER, "list"], capture_output=True, text=True).stdout.splitlines()
    header, row = listing[0], next(line for line in listing if line.startswith(module.stem))
    assert row.index(server.address) == header.index("ADDRESS"), listing
    assert row.index("process") == header.index("STARTED BY"), listing


def test_cli_lists_shows_logs_and_stops_a_server_started_elsewhere():
    server = server_runner.start("chat")
    listing = subprocess.run([sys.executable, RUNNER, "list"], capture_output=True, text=True).stdout
    assert "chat" in listing and server.address in listing
    logs = subprocess.run([sys.executable, RUNNER, "logs", str(server.pid)], capture_output=True, text=True).stdout
    assert "serving chat on" in logs
    stopped = subprocess.run([sys.executable, RUNNER, "stop", str(server.pid)], capture_output=True, text=True)
    assert stopped.returncode == 0 and f"stopped chat (pid {server.pid})" in stopped.stdout
    assert gone_within(server.pid, 5)
    server.stop()


def test_stale_registry_entries_are_dropped_not_shown():
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    entry = {"id": f"ghost-{dead.pid}", "name": "ghost", "target": "x", "address": "127.0.0.1:1",
             "probe": "127.0.0.1:1", "pid": dead.pid, "create_time": time.time(), "parent_pid": None, "log": "",
             "started": 0, "workers": 1, "asyncio": False}
    path = server_runner.state_dir() / "servers" / f"ghost-{dead.pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(entry))
    listing = subprocess.run([sys.executable, RUNNER, "list"], capture_output=True, text=True).stdout
    assert "ghost" not in listing
    assert not path.exists()


def test_cli_serve_runs_in_the_foreground_until_ctrl_c():
    serving = subprocess.Popen([sys.executable, RUNNER, "serve", "users"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        ready = ""
        while "ready at" not in ready:
            ready = serving.stdout.readline()
            assert ready, serving.stderr.read()
        address = ready.split("ready at ")[1].split()[0]
        assert address.startswith("127.0.0.1:")
        assert get_user(address).user.nickname == "alice"
        serving.send_signal(signal.SIGINT)
        assert serving.wait(timeout=10) == 0
        assert serving.stderr.read() == "", "listening on loopback prints no warning"
    finally:
        serving.kill()
        serving.wait()


def test_listening_beyond_loopback_is_explicit_and_warned():
    serving = subprocess.Popen([sys.executable, RUNNER, "room", "--open", "--port", "0"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        output = ""
        while "Ctrl+C closes the room" not in output:
            line = serving.stdout.readline()
            assert line, serving.stderr.read()
            output += line
        assert "Attendees paste this address" in output and 'ChatPane("' in output
        listening = [c for c in psutil.Process(serving.pid).net_connections() if c.status == psutil.CONN_LISTEN]
        assert any(c.laddr.ip in ("0.0.0.0", "::") for c in listening), listening
        serving.send_signal(signal.SIGINT)
        assert serving.wait(timeout=10) == 0
        assert "WARNING: listening on 0.0.0.0" in serving.stderr.read()
    finally:
        serving.kill()
        serving.wait()


def test_default_host_is_loopback_only():
    assert server_runner.DEFAULT_HOST == "127.0.0.1"
    with server_runner.start("users") as server:
        listening = [c for c in psutil.Process(server.pid).net_connections() if c.status == psutil.CONN_LISTEN]
        assert listening and all(c.laddr.ip in ("127.0.0.1", "::ffff:127.0.0.1") for c in listening), listening


KERNEL_LIKE_PARENT = """
import signal, time
import server_runner
signal.signal(signal.SIGINT, lambda *_: None)  # like a Jupyter kernel: SIGINT interrupts, it does not exit
server = server_runner.start("users")
print(server.pid, flush=True)
time.sleep(3600)
"""


def test_interrupting_the_kernel_leaves_its_servers_running():
    """Jupyter interrupts a kernel by signalling its whole process group; servers are not in it."""
    parent = subprocess.Popen([sys.executable, "-c", KERNEL_LIKE_PARENT], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        child_pid = int(parent.stdout.readline())
        os.killpg(parent.pid, signal.SIGINT)
        assert not gone_within(child_pid, 1), "the server stopped when its kernel was interrupted"
        parent.kill()
        parent.wait()
        assert gone_within(child_pid, 2)
    finally:
        parent.kill()
        parent.wait()


def test_learner_module_with_a_dataclass_loads(tmp_path):
    module = write_module(tmp_path, "my_dataclass_server.py", """
        from __future__ import annotations

        from dataclasses import dataclass

        from workshop.protos import users_pb2_grpc


        @dataclass
        class Settings:
            greeting: str = "hello"


        def add_to_server(server):
            Settings()
            users_pb2_grpc.add_UserManagerServicer_to_server(users_pb2_grpc.UserManagerServicer(), server)
        """)
    with server_runner.start(str(module)) as server:
        assert server.running


def test_an_instructor_host_gives_an_address_others_can_dial():
    with pytest.warns(UserWarning, match="listening on 0.0.0.0"):
        server = server_runner.start("users", host="0.0.0.0")
    with server:
        assert not server.address.startswith("0.0.0.0"), server.address
        listening = [c for c in psutil.Process(server.pid).net_connections() if c.status == psutil.CONN_LISTEN]
        assert any(c.laddr.ip in ("0.0.0.0", "::") for c in listening)
        assert get_user(f"127.0.0.1:{server.port}").user.nickname == "alice"


@pytest.mark.parametrize("asyncio", [False, True], ids=["threads", "grpc.aio"])
def test_max_concurrent_rpcs_refuses_the_call_past_the_limit_at_once(tmp_path, asyncio):
    handler = ("    async def GetUser(self, request, context):\n        await _asyncio.sleep(3)\n" if asyncio else
               "    def GetUser(self, request, context):\n        time.sleep(3)\n")
    module = write_module(tmp_path, "limited.py", (
        "import asyncio as _asyncio\nimport time\n\nfrom workshop.protos import users_pb2, users_pb2_grpc\n\n"
        f"ASYNCIO = {asyncio}\nMAX_CONCURRENT_RPCS = 1\n\n\n"
        "class Slow(users_pb2_grpc.UserManagerServicer):\n" + handler +
        "        return users_pb2.UserResponse()\n\n\n"
        "def add_to_server(server):\n    users_pb2_grpc.add_UserManagerServicer_to_server(Slow(), server)\n"))
    with server_runner.start(str(module)) as server, server.channel() as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        calls = [stub.GetUser.future(users_pb2.UserRequest(id=1), timeout=10) for _ in range(2)]
        outcomes = sorted(call.code().name for call in calls)  # waits for both: they overlap in the handler
    assert outcomes == ["OK", "RESOURCE_EXHAUSTED"]


def test_a_max_concurrent_rpcs_that_is_not_a_whole_number_is_refused_with_its_name(tmp_path):
    module = write_module(tmp_path, "bad_limit.py", """
        from workshop.servers.users import add_to_server
        MAX_CONCURRENT_RPCS = "ten"
    """)
    with pytest.raises(server_runner.ServerStartError, match="MAX_CONCURRENT_RPCS must be a whole number"):
        server_runner.start(str(module))


@pytest.mark.parametrize("asyncio", [False, True], ids=["threads", "grpc.aio"])
def test_a_module_s_interceptors_see_every_call_and_may_refuse_it(tmp_path, asyncio):
    base = "grpc.aio.ServerInterceptor" if asyncio else "grpc.ServerInterceptor"
    intercept = ("    async def intercept_service(self, continuation, details):\n"
                 "        handler = await continuation(details)\n" if asyncio else
                 "    def intercept_service(self, continuation, details):\n"
                 "        handler = continuation(details)\n")
    module = write_module(tmp_path, "intercepted.py", (
        "import grpc\nimport grpc.aio\n\nfrom workshop.servers.users import add_to_server\n\n"
        f"ASYNCIO = {asyncio}\n\n\n"
        f"class NoAddUser({base}):\n" + intercept +
        "        if details.method.endswith('/AddUser'):\n" + (
            "            async def refuse(request, context):\n"
            "                await context.abort(grpc.StatusCode.PERMISSION_DENIED, 'no AddUser here')\n"
            if asyncio else
            "            def refuse(request, context):\n"
            "                context.abort(grpc.StatusCode.PERMISSION_DENIED, 'no AddUser here')\n") +
        "            return grpc.unary_unary_rpc_method_handler(refuse)\n"
        "        return handler\n\n\nINTERCEPTORS = [NoAddUser()]\n"))
    with server_runner.start(str(module)) as server, server.channel() as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        assert stub.GetUser(users_pb2.UserRequest(id=1), timeout=5).user.nickname == "alice"
        with pytest.raises(grpc.RpcError) as refused:
            stub.AddUser(users_pb2.User(id=77, nickname="x", mail_address="x@example.com", user_type=1), timeout=5)
    assert (refused.value.code(), refused.value.details()) == (grpc.StatusCode.PERMISSION_DENIED, "no AddUser here")


def test_an_interceptor_that_refuses_health_checks_fails_the_start_at_once_and_says_why(tmp_path):
    module = write_module(tmp_path, "refuses_all.py", """
        import grpc
        from workshop.servers.users import add_to_server

        class RefusesAll(grpc.ServerInterceptor):
            def intercept_service(self, continuation, details):
                def refuse(request, context):
                    context.abort(grpc.StatusCode.INVALID_ARGUMENT, "x-request-id is missing")
                return grpc.unary_unary_rpc_method_handler(refuse)

        INTERCEPTORS = [RefusesAll()]
    """)
    started = time.monotonic()
    with pytest.raises(server_runner.ServerStartError, match="refused its health check: INVALID_ARGUMENT") as failed:
        server_runner.start(str(module), timeout=20)
    assert time.monotonic() - started < 10, "it waited for the whole start timeout"
    assert "grpc.health.v1.Health" in str(failed.value)


def test_a_module_s_options_reach_its_server(tmp_path):
    module = write_module(tmp_path, "small_messages.py", """
        from workshop.servers.users import add_to_server
        OPTIONS = [("grpc.max_receive_message_length", 100)]
    """)
    with server_runner.start(str(module)) as server, server.channel() as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        assert stub.GetUser(users_pb2.UserRequest(id=1), timeout=5).user.nickname == "alice"
        with pytest.raises(grpc.RpcError) as refused:
            stub.AddUser(users_pb2.User(id=78, nickname="n" * 200, mail_address="n@example.com", user_type=1),
                         timeout=5)
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


@pytest.mark.parametrize("setting, value, words", [
    ("INTERCEPTORS", "[print]", "INTERCEPTORS must be a list of grpc.ServerInterceptor"),
    ("OPTIONS", '["grpc.max_receive_message_length"]', "OPTIONS must be a list of (name, value) pairs"),
    ("OPTIONS", '[("grpc.so_reuseport", 1)]', "may not set grpc.so_reuseport"),
])
def test_a_wrong_interceptors_or_options_setting_is_refused_with_its_name(tmp_path, setting, value, words):
    module = write_module(tmp_path, "bad_setting.py", f"""
        from workshop.servers.users import add_to_server
        {setting} = {value}
    """)
    with pytest.raises(server_runner.ServerStartError, match=re.escape(words)):
        server_runner.start(str(module))


def test_an_async_intercept_service_on_a_thread_pool_server_is_refused_with_what_to_write(tmp_path):
    module = write_module(tmp_path, "async_interceptor.py", """
        import grpc
        from workshop.servers.users import add_to_server

        class Waits(grpc.ServerInterceptor):
            async def intercept_service(self, continuation, details):
                return continuation(details)

        INTERCEPTORS = [Waits()]
    """)
    started = time.monotonic()
    with pytest.raises(server_runner.ServerStartError, match="Waits.intercept_service is an async def"):
        server_runner.start(str(module))
    assert time.monotonic() - started < 10, "it waited for the whole start timeout"
