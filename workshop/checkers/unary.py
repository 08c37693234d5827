"""Checker for notebook 04's first exercise (unary RPCs): the learner's GetUser (4.1).

It starts a fresh copy of the learner's module over a directory of its own (see users_cases.seeded),
so what ran before cannot change a verdict. The rules are written down below, one case each;
tests/test_checkers_unary.py breaks each rule on its own. AddUser (4.2) has its checker in
add_user.py, the optional client exercise (4.3) in unary_caller.py.
"""
from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Callable

import grpc

from workshop.checkers import support
from workshop.checkers.support import TIMEOUT, CheckResult, Fail, expect_status, run_checks
from workshop.checkers.users_cases import one_line, seeded, users_stub
from workshop.protos import users_pb2
from workshop.runner.serving import SWITCH_SETTING
from workshop.servers import users as kit

T = users_pb2.UserType


def names_number(number: int, text: str) -> bool:
    """Whether `text` holds `number` on its own (not as part of a longer number)."""
    return re.search(rf"(?<![\w-]){re.escape(str(number))}(?!\d)", text) is not None


# ---------------------------------------------------------------- Exercise 4.1

LATECOMER_ID = 77  # nobody has it in the checker's seed: asked for, then added, then asked for again
GET_USER_RULES = {  # each rule is one case; a wrong-answer test breaks each on its own
    "found": "an existing id (1, the lowest, ids past 2**53, and 2**63-2, next to the largest, too) → its user, "
             "with every field as stored; asked of the directory on every call (a user AddUser has just stored, "
             "under an id asked for before, too)",
    "short deadline": "an existing id, asked with a deadline of 0.25 s and of 0.5 s → its user: how long to wait is "
                      "the caller's choice",
    "unknown": "an unknown id (2**62 and 2**63-1, the largest, too) → NOT_FOUND, with the message "
               "users.no_user_with gives for that id",
    "invalid": "an id of 0 or below → INVALID_ARGUMENT, whatever the directory holds",
    "invalid message": "an id of 0 or below → a message that says what is wrong with the id (that id, if it "
                       "names one), not 'no user'",
    "at once": "32 calls at once, eight times over: 24 for 4 existing ids, among them 8 for 2 unknown ids and 2 "
               "wrong ones → each gets what its own id gets when asked alone: the same user, or the same code and "
               "message",
}

# Users with ids 0 and -7 cannot be added, but this seed plants them: a GetUser that looks them
# up and returns them, instead of refusing the id, fails.
GET_USER_SEED = [
    users_pb2.User(id=0, nickname="ghost", mail_address="ghost@example.com", user_type=T.USER_TYPE_GUEST),
    users_pb2.User(id=-7, nickname="shadow", mail_address="shadow@example.com", user_type=T.USER_TYPE_GUEST),
    users_pb2.User(id=1, nickname=" Ada Byron ", mail_address="Ada@Example.com", user_type=T.USER_TYPE_NORMAL),
    users_pb2.User(id=4, nickname="dave", mail_address="dave@example.com", user_type=T.USER_TYPE_GUEST),
    users_pb2.User(id=7, nickname="grace", mail_address="grace@example.org", user_type=T.USER_TYPE_ADMINISTRATOR),
    users_pb2.User(id=12, nickname="heidi", mail_address="heidi@example.net", user_type=T.USER_TYPE_NORMAL),
    users_pb2.User(id=9, nickname="ivy", mail_address="ivy@example.com", user_type=T.USER_TYPE_DISABLED),
    # beyond 32 bits: an int64 id has no limit of its own above, and a check of one's own that adds one refuses it;
    # not in ASCII: a nickname sent on in metadata (which takes ASCII only) fails
    users_pb2.User(id=5_000_000_000, nickname="zoë", mail_address="zoe@example.com", user_type=T.USER_TYPE_NORMAL),
    # past a float's 53 bits: an id made a float on the way (request.id * 1.0) finds the other one
    users_pb2.User(id=2**53, nickname="even", mail_address="even@example.com", user_type=T.USER_TYPE_NORMAL),
    users_pb2.User(id=2**53 + 1, nickname="odd", mail_address="odd@example.com", user_type=T.USER_TYPE_GUEST),
    # next to the largest int64 (2**63-1, which nobody has): a shortcut of one's own for huge ids ("no directory is
    # that big") misses this user
    users_pb2.User(id=2**63 - 2, nickname="edge", mail_address="edge@example.com", user_type=T.USER_TYPE_NORMAL),
]
# ids the notebook never shows (only a message built from request.id names them), and ids far past 32 and 53 bits
# that nobody has: an int64 id has no limit of its own below 2**63-1, so a cap of one's own refuses them
UNKNOWN_IDS = (73, 2718, 2**62, 2**63 - 1)
INVALID_IDS = (0, -7, -2)  # -2 is planted nowhere: a refusal that does not end the call falls through to NOT_FOUND
# What a message for a wrong id must say (what is wrong with it), and what it must not (that nobody has it).
WRONG_ID_WORDS = (r"positive|at least (1|one)|greater than (0|zero)|above (0|zero)|below (1|one)|less than (1|one)|"
                  r"(1|one) or (more|above|greater)|>= ?1|> ?0|negative|zero")
NOBODY_WORDS = r"no user|not found|no such|does not exist|doesn't exist|unknown user"
INVALID_WORDS = r"invalid|must be|positive|wrong|bad id"  # what NOT_FOUND's and ALREADY_EXISTS's words must not say
INVALID_HINT = ("check users.problem_with_id(request.id) first: an id below 1 is a wrong request (INVALID_ARGUMENT), "
                "even when the directory holds a user with it. (If you do, is its abort inside a try/except "
                "Exception? That catches the exception context.abort raises to end the call, and the method goes on)")
ENDS_THE_CALL_HINT = ("the lookup ran for a wrong id that nobody has: check users.problem_with_id(request.id) first, "
                      "before the lookup, and end the call there with context.abort(grpc.StatusCode.INVALID_ARGUMENT, "
                      "problem). set_code alone does not end the method, and an abort inside try/except Exception is "
                      "caught: either way the method goes on to the lookup")
NAMED_ID = re.compile(r"\b(?:got|id|was|is)\s*[:=]?\s*(-?\d+)", re.IGNORECASE)  # "got -7", "id 0": the id it names
LARGE_ID = 2**31 - 1  # past it, a NOT_FOUND for a stored user is a shortcut of one's own for large ids
AT_ONCE_CALLS, AT_ONCE_IDS, AT_ONCE_ROUNDS = 24, 4, 8  # a state on self shows in some of 192 calls, not of 12
# asked among the found ids at once: an id or a problem kept on self (or in the module) shows as another id's answer
AT_ONCE_OTHER_IDS = (*UNKNOWN_IDS[:2], 0, -2)
AT_ONCE_MIXED_EVERY = 3  # one call for another id after every 3 calls for found ids: 8 more in a crowd of 24
SWITCH_INTERVAL = 1e-6  # seconds between thread switches in the copy that takes the crowd (Python's own: 5 ms)
GRPC_DEADLINE_WORDS = "Deadline Exceeded"  # the details of a DEADLINE_EXCEEDED that grpc itself ends a call with
SHORT_DEADLINES = (0.25, 0.5)  # seconds: far more than a lookup takes, less than a guard of one's own may want left
DEADLINE_TRIES = 3  # a deadline that really passed (a busy laptop) is tried again; passed on every try: no verdict
DEADLINE_REFUSED_HINT = ("the caller's deadline is the caller's to choose: answer as soon as you can, whatever "
                         "context.time_remaining() says. A caller that allows a quarter of a second must get its "
                         "answer: the work takes milliseconds")
METADATA_HINT = ("the call failed after your method had done its work: metadata (headers and trailers) carries ASCII "
                 "text only, so a value not in ASCII (a nickname such as 'zoë', a mail_address) fails the whole "
                 "call with INTERNAL: Invalid metadata. Leave what the caller sent out of metadata (it is in the "
                 "reply already), or send it as bytes under a key that ends in -bin")
INVALID_METADATA = "Invalid metadata"  # grpc's words, when a header or trailer of the method's is not ASCII
SHARED_HINT = ("each call runs on a thread of its own, and calls come at once: keep what one call looks up or works "
               "out (the user, the id, the problem with it) in local variables, not on self (self.user, self.asked, "
               "self.problem) or in the module (a global, a reply made once and filled anew), where the next call "
               "overwrites it")
EXTRA_TEXT_HINT = ("end the call with users.no_user_with(request.id)'s message as it is, with nothing added: the text "
                   "after it ({extra}) is not part of the answer (and other users' ids are not the caller's to see)")


EXCEPT_CATCHES_ABORT_HINT = ("context.abort ends the method by raising an exception, and an `except Exception` "
                             "around it catches that very exception: your abort is undone, and what the except does "
                             "next ({code}) is what the caller hears. Catch only what you mean to catch (in 4.2, "
                             "users.AlreadyExists, around self.directory.add alone), never Exception around "
                             "context.abort")


def abort_caught(error, expected: grpc.StatusCode) -> Fail | None:
    """A Fail that names the `except Exception` around context.abort, when `error` is what such an except gives in
    place of `expected`: INTERNAL (or UNKNOWN) in the method's own words. None for any other error."""
    details = error.details() or ""
    code = error.code()
    if code == expected or details.startswith(support.RAISED_PREFIXES):
        return None
    caught = EXCEPT_CATCHES_ABORT_HINT.format(code=code.name)
    if code == grpc.StatusCode.INTERNAL and details != INVALID_METADATA and "serialize" not in details:
        return Fail(f"got {support.describe_rpc_error(error)[:100]}; expected {expected.name}", caught)
    if code == grpc.StatusCode.UNKNOWN:  # a code given as a string does the same: both are named
        return Fail(f"the call ended UNKNOWN with your server's own words ({support.describe_rpc_error(error)[:100]})",
                    "if it was context.abort: its first argument is a grpc.StatusCode, such as grpc.StatusCode."
                    f"{expected.name}; a string ('{expected.name}') or a number becomes UNKNOWN. Or else: " + caught)
    return None


def expect_code(call: Callable[[], object], code: grpc.StatusCode, hint: str) -> str:
    """support.expect_status, where an except that caught context.abort's exception is named as such."""
    def made():
        try:
            return call()
        except grpc.RpcError as error:
            if (caught := abort_caught(error, code)) is not None:
                raise caught from None
            raise

    return expect_status(made, code, hint)


def within(deadline: float, attempt: Callable[[float], object], what: str):
    """attempt(deadline)'s reply, a call made with that deadline (support.with_short_deadline: a Fail when the method
    itself ended it as DEADLINE_EXCEEDED); None when the deadline really passed on every try, and None for a
    refusal, which the cases without a short deadline judge."""
    try:
        return support.with_short_deadline(attempt, what, DEADLINE_REFUSED_HINT, deadline, DEADLINE_TRIES)
    except grpc.RpcError as error:
        if error.code() in support.INFRASTRUCTURE_CODES:
            raise  # not done yet, not running, or an exception: said as for any case
        return None


def _refused_with_another_code(user_id: int, error) -> Fail | None:
    """A Fail that names the code, when a wrong id was refused with its problem's words but another code."""
    if error.code() in (grpc.StatusCode.INVALID_ARGUMENT, *support.INFRASTRUCTURE_CODES):
        return None
    if not re.search(WRONG_ID_WORDS, error.details() or "", re.IGNORECASE):
        return None  # not a refusal of the id: the lookup ran, and the other hints say why
    return Fail(f"id {user_id} → {support.describe_rpc_error(error)[:100]}; expected INVALID_ARGUMENT",
                f"a wrong request is INVALID_ARGUMENT, whatever is wrong in it: {error.code().name} says something "
                "else (NOT_FOUND: a good id that nobody has; OUT_OF_RANGE: past the end of a sequence)")


class Unsettled(Exception):
    """A call that ended with no answer of the method's own (not written, not running, too slow)."""

    def __init__(self, error):
        super().__init__(error)
        self.error = error


def _outcome(call) -> users_pb2.User | tuple[str, str]:
    """What a GetUser call (a future) answered: its user, or its code's name and its message; Unsettled when
    grpc itself ended it, which says nothing of the id."""
    try:
        return call.result().user
    except grpc.RpcError as error:
        if error.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE,
                            grpc.StatusCode.DEADLINE_EXCEEDED):
            raise Unsettled(error) from None
        return error.code().name, error.details() or ""


def _crowd(found_ids: list[int], other_ids: list[int]) -> list[int]:
    """The ids of one crowd: AT_ONCE_CALLS for the found ones (as dense as ever: a user kept on self shows where
    found ids meet), with a call for one of the others after every few."""
    others = itertools.cycle(other_ids)
    asked = []
    for n in range(AT_ONCE_CALLS):
        asked.append(found_ids[n % len(found_ids)])
        if other_ids and n % AT_ONCE_MIXED_EVERY == AT_ONCE_MIXED_EVERY - 1:
            asked.append(next(others))
    return asked


def _said(outcome) -> str:
    """An outcome of _outcome, in a few words."""
    if isinstance(outcome, tuple):
        return f"{outcome[0]}: {outcome[1][:60]}"
    return one_line(outcome)


def check_get_user(server) -> CheckResult:
    """Exercise 4.1: `server` is the running server of my_get_user.py (or an address)."""
    with seeded(server, GET_USER_SEED) as (target, users), users_stub(target) as stub:

        def get(user_id, timeout: float = TIMEOUT):
            return stub.GetUser(users_pb2.UserRequest(id=user_id), timeout=timeout)

        def found():
            for user in [user for user_id, user in sorted(users.items()) if user_id > 0]:  # of every type
                try:
                    reply = get(user.id).user
                except grpc.RpcError as error:
                    if (error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
                            and error.details() != GRPC_DEADLINE_WORDS):  # the method's own abort
                        raise Fail(f"GetUser({user.id}) with a deadline of {TIMEOUT:g} s → "
                                   f"{support.describe_rpc_error(error)[:80]}", DEADLINE_REFUSED_HINT) from None
                    if error.code() == grpc.StatusCode.INTERNAL and error.details() == INVALID_METADATA:
                        raise Fail(f"GetUser({user.id}) → {support.describe_rpc_error(error)}, for "
                                   f"{one_line(user)}", METADATA_HINT) from None
                    if error.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                        raise
                    why = ("an id of 1 or more is a good one: users.problem_with_id(request.id) says so"
                           if error.code() == grpc.StatusCode.INVALID_ARGUMENT else
                           "ask self.directory.get for every good id, however large (an int64 holds ids up to "
                           "2**63-1): a shortcut of your own that answers NOT_FOUND for large ids misses the users "
                           "who have them" if user.id > LARGE_ID
                           else "look up the id that was asked for, as it is, self.directory.get(request.id), and "
                                f"return whoever it finds, of every user_type ({T.Name(user.user_type)} too)")
                    raise Fail(f"GetUser({user.id}) → {support.describe_rpc_error(error)[:80]}, yet the directory "
                               f"holds {one_line(user)}", why) from None
                if reply != user:
                    raise Fail(f"GetUser({user.id}) gave {one_line(reply)}; expected {one_line(user)}",
                               "look up the id that was asked for, as it is: self.directory.get(request.id). An id "
                               "made a float on the way (request.id * 1.0, float(...)) loses its last digits past "
                               "2**53, and finds another user" if reply.ByteSize() and reply.id != user.id else
                               "return users_pb2.UserResponse(user=user) with the user self.directory.get found")
            added = users_pb2.User(id=LATECOMER_ID, nickname="lou", mail_address="lou@example.com",
                                   user_type=users_pb2.USER_TYPE_GUEST)
            with contextlib.suppress(grpc.RpcError):  # nobody has it yet: the unknown case judges what came
                get(added.id)
            stub.AddUser(added, timeout=TIMEOUT)
            try:
                reply = get(added.id).user
            except grpc.RpcError as error:
                raise Fail(f"AddUser stored {one_line(added)}, then GetUser({added.id}) → "
                           f"{support.describe_rpc_error(error)[:80]}",
                           "ask self.directory on every call: an answer kept from an earlier call (a cache on self "
                           "or in the module) misses whoever was added since") from None
            if reply != added:
                raise Fail(f"AddUser stored {one_line(added)}, then GetUser({added.id}) gave {one_line(reply)}",
                           "ask self.directory on every call, and return the user it finds")

        def short_deadline():
            user = users[min(user_id for user_id in users if user_id > 0)]
            for deadline in SHORT_DEADLINES:
                within(deadline, lambda deadline: get(user.id, timeout=deadline), f"GetUser({user.id})")

        def unknown():
            for user_id in UNKNOWN_IDS:
                def asked(user_id=user_id):
                    try:
                        reply = get(user_id)
                    except grpc.RpcError as error:
                        if error.code() == grpc.StatusCode.INVALID_ARGUMENT and user_id > 0:
                            raise Fail(f"GetUser({user_id}) → {support.describe_rpc_error(error)[:90]}; expected "
                                       "NOT_FOUND", "an id of 1 or more is a good one, however large: an int64 "
                                       "holds ids up to 2**63-1, and users.problem_with_id(request.id) finds nothing "
                                       "wrong with them. Nobody has this one: NOT_FOUND") from None
                        raise
                    if reply.user.ByteSize() and reply.user.id != user_id:
                        raise Fail(f"GetUser({user_id}), an id nobody has, gave {one_line(reply.user)}",
                                   "look up the id that was asked for, as it is: self.directory.get(request.id), "
                                   "and when it finds nobody, NOT_FOUND")
                    return reply

                details = expect_code(asked, grpc.StatusCode.NOT_FOUND,
                                      "when self.directory.get finds nobody, end the call with "
                                      "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))")
                if not names_number(user_id, details):
                    raise Fail(f"NOT_FOUND for id {user_id}, but its message {details[:80]!r} does not name {user_id}",
                               "build the message from request.id: users.no_user_with(request.id)")
                if re.search(r"\bNone\b", details):
                    raise Fail(f"NOT_FOUND for id {user_id}, but its message {details[:80]!r} shows a None",
                               "a None made it into the text (a problem_with_id that found nothing wrong?): build "
                               "the message from request.id, users.no_user_with(request.id)")
                if re.search(INVALID_WORDS, details, re.IGNORECASE):
                    raise Fail(f"NOT_FOUND for id {user_id}, but its message {details[:80]!r} says the id is wrong; "
                               "it is a good id that nobody has", "build the message from request.id: "
                               "users.no_user_with(request.id)")
                if details != (expected := kit.no_user_with(user_id)) and details.startswith(expected):
                    raise Fail(f"NOT_FOUND for id {user_id}, with the message {details[:80]!r}; users.no_user_with("
                               f"{user_id}) gives {expected!r}",
                               EXTRA_TEXT_HINT.format(extra=repr(details[len(expected):][:40])))
                if details != expected:
                    raise Fail(f"NOT_FOUND for id {user_id}, with the message {details[:80]!r}; users.no_user_with("
                               f"{user_id}) gives {expected!r}", "end the call with users.no_user_with(request.id)'s "
                               "message: give it the id, request.id (given the request, it words the whole "
                               "request: 'id: 73')")

        def refused(user_id) -> str:
            """The details of GetUser(user_id)'s INVALID_ARGUMENT, or a Fail that says what came instead."""
            def asked():
                try:
                    return get(user_id)
                except grpc.RpcError as error:
                    if (wrong := _refused_with_another_code(user_id, error)) is not None:
                        raise wrong from None
                    raise

            hint = INVALID_HINT if user_id in users else ENDS_THE_CALL_HINT
            return expect_code(asked, grpc.StatusCode.INVALID_ARGUMENT, hint)

        def invalid():
            for user_id in INVALID_IDS:
                refused(user_id)

        def invalid_message():
            for user_id in INVALID_IDS:
                details = refused(user_id)
                say_it = f"say what was wrong: users.problem_with_id(request.id) gives {kit.problem_with_id(user_id)!r}"
                if re.search(NOBODY_WORDS, details, re.IGNORECASE):
                    raise Fail(f"INVALID_ARGUMENT for id {user_id}, but its message {details[:80]!r} says that nobody "
                               "has the id, not that the id itself is wrong", say_it)
                if not re.search(WRONG_ID_WORDS, details, re.IGNORECASE):
                    raise Fail(f"INVALID_ARGUMENT for id {user_id}, but its message {details[:80]!r} does not say "
                               "what is wrong with the id (a good id is 1 or more)", say_it)
                named = NAMED_ID.search(details)
                if named and int(named.group(1)) != user_id:
                    raise Fail(f"INVALID_ARGUMENT for id {user_id}, but its message {details[:80]!r} names id "
                               f"{named.group(1)}", "build the message from request.id: " + say_it)

        def at_once():
            """Each call of a crowd answers as its id is answered when asked alone (what that is, is the other
            cases' business): found, unknown and wrong ids mixed, so that an id, a user or a problem kept where
            another call overwrites it shows as another id's answer."""
            def ask(user_id):
                return stub.GetUser.future(users_pb2.UserRequest(id=user_id), timeout=TIMEOUT)

            alone, failed = {}, None
            for user_id in sorted(user_id for user_id in users if user_id > 0)[:AT_ONCE_IDS]:
                try:
                    alone[user_id] = ask(user_id).result().user
                except grpc.RpcError as error:
                    if error.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.DEADLINE_EXCEEDED):
                        raise  # not done yet, or too slow for a crowd: said as for any case
                    failed = error  # an id refused alone: the found case says why, and the others are asked
            if not alone:
                if failed.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                    return  # the method's own refusals, of good ids: the found case says why
                raise failed  # an error for every id, alone: said as for any case
            found_ids = list(alone)
            for user_id in AT_ONCE_OTHER_IDS:
                with contextlib.suppress(Unsettled):  # no answer of its own to compare with: left out of the crowd
                    alone[user_id] = _outcome(ask(user_id))
            asked = _crowd(found_ids, [user_id for user_id in alone if user_id not in found_ids])
            # on a copy whose threads take turns every microsecond, where a gap of a few instructions between
            # writing self.user and reading it back shows in most rounds (at Python's 5 ms, in few)
            with seeded(target, GET_USER_SEED, env={SWITCH_SETTING: str(SWITCH_INTERVAL)}) as (switching, _), \
                    users_stub(switching) as switching_stub:
                for _ in range(AT_ONCE_ROUNDS):
                    calls = [switching_stub.GetUser.future(users_pb2.UserRequest(id=user_id), timeout=TIMEOUT)
                             for user_id in asked]
                    for user_id, call in zip(asked, calls, strict=True):
                        try:
                            got = _outcome(call)
                        except Unsettled as unsettled:
                            raise unsettled.error from None  # not done yet, not running, too slow: as for any case
                        if got != alone[user_id]:
                            raise Fail(f"{len(asked)} calls at once, for ids {', '.join(map(str, alone))}: GetUser("
                                       f"{user_id}) → {_said(got)}; asked alone, {_said(alone[user_id])}",
                                       SHARED_HINT)

        return run_checks("Exercise 4.1 · GetUser", [
            (GET_USER_RULES["found"], found),
            (GET_USER_RULES["short deadline"], short_deadline),
            (GET_USER_RULES["unknown"], unknown),
            (GET_USER_RULES["invalid"], invalid),
            (GET_USER_RULES["invalid message"], invalid_message),
            (GET_USER_RULES["at once"], at_once),
        ], target=target)
