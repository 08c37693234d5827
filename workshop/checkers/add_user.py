"""Checker for Exercise 4.2 (notebook 04): the learner's AddUser.

It starts a fresh copy of the learner's module over a directory of its own (see users_cases.seeded),
so what ran before cannot change a verdict. The rules are written down below, one case each (and one
per invalid field); tests/test_checkers_unary.py breaks each rule on its own.
"""
from __future__ import annotations

import itertools
import re
import tempfile
import unicodedata
import uuid

import grpc

from workshop.checkers import support
from workshop.checkers.support import TIMEOUT, CheckResult, Fail, expect_status, run_checks
from workshop.checkers.unary import (
    DEADLINE_REFUSED_HINT,
    GRPC_DEADLINE_WORDS,
    INVALID_METADATA,
    INVALID_WORDS,
    METADATA_HINT,
    expect_code,
    names_number,
    within,
)
from workshop.checkers.users_cases import one_line, seeded, users_stub, write_seed
from workshop.protos import users_pb2
from workshop.servers import users as kit
from workshop.servers.users import MAX_MAIL_ADDRESS, MAX_NICKNAME

T = users_pb2.UserType
_runs = itertools.count(1)

MAIL_SUFFIX = "@example.com"
# Invalid users, one field wrong each: (rule, the values sent, {what the message must hold: what it then lacks}, hint)
INVALID_FIELDS = [
    ("a negative id → INVALID_ARGUMENT, naming the id", [{"id": -3}], {r"\bid\b": "name the id"},
     "refuse request.id < 0 (0 is fine: it asks the server to choose)"),
    ("a nickname empty or only spaces → INVALID_ARGUMENT, naming the nickname",
     [{"nickname": ""}, {"nickname": "  "}], {"nickname": "name the nickname"},
     "refuse a nickname that is empty or only spaces"),
    (f"a nickname over {MAX_NICKNAME} characters → INVALID_ARGUMENT, naming the nickname and the limit",
     [{"nickname": "n" * (MAX_NICKNAME + 1)}, {"nickname": " " + "n" * MAX_NICKNAME},  # a space counts too
      {"nickname": "t" * MAX_NICKNAME + "   "},  # spaces after it, too
      {"nickname": "e\u0301" * 20}],  # 40 characters: an 'e' and a combining accent, 20 times
     {"nickname": "name the nickname", rf"\b{MAX_NICKNAME}\b": f"give the limit ({MAX_NICKNAME})"},
     f"refuse a nickname longer than users.MAX_NICKNAME ({MAX_NICKNAME}) characters"),
    ("a mail_address not of the form name@domain ('carla.example.com', '@', 'a@', '@b') → INVALID_ARGUMENT, "
     "naming the mail_address", [{"mail_address": mail} for mail in ("carla.example.com", "@", "a@", "@b")],
     {"mail": "name the mail_address"},
     "refuse a mail_address without text before and after its last '@' (name@domain)"),
    (f"a mail_address over {MAX_MAIL_ADDRESS} characters → INVALID_ARGUMENT, naming it and the limit",
     [{"mail_address": "m" * (MAX_MAIL_ADDRESS + 1 - len(MAIL_SUFFIX)) + MAIL_SUFFIX},
      {"mail_address": " " + "m" * (MAX_MAIL_ADDRESS - len(MAIL_SUFFIX)) + MAIL_SUFFIX + " "}],  # spaces count too
     {"mail": "name the mail_address", rf"\b{MAX_MAIL_ADDRESS}\b": f"give the limit ({MAX_MAIL_ADDRESS})"},
     f"refuse a mail_address longer than users.MAX_MAIL_ADDRESS ({MAX_MAIL_ADDRESS}) characters"),
    ("a user_type not set → INVALID_ARGUMENT, naming the user_type", [{"user_type": T.USER_TYPE_UNSPECIFIED}],
     {"type": "name the user_type"}, "refuse user_type USER_TYPE_UNSPECIFIED (0, what a field nobody set holds)"),
    ("a user_type of 99, which UserType does not define → INVALID_ARGUMENT, naming the 99", [{"user_type": 99}],
     {r"\b99\b": "name the 99"},
     "refuse a user_type that users_pb2.UserType does not define: a client can send any number"),
]
OTHER_TYPES = [value for value in T.values() if value not in (T.USER_TYPE_UNSPECIFIED, T.USER_TYPE_NORMAL)]
EVERY_TYPE_HINT = ("check every field of every user, whatever its user_type: a rule that an administrator (or any "
                   "type) skips lets a bad user in. Call users.problem_with_new_user(request) for all")
CHOSEN_TOO_HINT = ("check every field whatever the id: a user sent with an id of the caller's choosing is checked "
                   "like any other. Call users.problem_with_new_user(request) first, on every call")
CAUGHT_ABORT_HINT = ("a field that is wrong is INVALID_ARGUMENT: ALREADY_EXISTS says the user is fine but taken. (If "
                     "you did abort with INVALID_ARGUMENT, an except around the checks caught the exception that "
                     "context.abort raises: catch only users.AlreadyExists, around self.directory.add alone)")
OTHER_CODE_HINT = ("a field that is wrong makes the request wrong: INVALID_ARGUMENT, with users.problem_with_new_user"
                   "'s message. {code} says something else (FAILED_PRECONDITION: the system is not in a state to do "
                   "it; OUT_OF_RANGE: past the end of a sequence)")
TAKEN_HINT = ("self.directory.add raises users.AlreadyExists when the id or nickname is taken: catch it and "
              "call context.abort(grpc.StatusCode.ALREADY_EXISTS, str(error)); its text says which")
TIDIED_HINT = ("check what you store: users.problem_with_new_user(request), on the request itself. It counts every "
               "character as sent (the spaces around a value, an accent sent as a character of its own); a tidied "
               "copy checked (strip(), rstrip(), unicodedata.normalize) passes, and the request stored as it came is "
               "over the limit")
NAME_IT = ("say what is wrong, with which field, and for a length the limit; "
           "users.problem_with_new_user(request) words it for you")
SHORT_MESSAGE = 200  # characters: more than any message of the kit's, far less than what a caller may send

CROWD = 12  # new users sent at once with id 0: each must get an id of its own
CROWD_ROUNDS = 8  # crowds sent again to the server at its own speed
QUICK_DEADLINE = 0.4  # seconds: a caller in a hurry; storing a user takes milliseconds
FAR_IDS = (2**53, 2**63 - 1)  # chosen ids past a float's 53 bits, and the largest an int64 holds
ADD_USER_RULES = {  # and each entry of INVALID_FIELDS is a rule: one invalid field → INVALID_ARGUMENT, naming it
    "new id": "id 0 → the server picks a new id, and replies with the user as stored; a free one, after callers "
              "chose the ids that follow it, too",
    "chosen id": "a chosen free id (past 32 bits, 2**53, and 2**63-1, the largest) → the user keeps it",
    "valid": f"every valid user is stored as sent: each user_type; nicknames of {MAX_NICKNAME} characters, with "
             "spaces and capitals, not in ASCII (an emoji, a 'ﬁ' and a full-width 'Ｚ' too, unchanged), with a tab, a "
             "zero-width space or an '@', one that starts with a digit; mail_addresses of "
             f"{MAX_MAIL_ADDRESS} characters, with two '@', a '+', capitals, spaces around it, no dot after the '@', "
             "a domain label over 63 characters; the limits in characters, not in bytes",
    "short deadline": f"a valid user sent with a deadline of {QUICK_DEADLINE:g} s → stored: how long to wait is the "
                      "caller's choice",
    "taken": "a taken id, and a taken nickname → ALREADY_EXISTS, saying which is taken; the same user sent twice → "
             "ALREADY_EXISTS the second time",
    "short": f"a long nickname or mail_address → a message under {SHORT_MESSAGE} characters that does not "
             "quote it whole",
    "not stored": "a refused user is not stored, and leaves no trace: the same user, refused for a taken id, is "
                  "then stored with id 0",
    "at once": f"{CROWD} new users at once with id 0, several times → all stored, each reply with its own user; two "
               "AddUser calls at the same moment with the same nickname, or the same id → one is stored, the other "
               "gets ALREADY_EXISTS (the directory's add decides: one SQLite INSERT, under its lock)",
}
NEXT_IDS = 3  # ids chosen by callers right after the one the server picked: what a counter of one's own picks next
MAX_ID = 2**63 - 1  # the largest int64
NEXT_FREE_HINT = ("id 0 asks for a free id: leave it 0 and let self.directory.add(request) pick it, past every id "
                  "stored, whoever chose it. A counter of your own knows nothing of the ids callers chose, and picks "
                  "one of theirs")
CHOSEN_ID_HINT = ("leave id 0 as it is: self.directory.add(request) picks the next free id, under its lock. An id "
                  "you pick (the highest so far plus one, a counter of your own) is picked twice when calls come at "
                  "once, and clashes with ids that callers chose")
RACE_LOOKUP = 0.3  # seconds each lookup of the "at once" case's copy takes: the gap a check of one's own leaves open
SHARED_HINT = ("each call runs on a thread of its own, and calls come at once: keep what one call sends and stores in "
               "local variables (request, stored), not on self or in the module (a reply made once and filled "
               "anew), where the next call overwrites it")
RACE_HINT = ("users.AlreadyExists escaped from self.directory.add: a check of your own before add (is the nickname or "
             "the id taken?) leaves a gap in which another call stores the same user. Let add decide (it checks and "
             "stores under one lock): catch its users.AlreadyExists around add, and abort with ALREADY_EXISTS and "
             "str(error)")

ADD_USER_SEED = [
    users_pb2.User(id=1, nickname="alice", mail_address="alice@example.com", user_type=T.USER_TYPE_ADMINISTRATOR),
    users_pb2.User(id=2, nickname="bob", mail_address="bob@example.com", user_type=T.USER_TYPE_NORMAL),
    users_pb2.User(id=9, nickname="ivan", mail_address="ivan@example.com", user_type=T.USER_TYPE_GUEST),
]


def _taken_text(holder: users_pb2.User, user: users_pb2.User) -> str:
    """The text of the users.AlreadyExists that the kit's directory raises for `user` when `holder` is stored."""
    with tempfile.TemporaryDirectory(prefix="workshop-4.2-") as folder:
        directory = kit.UserDirectory(seed=write_seed([holder], folder))
    try:
        directory.add(user)
    except kit.AlreadyExists as taken:
        return str(taken)
    raise AssertionError(f"{one_line(user)} is not taken by {one_line(holder)}")


def tidied(user: users_pb2.User) -> users_pb2.User:
    """`user` with its nickname and mail_address tidied as a check of one's own might: stripped, in NFC."""
    copy = users_pb2.User()
    copy.CopyFrom(user)
    copy.nickname = unicodedata.normalize("NFC", user.nickname.strip())
    copy.mail_address = unicodedata.normalize("NFC", user.mail_address.strip())
    return copy


def plain_twin(user: users_pb2.User, tag: str) -> users_pb2.User:
    """`user`, with each value that tidying changes replaced by one as long that it leaves alone (letters only): a
    server that stores `user` but refuses its twin judges a tidied copy, not the length of what it stores."""
    copy = users_pb2.User()
    copy.CopyFrom(user)
    twin = tidied(user)
    if twin.nickname != user.nickname:
        copy.nickname = f"twin_{tag}".ljust(len(user.nickname), "n")
    if twin.mail_address != user.mail_address:
        copy.mail_address = f"twin_{tag}".ljust(len(user.mail_address) - len(MAIL_SUFFIX), "m") + MAIL_SUFFIX
    return copy


def check_add_user(server) -> CheckResult:
    """Exercise 4.2: `server` is the running server of my_add_user.py (or an address)."""
    tag = f"{next(_runs)}{uuid.uuid4().hex[:5]}"  # new names each run, for a server given by address

    def new_user(name: str, **fields) -> users_pb2.User:
        nickname = f"{name}_{tag}"
        values = {"nickname": nickname, "mail_address": f"{nickname}{MAIL_SUFFIX}", "user_type": T.USER_TYPE_NORMAL}
        return users_pb2.User(**{**values, **fields})

    def unused_id() -> int:  # beyond 32 bits: an int64 id has no limit of its own above
        return 5_000_000_000 + uuid.uuid4().int % 10**9

    with seeded(server, ADD_USER_SEED) as (target, users), users_stub(target) as stub:

        def add(user, timeout: float = TIMEOUT, asked=None):
            return (asked or stub).AddUser(user, timeout=timeout).user

        def get(user_id):
            return stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=TIMEOUT).user

        def as_stored(reply, sent):
            expected = users_pb2.User()
            expected.CopyFrom(sent)
            expected.id = reply.id
            if reply != expected:
                raise Fail(f"the reply holds {one_line(reply)[:120]}; expected {one_line(expected)[:120]}",
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
            # on a copy of its own: the ids chosen there are not in the way of the other cases' users
            with target.fresh() as own, users_stub(own) as own_stub:
                free_after_chosen(own_stub)

        def free_after_chosen(own_stub):
            """Users stored with the ids a counter would pick next, chosen by callers: then id 0 still gets a free
            one (the next past every id stored, whoever chose it)."""
            try:
                picked = add(new_user("first"), asked=own_stub).id
            except grpc.RpcError:
                return  # refused on the copy too: said above
            chosen = [picked + k for k in range(1, NEXT_IDS + 1) if 0 < picked + k <= MAX_ID]
            for k, user_id in enumerate(chosen):
                try:
                    add(new_user(f"next{k}", id=user_id), asked=own_stub)
                except grpc.RpcError as error:  # taken already (a server given by address), or refused: no matter
                    if error.code() in support.INFRASTRUCTURE_CODES:
                        raise
            if not chosen:
                return
            after = f"AddUser with id 0 gave id {picked}, callers then chose ids {chosen[0]} to {chosen[-1]}"
            try:
                again = add(new_user("ada_again"), asked=own_stub)
            except grpc.RpcError as error:
                if error.code() in support.INFRASTRUCTURE_CODES:
                    raise
                raise Fail(f"{after}, and AddUser with id 0 → {support.describe_rpc_error(error)[:90]}",
                           NEXT_FREE_HINT) from None
            if again.id <= 0 or again.id in chosen or again.id == picked:
                raise Fail(f"{after}, and AddUser with id 0 gave id {again.id}", NEXT_FREE_HINT)

        def stored_anyway(sent, asked=None) -> bool:
            """Whether `sent`, whose call failed, was stored all the same: sent again, it is taken."""
            try:
                add(sent, asked=asked)
            except grpc.RpcError as error:
                return error.code() == grpc.StatusCode.ALREADY_EXISTS
            return False

        def accepted(sent, what: str, hint: str, asked=None):
            """The reply to AddUser(sent) (of the stub `asked`, by default the checker's), which must not be refused."""
            try:
                return add(sent, asked=asked)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and error.details() != GRPC_DEADLINE_WORDS:
                    raise Fail(f"{what}, sent with a deadline of {TIMEOUT:g} s, was refused: "
                               f"{support.describe_rpc_error(error)[:100]}", DEADLINE_REFUSED_HINT) from None
                if error.code() == grpc.StatusCode.INTERNAL and error.details() == INVALID_METADATA:
                    stored = " was stored, yet" if stored_anyway(sent, asked) else ":"
                    raise Fail(f"{what}{stored} the call failed with {support.describe_rpc_error(error)}",
                               METADATA_HINT) from None
                if error.code() in support.INFRASTRUCTURE_CODES:
                    raise
                if (error.details() or "").startswith(support.RAISED_PREFIXES):
                    raise Fail(f"{what} was refused: your server raised an exception ({error.details()[:100]})",
                               "look at the end of your server's log (server.logs()): a call such as context.abort"
                               "(code, None) fails inside, and the call ends with whatever code was set") from None
                raise Fail(f"{what} was refused: {support.describe_rpc_error(error)[:100]}", hint) from None

        def free_id(own_stub, preferred: int) -> int:
            """`preferred`, unless a user has it (a server given by address, checked before): then one below it."""
            try:
                own_stub.GetUser(users_pb2.UserRequest(id=preferred), timeout=TIMEOUT)
            except grpc.RpcError:
                return preferred  # nobody has it (or GetUser cannot say): it is tried
            return preferred - 1 - uuid.uuid4().int % 10**9

        def chosen_id():
            hint = ("any id above 0 that no user has is free, however large (an int64 holds up to 2**63-1): store the "
                    "user with it; refuse only what users.problem_with_new_user refuses")
            # the far ids on a copy of its own: after 2**63-1, an id of the server's choosing is no longer the next
            with target.fresh() as own, users_stub(own) as own_stub:
                chosen = [(stub, unused_id())] + [(own_stub, free_id(own_stub, far)) for far in FAR_IDS]
                for number, (asked, user_id) in enumerate(chosen):
                    sent = new_user(f"grace{number}", id=user_id)
                    reply = accepted(sent, f"id {sent.id}, which no user has,", hint, asked)
                    if reply.id != sent.id:
                        raise Fail(f"asked for id {sent.id}, got {reply.id}",
                                   "only id 0 asks the server to choose; keep any other")
                    as_stored(reply, sent)

        def valid():
            longest_nickname = f"long_{tag}".ljust(MAX_NICKNAME, "n")
            longest_mail = "m" * (MAX_MAIL_ADDRESS - len(MAIL_SUFFIX)) + MAIL_SUFFIX
            named = [(f"a user of type {T.Name(number)}", new_user(f"type{number}", user_type=number))
                     for number in T.values() if number != T.USER_TYPE_UNSPECIFIED]
            named += [(f"a nickname of {MAX_NICKNAME} characters", new_user("x", nickname=longest_nickname)),
                      (f"a mail_address of {MAX_MAIL_ADDRESS} characters", new_user("mail", mail_address=longest_mail)),
                      ("a nickname with spaces and capitals", new_user("x", nickname=f" Ada Lovelace {tag} ")),
                      ("a mail_address with two '@'", new_user("at", mail_address=f"ada@home@{tag}.example.com")),
                      ("a nickname not in ASCII", new_user("x", nickname=f"Zoë Ñandú {tag}")),
                      # the limits count characters, not bytes
                      (f"a nickname of {MAX_NICKNAME} characters not in ASCII",
                       new_user("x", nickname=f"Дмитрий {tag}".ljust(MAX_NICKNAME, "й"))),
                      (f"a mail_address of {MAX_MAIL_ADDRESS} characters not in ASCII",
                       new_user("x", mail_address=f"é{tag}".ljust(MAX_MAIL_ADDRESS - len(MAIL_SUFFIX), "é")
                                + MAIL_SUFFIX)),
                      ("a mail_address with a '+'", new_user("plus", mail_address=f"pat+news.{tag}@example.com")),
                      ("a nickname that starts with a digit", new_user("x", nickname=f"2pac {tag}")),
                      ("a mail_address with capitals, spaces around it and no dot after the '@'",
                       new_user("host", mail_address=f" Zoe.{tag}@LocalHost ")),
                      # what a check of one's own refuses or changes, and the kit's rules let through as it is
                      ("a nickname with an emoji (beyond U+FFFF)", new_user("x", nickname=f"party🎉 {tag}")),
                      ("a nickname with a tab", new_user("x", nickname=f"tab\there {tag}")),
                      ("a nickname with a zero-width space", new_user("x", nickname=f"zw\u200bsp {tag}")),
                      ("a nickname with an '@'", new_user("x", nickname=f"ada@home {tag}")),
                      ("a nickname with the ligature 'ﬁ'", new_user("x", nickname=f"ﬁona {tag}")),
                      ("a nickname with a full-width 'Ｚ'", new_user("x", nickname=f"Ｚoe {tag}")),
                      ("a mail_address with a domain label over 63 characters",
                       new_user("label", mail_address=f"label.{tag}@{'d' * 70}.example.com"))]
            for what, sent in named:
                reply = accepted(sent, what, "refuse only what users.problem_with_new_user refuses: every user it "
                                             "lets through must be stored")
                for got in (reply, get(reply.id) if reply.id > 0 else reply):  # id 0 back: the "new id" case
                    if (got.nickname, got.mail_address) != (sent.nickname, sent.mail_address):
                        hint = ("reply with the user directory.add returned: users_pb2.UserResponse(user=stored)"
                                if got is reply and not got.nickname else
                                "store the request as it came: do not change what the caller sent")
                        raise Fail(f"{what}: sent {sent.nickname!r} <{sent.mail_address}>, "
                                   f"{'replied' if got is reply else 'stored'} {got.nickname!r} <{got.mail_address}>",
                                   hint)
                as_stored(reply, sent)

        def short_deadline():
            names = (f"quick{number}" for number in itertools.count())  # a new user on each try
            within(QUICK_DEADLINE, lambda deadline: add(new_user(next(names)), timeout=deadline), "a valid user")

        def taken():
            first = min(users.values(), key=lambda user: user.id)
            for user, named, what in ((new_user("someone", id=first.id), lambda text: names_number(first.id, text),
                                       f"id {first.id}"),
                                      (new_user("x", nickname=first.nickname), lambda text: first.nickname in text,
                                       f"the nickname {first.nickname!r}")):
                details = expect_code(lambda user=user: add(user), grpc.StatusCode.ALREADY_EXISTS, TAKEN_HINT)
                if re.search(INVALID_WORDS, details, re.IGNORECASE):
                    raise Fail(f"ALREADY_EXISTS, but its message {details[:80]!r} calls the user invalid; it is valid, "
                               f"and {what} is taken", TAKEN_HINT)
                if not named(details):
                    raise Fail(f"ALREADY_EXISTS, but its message {details[:80]!r} does not say that {what} is taken",
                               TAKEN_HINT)
                if details != (text := _taken_text(first, user)):
                    raise Fail(f"ALREADY_EXISTS said {details[:80]!r}; the exception's text is {text!r}",
                               "abort with str(error), the exception's text as it is: repr(error), or words of "
                               "your own, say it otherwise")
            twice = new_user("twice", id=unused_id())
            try:
                add(twice)
            except grpc.RpcError:
                return  # a free id refused: the chosen-id case says why
            expect_status(lambda: add(twice), grpc.StatusCode.ALREADY_EXISTS,
                          "the very same user sent again is taken too: the caller must hear ALREADY_EXISTS, not OK, "
                          "which says a user was stored (keep no 'it is only a retry' shortcut of your own)")

        def refused(user, hint: str) -> str:
            """The details of AddUser(user)'s INVALID_ARGUMENT; another code is named: ALREADY_EXISTS as the except
            around the checks, INTERNAL as an except Exception that caught the abort, any other as a wrong code."""
            def asked():
                try:
                    return add(user)
                except grpc.RpcError as error:
                    code = error.code()
                    got = f"got {support.describe_rpc_error(error)}; expected INVALID_ARGUMENT"
                    if code == grpc.StatusCode.ALREADY_EXISTS:
                        raise Fail(got, CAUGHT_ABORT_HINT) from None
                    if code not in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.INTERNAL,
                                    *support.INFRASTRUCTURE_CODES):
                        raise Fail(got, OTHER_CODE_HINT.format(code=code.name)) from None
                    raise

            return expect_code(asked, grpc.StatusCode.INVALID_ARGUMENT, hint)

        def judges_tidied(user) -> bool:
            """Whether `user`, which was stored, passes the rules only once tidied, and its plain twin, as long, is
            refused: then the check saw a tidied copy (else it lets every value that long through)."""
            if kit.problem_with_new_user(tidied(user)) is not None:
                return False
            try:
                add(plain_twin(user, tag))
            except grpc.RpcError as error:
                return error.code() == grpc.StatusCode.INVALID_ARGUMENT
            return False

        def invalid(number, values, needs, hint):
            def case():
                for k, fields in enumerate(values):
                    user = new_user(f"bad{number}{k}", **fields)
                    try:
                        details = refused(user, hint)
                    except Fail as failure:
                        if failure.got.startswith("got OK") and judges_tidied(user):
                            raise Fail(failure.got, TIDIED_HINT) from None  # what a tidied copy lets through
                        raise
                    for words, lacking in needs.items():
                        if not re.search(words, details):
                            raise Fail(f"INVALID_ARGUMENT, but its message {details[:80]!r} does not {lacking}",
                                       NAME_IT)
                    if "id" not in fields:  # the same, with an id the caller chose
                        chosen = new_user(f"bad{number}{k}c", **fields, id=unused_id())
                        try:
                            refused(chosen, hint)
                        except Fail as failure:
                            if failure.got.startswith("got OK"):
                                raise Fail(f"with id {chosen.id} chosen: {failure.got}; the same with id 0 was "
                                           "refused", CHOSEN_TOO_HINT) from None
                    for user_type in () if "user_type" in fields else OTHER_TYPES:  # the same, from anyone
                        try:
                            refused(new_user(f"bad{number}{k}t{user_type}", **fields, user_type=user_type), hint)
                        except Fail as failure:
                            # stored; anything else (the first one's trace: ALREADY_EXISTS) is another case's
                            if failure.got.startswith("got OK"):
                                raise Fail(f"as {T.Name(user_type)}: {failure.got}; the same from a "
                                           "USER_TYPE_NORMAL was refused", EVERY_TYPE_HINT) from None
            return case

        def short():
            hint = ("quote at most a short start of what was sent (users.quoted(text) does), or give its length: "
                    "the caller has the rest")
            long_nickname = users_pb2.User(nickname=f"echo_{tag}".ljust(2_000, "n"), mail_address="m" * 300)
            long_mail = new_user("echo", mail_address=f"echo{tag}".ljust(200, "m"), user_type=T.USER_TYPE_UNSPECIFIED)
            for sent, field in ((long_nickname, "nickname"), (long_mail, "mail_address")):
                refuse = (f"a {field} over its limit is a wrong request: refuse it with INVALID_ARGUMENT and the "
                          "message of users.problem_with_new_user(request), which finds it and quotes a short start")
                details = expect_code(lambda sent=sent: add(sent), grpc.StatusCode.INVALID_ARGUMENT, refuse)
                value = getattr(sent, field)
                if value in details or len(details) >= SHORT_MESSAGE:
                    raise Fail(f"for a {field} of {len(value):,} characters, the message is {len(details):,} "
                               f"characters long{', and holds it whole' if value in details else ''}", hint)

        def not_stored():
            refused = new_user("hopper", id=unused_id(), mail_address="no mail", user_type=T.USER_TYPE_UNSPECIFIED)
            try:
                expect_code(lambda: add(refused), grpc.StatusCode.INVALID_ARGUMENT,
                            "check every field first, then store")
            except Fail as failure:
                if failure.got.startswith("got OK"):
                    return  # stored, not refused: the field cases say why (each sends a chosen id too)
                raise
            hint = ("check every field before self.directory.add, and let context.abort end the method: an abort "
                    "inside try/except Exception is caught, and context.set_code without a `return` ends nothing: "
                    "either way the method stores the user, and the caller still reads INVALID_ARGUMENT")
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
                raise Fail("refused with INVALID_ARGUMENT, yet its nickname was taken afterwards",
                           hint + ", or a record of your own (a set of nicknames seen) keeps its nickname: let "
                           "self.directory.add alone decide what is taken") from None
            first = min(users.values(), key=lambda user: user.id)
            again = new_user("second_try", id=first.id)  # a taken id: how it is refused is the taken case's business
            try:
                add(again)
                return  # stored after all, under another id: the chosen-id and taken cases say why
            except grpc.RpcError:
                pass
            again.id = 0
            try:
                add(again)
            except grpc.RpcError as error:
                if error.code() in support.INFRASTRUCTURE_CODES:
                    raise
                raise Fail(f"refused as ALREADY_EXISTS for its taken id, then the same user with id 0 → "
                           f"{support.describe_rpc_error(error)[:90]}",
                           "a refused user leaves no trace: let self.directory.add decide what is taken, and keep "
                           "no record of your own (a set of nicknames seen, on self) of users it refused") from None

        def at_once():
            twins = {"the same nickname": (new_user("twin"), new_user("twin")),  # id 0 each: the server picks
                     "the same id": (new_user("one", id=unused_id()), new_user("other"))}
            twins["the same id"][1].id = twins["the same id"][0].id
            def crowd(stub, name: str) -> None:
                sent = [new_user(f"{name}{n}") for n in range(CROWD)]
                calls = [stub.AddUser.future(user, timeout=TIMEOUT) for user in sent]
                refused = [call.exception() for call in calls if call.exception() is not None]
                if refused and refused[0].code() == grpc.StatusCode.UNIMPLEMENTED:
                    raise refused[0]  # not done yet
                if refused:
                    nickname_taken = "nickname" in (refused[0].details() or "")  # one call's user stored by another
                    raise Fail(f"{CROWD} new users at once, each with id 0: {len(refused)} refused, the first with "
                               f"{support.describe_rpc_error(refused[0])[:90]}",
                               SHARED_HINT if nickname_taken else CHOSEN_ID_HINT)
                for user, call in zip(sent, calls, strict=True):
                    if call.result().user.nickname != user.nickname:
                        raise Fail(f"{CROWD} new users at once, each with id 0: the reply to {user.nickname} holds "
                                   f"{one_line(call.result().user)[:90]}", SHARED_HINT)

            with target.fresh(env={"USERS_LOOKUP_SECONDS": str(RACE_LOOKUP)}) as slow, users_stub(slow) as racing:
                crowd(racing, "crowd")
                # and at full speed, a few times: a reply kept on self between two quick steps is overwritten in some
                for round_ in range(CROWD_ROUNDS):
                    crowd(stub, f"quick{round_}x")
                for what, pair in twins.items():
                    calls = [racing.AddUser.future(user, timeout=TIMEOUT) for user in pair]  # both sent, then waited
                    errors = [call.exception() for call in calls if call.exception() is not None]
                    codes = " and ".join(sorted(["OK"] * (2 - len(errors)) + [error.code().name for error in errors]))
                    for error in errors:
                        if error.code() in support.INFRASTRUCTURE_CODES:
                            if (error.details() or "").startswith(support.RAISED_PREFIXES):
                                raise Fail(f"two users with {what} at once: {codes}, saying "
                                           f"{(error.details() or '')[:90]!r}", RACE_HINT)
                            raise error  # not done yet, not running, hanging: said as for any case
                    # what else came (the refusal's code and words, a valid user refused) is the other cases' business

        return run_checks("Exercise 4.2 · AddUser", [
            (ADD_USER_RULES["new id"], new_id),
            (ADD_USER_RULES["chosen id"], chosen_id),
            (ADD_USER_RULES["valid"], valid),
            (ADD_USER_RULES["short deadline"], short_deadline),
            (ADD_USER_RULES["taken"], taken),
            *[(rule, invalid(n, *spec)) for n, (rule, *spec) in enumerate(INVALID_FIELDS)],
            (ADD_USER_RULES["short"], short),
            (ADD_USER_RULES["not stored"], not_stored),
            (ADD_USER_RULES["at once"], at_once),
        ], target=target)
