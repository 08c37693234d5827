"""Checkers for notebook 04 (unary RPCs): the learner's GetUser and AddUser, over a real channel.

Each checker takes the learner's running server (what `server_runner.start(...)` returned) or
its address, opens its own channel, and closes it when done. AddUser's checks store new users
with names and ids made unique for each run, so a checker can run again on the same server.
"""
from __future__ import annotations

import contextlib
import itertools
import json
import uuid

import grpc
from google.protobuf import json_format, text_format

from workshop import DATA
from workshop.checkers.support import CheckResult, Fail, expect_status, run_checks
from workshop.protos import users_pb2, users_pb2_grpc

TIMEOUT = 5  # seconds for every call a checker makes
_runs = itertools.count(1)


def seed_users() -> dict[int, users_pb2.User]:
    """The users every fresh directory starts with (data/users.json), by id."""
    entries = json.loads((DATA / "users.json").read_text())
    users = [json_format.ParseDict(entry, users_pb2.User()) for entry in entries]
    return {user.id: user for user in users}


def one_line(message) -> str:
    return text_format.MessageToString(message, as_one_line=True) or "an empty message"


def run_tag() -> str:
    """A short tag, new for every checker run, that keeps this run's nicknames and ids apart."""
    return f"{next(_runs)}{uuid.uuid4().hex[:5]}"


def unused_id() -> int:
    """An id that no earlier run is likely to have used (random, far above the seeded ids)."""
    return 1_000_000 + uuid.uuid4().int % 10**9


@contextlib.contextmanager
def users_stub(server):
    """A UserManager stub on a channel of its own to `server` (a RunningServer or an address)."""
    address = server if isinstance(server, str) else server.address
    with grpc.insecure_channel(address) as channel:
        yield users_pb2_grpc.UserManagerStub(channel)


def ensure_running(server) -> None:
    """Raise ServerNotRunningError (a checker reports "your server is not running") if it has stopped."""
    if not isinstance(server, str):
        server.ensure_running()  # a clear "your server is not running" instead of UNAVAILABLE


# ---------------------------------------------------------------- Exercise 4.1


def check_get_user(server) -> CheckResult:
    """Exercise 4.1: GetUser finds seeded users and ends the call with the right status otherwise."""
    seeds = seed_users()

    with users_stub(server) as stub:

        def get(user_id):
            ensure_running(server)
            return stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=TIMEOUT)

        def finds(user_id):
            def case():
                reply = get(user_id)
                if reply.user != seeds[user_id]:
                    raise Fail(f"got {one_line(reply.user)}; expected {one_line(seeds[user_id])}",
                               "return users_pb2.UserResponse(user=...) with the user the directory found")
            return case

        def unknown_id():
            details = expect_status(lambda: get(999), grpc.StatusCode.NOT_FOUND,
                                    "when the directory has no such user, end the call with "
                                    "context.abort(grpc.StatusCode.NOT_FOUND, ...)")
            if "999" not in details:
                raise Fail(f"NOT_FOUND, but its message {details!r} does not say which id",
                           'name the id in the message, e.g. f"no user has id {request.id}"')

        def invalid(user_id):
            def case():
                expect_status(lambda: get(user_id), grpc.StatusCode.INVALID_ARGUMENT,
                              "check `request.id <= 0` first: no user can have such an id, so the request "
                              "itself is wrong (INVALID_ARGUMENT), whatever the directory holds")
            return case

        return run_checks("Exercise 4.1 · GetUser", [
            ("existing id 1 → alice", finds(1)),
            ("existing id 4 → dave, with every field", finds(4)),
            ("unknown id 999 → NOT_FOUND, naming the id", unknown_id),
            ("id 0 → INVALID_ARGUMENT", invalid(0)),
            ("id -7 → INVALID_ARGUMENT", invalid(-7)),
        ])


# ---------------------------------------------------------------- Exercise 4.2


def check_add_user(server) -> CheckResult:
    """Exercise 4.2: AddUser stores valid users, assigns ids, and refuses bad or taken ones."""
    tag = run_tag()
    normal = users_pb2.USER_TYPE_NORMAL

    def new_user(name: str, **fields) -> users_pb2.User:
        nickname = f"{name}_{tag}"
        values = {"nickname": nickname, "mail_address": f"{nickname}@example.com", "user_type": normal}
        return users_pb2.User(**{**values, **fields})

    with users_stub(server) as stub:

        def add(user):
            ensure_running(server)
            return stub.AddUser(user, timeout=TIMEOUT).user

        def same_apart_from_id(stored, sent):
            expected = users_pb2.User()
            expected.CopyFrom(sent)
            expected.id = stored.id
            if stored != expected:
                raise Fail(f"the reply holds {one_line(stored)}; expected {one_line(expected)}",
                           "reply with the user as stored: users_pb2.UserResponse(user=stored)")

        def server_picks_the_id():
            sent = new_user("ada")
            stored = add(sent)
            if stored.id <= 0 or stored.id in seed_users():
                raise Fail(f"the new user got id {stored.id}; expected a new positive id",
                           "id 0 means 'server, choose': directory.add does that; reply with what it returns")
            same_apart_from_id(stored, sent)
            found = stub.GetUser(users_pb2.UserRequest(id=stored.id), timeout=TIMEOUT).user
            if found != stored:
                raise Fail(f"GetUser({stored.id}) then gave {one_line(found)}",
                           "store the user in the directory that GetUser reads")

        def keeps_a_chosen_id():
            sent = new_user("grace", id=unused_id())
            stored = add(sent)
            if stored.id != sent.id:
                raise Fail(f"asked for id {sent.id}, got {stored.id}",
                           "only id 0 asks the server to choose; keep any other free id")
            same_apart_from_id(stored, sent)

        def taken(user):
            def case():
                expect_status(lambda: add(user), grpc.StatusCode.ALREADY_EXISTS,
                              "directory.add raises AlreadyExists when the id or nickname is taken: catch it "
                              "and call context.abort(grpc.StatusCode.ALREADY_EXISTS, str(error))")
            return case

        def invalid(user, hint):
            def case():
                expect_status(lambda: add(user), grpc.StatusCode.INVALID_ARGUMENT, hint)
            return case

        def rejected_is_not_stored():
            bad = new_user("hopper", mail_address="no mail")
            expect_status(lambda: add(bad), grpc.StatusCode.INVALID_ARGUMENT,
                          "check every field first, then store")
            good = new_user("hopper")
            try:
                add(good)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
                raise Fail("a user refused with INVALID_ARGUMENT was stored anyway: adding it again, "
                           "with a valid mail address, gave ALREADY_EXISTS",
                           "check every field before calling directory.add") from None

        return run_checks("Exercise 4.2 · AddUser", [
            ("new user with id 0 → the server picks its id", server_picks_the_id),
            ("new user with a chosen id → keeps it", keeps_a_chosen_id),
            ("taken nickname 'alice' → ALREADY_EXISTS", taken(new_user("x", nickname="alice"))),
            ("taken id 1 → ALREADY_EXISTS", taken(new_user("someone", id=1))),
            ("empty nickname → INVALID_ARGUMENT", invalid(
                new_user("x", nickname="", mail_address="nobody@example.com"),
                "refuse a nickname that is empty (or only spaces): `if not request.nickname.strip(): ...`")),
            ("mail address without '@' → INVALID_ARGUMENT", invalid(
                new_user("carla", mail_address="carla.example.com"),
                "refuse a mail_address that has no '@' in it")),
            ("user_type not set → INVALID_ARGUMENT", invalid(
                new_user("unset", user_type=users_pb2.USER_TYPE_UNSPECIFIED),
                "refuse request.user_type == users_pb2.USER_TYPE_UNSPECIFIED (0, the value when nobody set it)")),
            ("negative id → INVALID_ARGUMENT", invalid(
                new_user("minus", id=-3),
                "refuse request.id < 0; 0 is fine: it asks the server to choose")),
            ("a refused user is not stored", rejected_is_not_stored),
        ])
