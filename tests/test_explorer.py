"""workshop.explorer: every method of the kit's servers listed and called through reflection alone.

The explorer runs in a fresh interpreter that never imports the kit's generated code, so what it
knows of the services can only have come from the servers' reflection.
"""
import json
import subprocess
import sys

import pytest

import server_runner

EXPLORE = r'''
import itertools, json, sys
import grpc
from workshop.explorer import Explorer

users, chat = (Explorer(grpc.insecure_channel(address)) for address in sys.argv[1:3])
seen = {}
for explorer in (users, chat):
    for name in explorer.services():
        service = explorer.service(name)
        seen[name] = [[m.name, m.input_type.full_name, m.output_type.full_name, m.client_streaming,
                       m.server_streaming] for m in service.methods]
calls = {
    "GetUser": users.call("users.v1.UserManager.GetUser", {"id": 1}),
    "AddUser": users.call("/users.v1.UserManager/AddUser", '{"id": 77, "nickname": "zed", '
                          '"mail_address": "zed@example.com", "user_type": "USER_TYPE_GUEST"}'),
    "GetUsersByType": list(users.call("users.v1.UserManager.GetUsersByType", {"user_type": "USER_TYPE_GUEST"})),
    "CountAlreadyUsers": users.call("users.v1.UserManager.CountAlreadyUsers", [{"id": 1}, {"id": 77}, {"id": 404}]),
    "GetUsersByIds": list(users.call("users.v1.UserManager.GetUsersByIds", [{"id": 77}, {"id": 1}])),
    "Post": chat.call("chat.v1.ChatServer.Post", {"name": "ann", "message": "hello"}),
    "Subscribe": list(itertools.islice(chat.call("chat.v1.ChatServer.Subscribe", {"name": "bob", "replay": 1}), 1)),
    "Chat": list(itertools.islice(chat.call("chat.v1.ChatServer.Chat", iter([{"name": "cy", "message": "hi"}])), 1)),
}
try:
    users.call("users.v1.UserManager.GetUser", {"id": 999})
except grpc.RpcError as error:
    calls["refused"] = [error.code().name, error.details()]
print(json.dumps({"services": seen, "calls": calls,
                  "generated code imported": sorted(m for m in sys.modules if m.startswith("workshop.protos"))}))
'''


@pytest.fixture(scope="module")
def explored():
    with server_runner.start("users") as users, server_runner.start("chat") as chat:  # fresh users: in memory
        run = subprocess.run([sys.executable, "-c", EXPLORE, users.address, chat.address], capture_output=True,
                             text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_no_generated_code_was_imported(explored):
    assert explored["generated code imported"] == []


def test_every_service_and_method_is_listed_with_its_types_and_mode(explored):
    services = explored["services"]
    assert set(services) == {"users.v1.UserManager", "chat.v1.ChatServer", "grpc.health.v1.Health",
                             "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"}
    assert ["GetUsersByIds", "users.v1.UserRequest", "users.v1.UserResponse", True, True] in \
        services["users.v1.UserManager"]
    assert ["CountAlreadyUsers", "users.v1.UserRequest", "users.v1.UserCountResponse", True, False] in \
        services["users.v1.UserManager"]
    assert ["Subscribe", "chat.v1.SubscribeRequest", "chat.v1.Note", False, True] in services["chat.v1.ChatServer"]
    assert len(services["users.v1.UserManager"]) == 5 and len(services["chat.v1.ChatServer"]) == 3


def test_every_method_of_the_kit_s_servers_is_called_from_dicts(explored):
    calls = explored["calls"]
    assert calls["GetUser"]["user"]["nickname"] == "alice"
    assert calls["AddUser"]["user"]["nickname"] == "zed"
    assert [reply["user"]["nickname"] for reply in calls["GetUsersByType"]][-1] == "zed"  # added above, last id
    assert calls["CountAlreadyUsers"] == {"count": "2"}  # int64 is a string in protobuf's JSON mapping
    assert [reply["user"]["nickname"] for reply in calls["GetUsersByIds"]] == ["zed", "alice"]
    assert calls["Post"]["sequence"] != "0"
    assert calls["Subscribe"][0]["message"] == "hello"  # the replay of the last note
    assert calls["Chat"][0]["name"] in {"ann", "cy"}
    assert calls["refused"] == ["NOT_FOUND", "no user has id 999"]
