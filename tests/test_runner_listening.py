"""No silent listener: the runner binds the one port, on loopback unless an instructor names another host."""
import subprocess
import sys
import warnings

import psutil
import pytest
from test_server_runner import RUNNER, get_user, write_module

import server_runner

PORT_IN_ADD_TO_SERVER = """
    from workshop.protos import users_pb2_grpc

    ASYNCIO = {asyncio}


    def add_to_server(server):
        users_pb2_grpc.add_UserManagerServicer_to_server(users_pb2_grpc.UserManagerServicer(), server)
        server.add_insecure_port("[::]:0")  # as tutorials do; the runner binds the port itself
    """


def listening(pid):
    return [c.laddr for c in psutil.Process(pid).net_connections() if c.status == psutil.CONN_LISTEN]


@pytest.mark.parametrize("asyncio", [False, True], ids=["grpc.server", "grpc.aio"])
def test_a_port_added_by_the_module_itself_is_refused_and_logged(tmp_path, asyncio):
    module = write_module(tmp_path, "my_port_server.py", PORT_IN_ADD_TO_SERVER.format(asyncio=asyncio))
    with pytest.raises(server_runner.ServerStartError) as raised:
        server_runner.start(str(module), timeout=10)
    message = str(raised.value)
    assert "add_insecure_port" in message and "server_runner binds the port" in message, message
    assert "port=" in message, "it says how to choose a port instead"


def test_a_host_beyond_loopback_from_python_warns_in_the_notebook_and_the_log():
    with pytest.warns(UserWarning, match="listening on 0.0.0.0, not only on this machine"):
        server = server_runner.start("users", host="0.0.0.0")
    with server:
        assert "WARNING: listening on 0.0.0.0" in server.logs()
        assert get_user(f"127.0.0.1:{server.port}").user.nickname == "alice"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]"])
def test_loopback_hosts_are_served_without_a_warning(host):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        server = server_runner.start("users", host=host)
    with server:
        assert get_user(server.address).user.nickname == "alice", server.address
        bound = listening(server.pid)
        assert bound and all(address.ip in ("127.0.0.1", "::1", "::ffff:127.0.0.1") for address in bound), bound
        assert "WARNING" not in server.logs()


def test_an_ipv6_loopback_host_gets_a_bracketed_address():
    with server_runner.start("users", host="::1") as server:
        assert server.address.startswith("[::1]:"), server.address


@pytest.mark.parametrize("port", [70000, 65536, -1])
def test_ports_outside_0_to_65535_are_refused_before_anything_starts(port):
    with pytest.raises(ValueError, match="from 0 to 65535"):
        server_runner.start("users", port=port)


@pytest.mark.parametrize("command", ["serve", "room"])
def test_the_cli_refuses_ports_outside_0_to_65535(command):
    args = [sys.executable, RUNNER, command, *(["users"] if command == "serve" else []), "--port", "70000"]
    refused = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "from 0 to 65535" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr

