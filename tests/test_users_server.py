"""The reference user directory over real channels: every RPC, every error, concurrency, crash safety."""
import os
import queue
import signal
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

import server_runner
from workshop.checkers.users_cases import write_seed
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers.users import UserDirectory

T = users_pb2.UserType


@pytest.fixture(scope="module")
def stub(users_server):
    with users_server.channel() as channel:
        yield users_pb2_grpc.UserManagerStub(channel)


def status_of(call):
    with pytest.raises(grpc.RpcError) as raised:
        call()
    return raised.value.code(), raised.value.details()


def test_get_user_finds_a_seeded_user(stub):
    user = stub.GetUser(users_pb2.UserRequest(id=2), timeout=5).user
    assert (user.nickname, user.mail_address, user.user_type) == ("bob", "bob@example.com", T.USER_TYPE_NORMAL)


def test_get_user_unknown_id_is_not_found_and_names_the_id(stub):
    assert status_of(lambda: stub.GetUser(users_pb2.UserRequest(id=999), timeout=5)) == (
        grpc.StatusCode.NOT_FOUND, "no user has id 999")


def test_get_user_non_positive_id_is_invalid_argument(stub):
    code, details = status_of(lambda: stub.GetUser(users_pb2.UserRequest(id=0), timeout=5))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "positive" in details


def test_add_user_assigns_an_id_and_stores_the_user(stub):
    added = stub.AddUser(users_pb2.User(nickname="grace", mail_address="grace@example.com",
                                        user_type=T.USER_TYPE_GUEST), timeout=5).user
    assert added.id > 6
    assert stub.GetUser(users_pb2.UserRequest(id=added.id), timeout=5).user == added


@pytest.mark.parametrize("user, words", [
    (users_pb2.User(id=1, nickname="someone", mail_address="s@example.com", user_type=1), "id 1 already exists"),
    (users_pb2.User(nickname="alice", mail_address="a2@example.com", user_type=1), "nickname 'alice' is taken"),
])
def test_add_user_taken_id_or_nickname_is_already_exists(stub, user, words):
    code, details = status_of(lambda: stub.AddUser(user, timeout=5))
    assert code == grpc.StatusCode.ALREADY_EXISTS and words in details


@pytest.mark.parametrize("user, message", [
    (users_pb2.User(id=-4, nickname="negative", mail_address="n@example.com", user_type=1),
     "id must be positive, or 0 to let the server choose one; got -4"),
    (users_pb2.User(nickname=" ", mail_address="x@example.com", user_type=1),
     "nickname is empty; give the user a name of 1 to 32 characters"),
    (users_pb2.User(nickname="x" * 33, mail_address="x@example.com", user_type=1),
     "nickname is 33 characters long; the limit is 32"),
    (users_pb2.User(nickname="nomail", mail_address="nomail", user_type=1),
     "mail_address 'nomail' is not an address of the form name@domain"),
    (users_pb2.User(nickname="halfmail", mail_address="halfmail@", user_type=1),
     "mail_address 'halfmail@' is not an address of the form name@domain"),
    (users_pb2.User(nickname="onlyat", mail_address="@", user_type=1),
     "mail_address '@' is not an address of the form name@domain"),
    (users_pb2.User(nickname="noname", mail_address="@b", user_type=1),
     "mail_address '@b' is not an address of the form name@domain"),
    (users_pb2.User(nickname="nodomain", mail_address="a@", user_type=1),
     "mail_address 'a@' is not an address of the form name@domain"),
    (users_pb2.User(nickname="longmail", mail_address="m" * 243 + "@example.com", user_type=1),
     "mail_address is 255 characters long; the limit is 254"),
    (users_pb2.User(nickname="notype", mail_address="t@example.com"),
     "user_type is not set; choose USER_TYPE_NORMAL, USER_TYPE_ADMINISTRATOR, USER_TYPE_GUEST or USER_TYPE_DISABLED"),
    (users_pb2.User(nickname="oddtype", mail_address="t@example.com", user_type=99),
     "99 is not a user type; choose USER_TYPE_NORMAL, USER_TYPE_ADMINISTRATOR, USER_TYPE_GUEST or USER_TYPE_DISABLED"),
])
def test_add_user_invalid_field_is_invalid_argument_naming_it_and_stores_nothing(stub, user, message):
    user.id = user.id or 4242
    assert status_of(lambda: stub.AddUser(user, timeout=5)) == (grpc.StatusCode.INVALID_ARGUMENT, message)
    if user.id > 0:
        assert status_of(lambda: stub.GetUser(users_pb2.UserRequest(id=user.id), timeout=5))[0] == (
            grpc.StatusCode.NOT_FOUND)


def test_add_user_shortest_address_of_the_form_name_at_domain_is_stored(stub):
    added = stub.AddUser(users_pb2.User(nickname="tiny", mail_address="a@b", user_type=T.USER_TYPE_NORMAL), timeout=5)
    assert added.user.mail_address == "a@b"


def test_add_user_longest_allowed_fields_are_stored(stub):
    user = users_pb2.User(nickname="n" * 32, mail_address="m" * 242 + "@example.com", user_type=T.USER_TYPE_GUEST)
    added = stub.AddUser(user, timeout=5).user
    assert (added.nickname, added.mail_address) == (user.nickname, user.mail_address)


def test_add_user_of_a_4_mb_mail_address_is_refused_and_every_user_stays_readable():
    """Without a limit it was stored, its caller got RESOURCE_EXHAUSTED, and nobody could read it again."""
    with server_runner.start("users") as server, server.channel() as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        huge = users_pb2.User(id=77, nickname="huge", mail_address="h" * 4_000_000 + "@example.com", user_type=1)
        code, details = status_of(lambda: stub.AddUser(huge, timeout=10))
        assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT,
                                   "mail_address is 4,000,012 characters long; the limit is 254")
        assert status_of(lambda: stub.GetUser(users_pb2.UserRequest(id=77), timeout=5))[0] == grpc.StatusCode.NOT_FOUND
        everyone = stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=T.USER_TYPE_NORMAL), timeout=5)
        assert [reply.user.id for reply in everyone] == [2, 3, 5]
        by_ids = stub.GetUsersByIds(iter([users_pb2.UserRequest(id=i) for i in (1, 2, 3, 4, 5, 6)]), timeout=5)
        assert len(list(by_ids)) == 6


def test_add_user_10_kb_mail_address_without_at_gets_a_short_invalid_argument(stub):
    """Echoed whole, it made the error's metadata too large: the client saw an error about metadata."""
    user = users_pb2.User(nickname="tenkb", mail_address="x" * 10_240, user_type=1)
    code, details = status_of(lambda: stub.AddUser(user, timeout=5))
    assert (code, details) == (grpc.StatusCode.INVALID_ARGUMENT,
                               "mail_address is 10,240 characters long; the limit is 254")


def test_error_messages_quote_only_a_short_prefix_of_what_was_sent(stub):
    user = users_pb2.User(nickname="prefix", mail_address="p" * 200, user_type=1)
    _, details = status_of(lambda: stub.AddUser(user, timeout=5))
    assert details == f"mail_address {'p' * 40!r}... (200 characters) is not an address of the form name@domain"


def test_get_users_by_type_undefined_type_is_invalid_argument_with_its_own_message(stub):
    code, details = status_of(lambda: list(stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=99), timeout=5)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("99 is not a user type; choose ")


def test_a_seed_file_named_by_users_seed_is_what_a_fresh_directory_holds(tmp_path):
    seed = write_seed([users_pb2.User(id=40, nickname="zoe", mail_address="zoe@example.com", user_type=2)], tmp_path)
    with server_runner.start("users", env={"USERS_SEED": str(seed)}) as server, server.channel() as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        assert stub.GetUser(users_pb2.UserRequest(id=40), timeout=5).user.nickname == "zoe"
        assert status_of(lambda: stub.GetUser(users_pb2.UserRequest(id=1), timeout=5))[0] == grpc.StatusCode.NOT_FOUND


def test_an_unreadable_seed_is_a_clear_error_naming_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": 1, "nickname": "x", "colour": "blue"}]')
    with pytest.raises(ValueError, match="cannot read the users seed .*broken.json"):
        UserDirectory(seed=broken)
    with pytest.raises(ValueError, match="cannot read the users seed .*missing.json"):
        UserDirectory(seed=tmp_path / "missing.json")


def test_count_already_users_counts_distinct_existing_ids(stub):
    ids = [1, 2, 2, 999, 3]
    reply = stub.CountAlreadyUsers((users_pb2.UserRequest(id=i) for i in ids), timeout=5)
    assert reply.count == 3


def test_get_users_by_type_streams_every_match_in_id_order(stub):
    replies = stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=T.USER_TYPE_NORMAL), timeout=5)
    assert [r.user.nickname for r in replies][:3] == ["bob", "carol", "erin"]


def test_get_users_by_type_unspecified_is_invalid_argument(stub):
    code, _ = status_of(lambda: list(stub.GetUsersByType(users_pb2.UserTypeRequest(), timeout=5)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT


def test_get_users_by_ids_answers_each_id_before_the_next_is_sent(stub):
    requests = queue.Queue()
    call = stub.GetUsersByIds(iter(requests.get, None), timeout=10)
    for user_id, nickname in [(3, "carol"), (1, "alice"), (6, "frank")]:
        requests.put(users_pb2.UserRequest(id=user_id))
        assert next(call).user.nickname == nickname  # would block forever on a collect-then-reply server
    requests.put(None)
    assert list(call) == []


def test_get_users_by_ids_unknown_id_ends_the_stream_with_not_found(stub):
    call = stub.GetUsersByIds(iter([users_pb2.UserRequest(id=1), users_pb2.UserRequest(id=404)]), timeout=5)
    assert next(call).user.id == 1
    code, details = status_of(lambda: next(call))
    assert (code, details) == (grpc.StatusCode.NOT_FOUND, "no user has id 404")


def test_hundred_concurrent_add_user_calls_lose_nothing():
    with server_runner.start("users") as server, server.channel() as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)

        def add(n):
            return stub.AddUser(users_pb2.User(nickname=f"user{n}", mail_address=f"u{n}@example.com",
                                               user_type=T.USER_TYPE_NORMAL), timeout=20).user.id

        with ThreadPoolExecutor(max_workers=100) as pool:
            ids = list(pool.map(add, range(100)))
        assert len(set(ids)) == 100
        stored = {stub.GetUser(users_pb2.UserRequest(id=i), timeout=5).user.nickname for i in ids}
        assert stored == {f"user{n}" for n in range(100)}


def test_server_killed_mid_writes_keeps_every_acknowledged_user_and_an_intact_store(tmp_path):
    database = str(tmp_path / "users.sqlite3")
    server = server_runner.start("users", env={"USERS_DB": database})
    acknowledged, stop = [], threading.Event()

    def keep_adding(writer):
        with server.channel() as channel:
            stub = users_pb2_grpc.UserManagerStub(channel)
            for n in range(10_000):
                if stop.is_set():
                    return
                try:
                    user = stub.AddUser(users_pb2.User(nickname=f"w{writer}n{n}", mail_address="k@example.com",
                                                       user_type=1), timeout=5).user
                except grpc.RpcError:
                    return  # the server died under this call
                acknowledged.append((user.id, user.nickname))

    writers = [threading.Thread(target=keep_adding, args=(w,)) for w in range(8)]
    for writer in writers:
        writer.start()
    while len(acknowledged) < 50:
        threading.Event().wait(0.01)
    os.kill(server.pid, signal.SIGKILL)  # while eight clients are writing
    for writer in writers:
        writer.join(timeout=10)
    stop.set()
    server.stop()
    assert sqlite3.connect(database).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with server_runner.start("users", env={"USERS_DB": database}) as again, again.channel() as channel:
        stub = users_pb2_grpc.UserManagerStub(channel)
        for user_id, nickname in acknowledged:
            assert stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=5).user.nickname == nickname


def test_health_and_reflection_are_registered(users_server):
    with users_server.channel() as channel:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        replies = reflection.ServerReflectionInfo(iter([reflection_pb2.ServerReflectionRequest(list_services="")]),
                                                  timeout=5)
        names = {s.name for s in next(replies).list_services_response.service}
    assert {"users.v1.UserManager", "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names
