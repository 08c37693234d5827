"""workshop.status_codes (notebook 11's table) and workshop.interceptors (the helpers of its interceptors)."""
from concurrent import futures

import grpc
import pytest

from workshop import interceptors, status_codes
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers import users


def test_the_table_has_every_status_code_once_in_number_order():
    rows = status_codes.rows()
    assert [number for _, number, *_ in rows] == list(range(17))
    assert {name for name, *_ in rows} == {code.name for code in grpc.StatusCode}
    assert status_codes.markdown_table().count("\n") == 18  # a header, its rule, 17 codes


class _RefuseAll(grpc.ServerInterceptor):
    def intercept_service(self, continuation, details):
        handler = continuation(details)
        if details.method.startswith("/users."):
            return interceptors.refusing(handler, grpc.StatusCode.PERMISSION_DENIED, "not you")
        return handler


class _EchoesRequestId(users.UserManager):
    def GetUser(self, request, context):
        return users_pb2.UserResponse(user=users_pb2.User(nickname=dict(context.invocation_metadata())["x-id"]))


class _AddsId(grpc.UnaryUnaryClientInterceptor):
    def intercept_unary_unary(self, continuation, details, request):
        return continuation(interceptors.with_metadata(details, ("x-id", "seven")), request)


@pytest.fixture
def serve():
    servers = []

    def start(servicer, *server_interceptors):
        server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=list(server_interceptors),
                             options=[("grpc.so_reuseport", 0)])
        users_pb2_grpc.add_UserManagerServicer_to_server(servicer, server)
        port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        servers.append(server)
        return grpc.insecure_channel(f"127.0.0.1:{port}")
    yield start
    for server in servers:
        server.stop(0).wait()


def test_a_refusal_has_the_method_s_kind_so_streams_that_send_nothing_are_refused_too(serve):
    stub = users_pb2_grpc.UserManagerStub(serve(users.UserManager(users.UserDirectory()), _RefuseAll()))
    calls = {"unary": lambda: stub.GetUser(users_pb2.UserRequest(id=1), timeout=5),
             "server stream": lambda: list(stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=1), timeout=5)),
             "client stream": lambda: stub.CountAlreadyUsers(iter([]), timeout=5),
             "bidirectional": lambda: list(stub.GetUsersByIds(iter([]), timeout=5))}
    for kind, call in calls.items():
        with pytest.raises(grpc.RpcError) as refused:
            call()
        assert (refused.value.code(), refused.value.details()) == (grpc.StatusCode.PERMISSION_DENIED, "not you"), kind


def test_wrapped_keeps_no_such_method_as_none():
    assert interceptors.wrapped(None, lambda behaviour: behaviour) is None


def test_with_metadata_adds_pairs_a_server_reads(serve):
    channel = grpc.intercept_channel(serve(_EchoesRequestId(users.UserDirectory())), _AddsId())
    reply = users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=5)
    assert reply.user.nickname == "seven"
