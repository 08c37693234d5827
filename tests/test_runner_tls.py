"""server_runner serves a module over TLS when it sets SERVER_CREDENTIALS and ROOT_CERTIFICATES: the
readiness probe and server.channel() trust its authority, and a plain client is turned away.

The certificates come from workshop.tls, a throwaway authority, in a temporary folder."""
import textwrap

import grpc
import pytest

import server_runner
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.tls import Authority

MODULE = textwrap.dedent('''
    """The kit's users service, over TLS, with the key and certificates of the folder TLS_FOLDER names."""
    import os
    from pathlib import Path

    import grpc

    from workshop.servers import users

    {asyncio}FOLDER = Path(os.environ["TLS_FOLDER"])
    SERVER_CREDENTIALS = grpc.ssl_server_credentials([((FOLDER / "server.key").read_bytes(),
                                                       (FOLDER / "server.pem").read_bytes())])
    ROOT_CERTIFICATES = (FOLDER / "ca.pem").read_bytes()


    def add_to_server(server):
        users.add_to_server(server)
''')


@pytest.fixture(scope="module")
def authority():
    return Authority.create()


@pytest.fixture
def tls_folder(tmp_path, authority):
    key, certificate = authority.issue("users server")
    (tmp_path / "server.key").write_bytes(key)
    (tmp_path / "server.pem").write_bytes(certificate)
    (tmp_path / "ca.pem").write_bytes(authority.pem)
    return tmp_path


@pytest.mark.parametrize("asyncio", [False, True], ids=["grpcio threads", "grpc.aio"])
def test_a_module_with_credentials_is_served_over_tls_only(tmp_path, tls_folder, authority, asyncio):
    module = tmp_path / "my_tls_users.py"
    module.write_text(MODULE.format(asyncio="ASYNCIO = True\n" if asyncio else ""))
    with server_runner.start(str(module), env={"TLS_FOLDER": str(tls_folder)}) as server:  # its probe: over TLS
        with server.channel() as channel:
            reply = users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=5)
        assert reply.user.nickname == "alice"
        with grpc.secure_channel(server.address, grpc.ssl_channel_credentials(authority.pem)) as channel:
            assert users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1),
                                                                   timeout=5).user.nickname == "alice"
        with grpc.insecure_channel(server.address) as plain, pytest.raises(grpc.RpcError) as refused:
            users_pb2_grpc.UserManagerStub(plain).GetUser(users_pb2.UserRequest(id=1), timeout=2)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        server.set_serving(False)  # its health, over TLS too
        server.set_serving(True)


def test_a_client_that_trusts_another_authority_is_refused(tmp_path, tls_folder):
    module = tmp_path / "my_tls_users.py"
    module.write_text(MODULE.format(asyncio=""))
    with server_runner.start(str(module), env={"TLS_FOLDER": str(tls_folder)}) as server:
        stranger = grpc.ssl_channel_credentials(Authority.create("another CA").pem)
        with grpc.secure_channel(server.address, stranger) as channel, pytest.raises(grpc.RpcError) as refused:
            users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=2)
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE


def test_credentials_without_their_authority_are_refused_with_what_to_set(tmp_path, tls_folder):
    module = tmp_path / "my_tls_users.py"
    module.write_text(MODULE.format(asyncio="").replace("ROOT_CERTIFICATES = ", "AUTHORITY = "))
    with pytest.raises(server_runner.ServerStartError, match="sets both SERVER_CREDENTIALS"):
        server_runner.start(str(module), env={"TLS_FOLDER": str(tls_folder)})


def test_a_tls_server_open_to_the_network_warns_without_saying_it_is_unencrypted(tmp_path, tls_folder):
    """The secure room listens on 0.0.0.0: its log warns that it is open, and says its calls are encrypted."""
    module = tmp_path / "my_tls_users.py"
    module.write_text(MODULE.format(asyncio=""))
    with pytest.warns(UserWarning, match="listening on 0.0.0.0"):
        server = server_runner.start(str(module), host="0.0.0.0", env={"TLS_FOLDER": str(tls_folder)})
    with server:
        log = server.logs()
    assert "WARNING: listening on 0.0.0.0" in log and "Its calls travel over TLS" in log, log
    assert "no encryption" not in log, log
