"""Checkers for notebook 04 (unary RPCs): the learner's GetUser (4.1) and AddUser (4.2).

Each checker starts a fresh copy of the learner's module over a directory of its own (see
users_cases.seeded), so what ran before cannot change a verdict. The rules of each exercise are
written down below, one case each; tests/test_checkers_unary.py breaks each rule on its own.
"""
from __future__ import annotations

import itertools
import re
import uuid

import grpc

from workshop.checkers.support import TIMEOUT, CheckResult, Fail, expect_status, run_checks
from workshop.checkers.users_cases import one_line, seeded, users_stub
from workshop.protos import users_pb2
from workshop.servers.users import MAX_MAIL_ADDRESS, MAX_NICKNAME

T = users_pb2.UserType
_runs = itertools.count(1)

# ---------------------------------------------------------------- Exercise 4.1

GET_USER_RULES = {  # each rule is one case; a wrong-answer test breaks each on its own
    "found": "an existing id → its user, with every field",
    "unknown": "an unknown id (404) → NOT_FOUND, with a message that names the id",
    "invalid": "an id of 0 or below → INVALID_ARGUMENT, checked before the lookup",
}

# Users with ids 0 and -7 cannot be added, but this seed plants them: only a GetUser that
# checks the id before it looks the user up refuses them.
GET_USER_SEED = [
    users_pb2.User(id=0, nickname="ghost", mail_address="ghost@example.com", user_type=T.USER_TYPE_GUEST),
    users_pb2.User(id=-7, nickname="shadow", mail_address="shadow@example.com", user_type=T.USER_TYPE_GUEST),
    users_pb2.User(id=4, nickname="dave", mail_address="dave@example.com", user_type=T.USER_TYPE_GUEST),
    users_pb2.User(id=7, nickname="grace", mail_address="grace@example.org", user_type=T.USER_TYPE_ADMINISTRATOR),
    users_pb2.User(id=12, nickname="heidi", mail_address="heidi@example.net", user_type=T.USER_TYPE_NORMAL),
]
UNKNOWN_ID = 404


def check_get_user(server) -> CheckResult:
    """Exercise 4.1: `server` is the running server of my_get_user.py (or an address)."""
    with seeded(server, GET_USER_SEED) as (target, users), users_stub(target) as stub:

        def get(user_id):
            return stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=TIMEOUT)

        def found():
            for user in [user for user_id, user in sorted(users.items()) if user_id > 0][-2:]:
                reply = get(user.id).user
                if reply != user:
                    raise Fail(f"GetUser({user.id}) gave {one_line(reply)}; expected {one_line(user)}",
                               "return users_pb2.UserResponse(user=user) with the user self.directory.get found")

        def unknown():
            details = expect_status(lambda: get(UNKNOWN_ID), grpc.StatusCode.NOT_FOUND,
                                    "when self.directory.get finds nobody, end the call with "
                                    "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))")
            if str(UNKNOWN_ID) not in details:
                raise Fail(f"NOT_FOUND, but its message {details[:80]!r} does not say which id",
                           "name the id in the message: users.no_user_with(request.id)")

        def invalid():
            for user_id in (0, -7):
                expect_status(lambda user_id=user_id: get(user_id), grpc.StatusCode.INVALID_ARGUMENT,
                              "check users.problem_with_id(request.id) before self.directory.get: an id below 1 "
                              "is a wrong request (INVALID_ARGUMENT), whatever the directory holds")

        return run_checks("Exercise 4.1 · GetUser", [
            (GET_USER_RULES["found"], found),
            (GET_USER_RULES["unknown"], unknown),
            (GET_USER_RULES["invalid"], invalid),
        ], target=target)


# ---------------------------------------------------------------- Exercise 4.2

# Invalid users, one field wrong each: (rule, fields, a word the message must hold, hint)
INVALID_FIELDS = [
    ("a negative id → INVALID_ARGUMENT, naming the id", {"id": -3}, r"\bid\b",
     "refuse request.id < 0 (0 is fine: it asks the server to choose)"),
    ("an empty nickname → INVALID_ARGUMENT, naming the nickname", {"nickname": "  "}, "nickname",
     "refuse a nickname that is empty or only spaces"),
    (f"a nickname over {MAX_NICKNAME} characters → INVALID_ARGUMENT, naming the nickname and the limit",
     {"nickname": "n" * (MAX_NICKNAME + 1)}, f"nickname.*{MAX_NICKNAME}|{MAX_NICKNAME}.*nickname",
     f"refuse a nickname longer than users.MAX_NICKNAME ({MAX_NICKNAME}) characters"),
    ("a mail_address without '@' → INVALID_ARGUMENT, naming the mail_address", {"mail_address": "carla.example.com"},
     "mail", "refuse a mail_address that is not of the form name@domain"),
    (f"a mail_address over {MAX_MAIL_ADDRESS} characters → INVALID_ARGUMENT, naming it and the limit",
     {"mail_address": "m" * MAX_MAIL_ADDRESS + "@example.com"}, f"mail.*{MAX_MAIL_ADDRESS}",
     f"refuse a mail_address longer than users.MAX_MAIL_ADDRESS ({MAX_MAIL_ADDRESS}) characters"),
    ("a user_type not set → INVALID_ARGUMENT, naming the user_type", {"user_type": T.USER_TYPE_UNSPECIFIED},
     "type", "refuse user_type USER_TYPE_UNSPECIFIED (0, what a field nobody set holds)"),
    ("a user_type of 99, which UserType does not define → INVALID_ARGUMENT, naming the 99", {"user_type": 99},
     r"\b99\b",
     "refuse a user_type that users_pb2.UserType does not define: a client can send any number"),
]
TAKEN_HINT = ("self.directory.add raises users.AlreadyExists when the id or nickname is taken: catch it and "
              "call context.abort(grpc.StatusCode.ALREADY_EXISTS, str(error)); its text says which")
NAME_IT = "say what is wrong and with which field; users.problem_with_new_user(request) words it for you"

ADD_USER_RULES = {  # and each entry of INVALID_FIELDS is a rule: one invalid field → INVALID_ARGUMENT, naming it
    "new id": "id 0 → the server picks a new id, and replies with the user as stored",
    "chosen id": "a chosen free id → the user keeps it",
    "taken": "a taken id, and a taken nickname → ALREADY_EXISTS, saying which is taken",
    "not stored": "a refused user is not stored",
}

ADD_USER_SEED = [
    users_pb2.User(id=1, nickname="alice", mail_address="alice@example.com", user_type=T.USER_TYPE_ADMINISTRATOR),
    users_pb2.User(id=2, nickname="bob", mail_address="bob@example.com", user_type=T.USER_TYPE_NORMAL),
    users_pb2.User(id=9, nickname="ivan", mail_address="ivan@example.com", user_type=T.USER_TYPE_GUEST),
]


def check_add_user(server) -> CheckResult:
    """Exercise 4.2: `server` is the running server of my_add_user.py (or an address)."""
    tag = f"{next(_runs)}{uuid.uuid4().hex[:5]}"  # new names each run, for a server given by address

    def new_user(name: str, **fields) -> users_pb2.User:
        nickname = f"{name}_{tag}"
        values = {"nickname": nickname, "mail_address": f"{nickname}@example.com", "user_type": T.USER_TYPE_NORMAL}
        return users_pb2.User(**{**values, **fields})

    def unused_id() -> int:
        return 1_000_000 + uuid.uuid4().int % 10**9

    with seeded(server, ADD_USER_SEED) as (target, users), users_stub(target) as stub:

        def add(user):
            return stub.AddUser(user, timeout=TIMEOUT).user

        def get(user_id):
            return stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=TIMEOUT).user

        def as_stored(reply, sent):
            expected = users_pb2.User()
            expected.CopyFrom(sent)
            expected.id = reply.id
            if reply != expected:
                raise Fail(f"the reply holds {one_line(reply)}; expected {one_line(expected)}",
                           "reply with the user directory.add returned: users_pb2.UserResponse(user=stored)")

        def new_id():
            sent = new_user("ada")
            reply = add(sent)
            if reply.id <= 0 or reply.id in users:
                raise Fail(f"the new user got id {reply.id}; expected a new positive id",
                           "id 0 means 'server, choose': self.directory.add(request) does; reply with what it returns")
            as_stored(reply, sent)
            if get(reply.id) != reply:
                raise Fail(f"GetUser({reply.id}) then gave {one_line(get(reply.id))}",
                           "store the user with self.directory.add, the directory GetUser reads")

        def chosen_id():
            sent = new_user("grace", id=unused_id())
            reply = add(sent)
            if reply.id != sent.id:
                raise Fail(f"asked for id {sent.id}, got {reply.id}",
                           "only id 0 asks the server to choose; keep any other")
            as_stored(reply, sent)

        def taken():
            first = min(users.values(), key=lambda user: user.id)
            for user, what in ((new_user("someone", id=first.id), str(first.id)),
                               (new_user("x", nickname=first.nickname), first.nickname)):
                details = expect_status(lambda user=user: add(user), grpc.StatusCode.ALREADY_EXISTS, TAKEN_HINT)
                if what not in details:
                    raise Fail(f"ALREADY_EXISTS, but its message {details[:80]!r} does not say that {what} is taken",
                               TAKEN_HINT)

        def invalid(number, fields, words, hint):
            def case():
                user = new_user(f"bad{number}", **fields)
                details = expect_status(lambda: add(user), grpc.StatusCode.INVALID_ARGUMENT, hint)
                if not re.search(words, details):
                    raise Fail(f"INVALID_ARGUMENT, but its message {details[:80]!r} does not name the problem", NAME_IT)
            return case

        def not_stored():
            refused = new_user("hopper", id=unused_id(), mail_address="no mail", user_type=T.USER_TYPE_UNSPECIFIED)
            expect_status(lambda: add(refused), grpc.StatusCode.INVALID_ARGUMENT, "check every field first, then store")
            hint = "check every field before self.directory.add: a refused user must leave no trace"
            try:
                stored = get(refused.id)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
            else:
                raise Fail(f"refused with INVALID_ARGUMENT, yet GetUser({refused.id}) then found {one_line(stored)}",
                           hint)
            try:
                add(new_user("hopper"))
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                    raise
                raise Fail("refused with INVALID_ARGUMENT, yet its nickname was taken afterwards", hint) from None

        return run_checks("Exercise 4.2 · AddUser", [
            (ADD_USER_RULES["new id"], new_id),
            (ADD_USER_RULES["chosen id"], chosen_id),
            (ADD_USER_RULES["taken"], taken),
            *[(rule, invalid(n, *spec)) for n, (rule, *spec) in enumerate(INVALID_FIELDS)],
            (ADD_USER_RULES["not stored"], not_stored),
        ], target=target)
