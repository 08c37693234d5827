"""The reference servers meet the same bar as the exercises: every checker passes on them."""
import sys

import psutil
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import server_runner
from workshop.checkers.add_user import check_add_user
from workshop.checkers.bidirectional import check_get_users_by_ids
from workshop.checkers.client_streaming import check_count_already_users
from workshop.checkers.server_streaming import check_get_users_by_type
from workshop.checkers.unary import check_get_user

USERS_CHECKERS = [check_get_user, check_add_user, check_get_users_by_type, check_count_already_users,
                  check_get_users_by_ids]


@pytest.mark.parametrize("checker", [check_get_user, check_add_user, check_count_already_users],
                         ids=lambda c: c.__name__)
def test_reference_users_server_started_by_name_passes_the_checkers_that_take_it_as_it_is(checker):
    with server_runner.start("users") as fresh:  # the kit cannot restart a server by name: checked as it is
        result = checker(fresh)
    assert result.all_passed, repr(result)


@pytest.mark.parametrize("checker", USERS_CHECKERS, ids=lambda c: c.__name__)
def test_reference_users_service_as_a_learner_module_passes_every_users_checker(checker, tmp_path):
    """The shape of every users exercise with no method written anew: the checkers' own seeds apply."""
    module = tmp_path / "my_reference_users.py"
    module.write_text("from workshop.servers.users import add_to_server  # noqa: F401\n")
    with server_runner.start(str(module)) as server:
        result = checker(server)
    assert result.all_passed, repr(result)


def test_chat_server_offers_health_and_reflection(chat_server):
    with chat_server.channel() as channel:
        replies = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5)
        names = {s.name for s in next(replies).list_services_response.service}
    assert {"chat.v1.ChatServer", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


def test_servers_run_as_fresh_interpreters_not_forks(users_server):
    """fork() after grpc is imported can hang: the runner starts `sys.executable`, a new process image."""
    command = psutil.Process(users_server.pid).cmdline()
    assert command[0] == sys.executable and command[1].endswith("server_runner.py") and command[2] == "_child"


@pytest.mark.parametrize("server_name", ["users_server", "chat_server"])
def test_servers_answer_reflection_v1_as_well_as_v1alpha(server_name, request):
    """grpcurl and newer clients ask grpc.reflection.v1 first: a grpcio server (users) and a grpc.aio one (chat)
    answer it, asked with v1's own messages (grpclib ships them; grpcio-reflection only has v1alpha's)."""
    from google.protobuf import descriptor_pb2
    from grpclib.reflection.v1 import reflection_pb2 as v1

    server = request.getfixturevalue(server_name)
    service = {"users_server": "users.v1.UserManager", "chat_server": "chat.v1.ChatServer"}[server_name]
    with server.channel() as channel:
        ask = channel.stream_stream("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                                    request_serializer=v1.ServerReflectionRequest.SerializeToString,
                                    response_deserializer=v1.ServerReflectionResponse.FromString)
        listing, described = ask(iter([v1.ServerReflectionRequest(list_services=""),
                                       v1.ServerReflectionRequest(file_containing_symbol=service)]), timeout=5)
    names = {s.name for s in listing.list_services_response.service}
    assert {service, "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"} <= names
    first = descriptor_pb2.FileDescriptorProto.FromString(described.file_descriptor_response.file_descriptor_proto[0])
    assert service.rsplit(".", 1)[1] in [s.name for s in first.service]
