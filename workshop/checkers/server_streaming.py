"""Checker for notebook 05 (server streaming): the learner's GetUsersByType, over real channels.

It judges a fresh copy of the learner's module over a directory of its own (users_cases.seeded),
so nothing that ran before changes a verdict. The seed is built to make mistakes show:
- the NORMAL users are stored neither in id order nor in nickname order, so only id order passes;
  and one of their ids (100) lies past the others, so that a set of them (which orders small ids close
  together by chance) gives them in an order of its own;
- one user is planted with no type at all (AddUser would refuse it), so a server that does not
  refuse USER_TYPE_UNSPECIFIED streams it;
- thousands of guests with long addresses make a stream far larger than the flow-control window
  of the checker's connection: when the client stops reading, the server really waits inside its
  `yield`, which is where a lock held while streaming would make every other call wait too.
"""
from __future__ import annotations

import contextlib
import os
import queue
import re
import statistics
import threading
import time

import grpc

from workshop.checkers import support, users_cases
from workshop.checkers.support import Fail
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.runner.serving import DEFAULT_WORKERS, WORKERS_SETTING

UserType = users_pb2.UserType
NORMAL, GUEST = users_pb2.USER_TYPE_NORMAL, users_pb2.USER_TYPE_GUEST
NOT_A_TYPE = 99  # a number UserType does not list
NEGATIVE = -1  # a number below every type: a check of `>= len(...)` alone lets it through
# The first number past the last type, and its negative: a check of `> len(UserType.keys())`, off by one (the keys
# count USER_TYPE_UNSPECIFIED too), lets the first through
PAST_THE_LAST = max(UserType.values()) + 1
REFUSED = (users_pb2.USER_TYPE_UNSPECIFIED, NOT_A_TYPE, NEGATIVE, PAST_THE_LAST, -PAST_THE_LAST)
PROBE_WAIT = 2.0  # seconds: how long a call may take while another stream is paused or was cancelled
# Seconds a paused stream's neighbours may take, typically, to send their first user (a correct answer: a few ms).
# A lock taken with a timeout (acquire(timeout=0.5)) passes the PROBE_WAIT test but makes each of them wait that long.
WAITED = 0.3
WAITED_AFTER = 5  # paused streams after the first whose median time to their first user is judged
SHORT_DEADLINE = 0.4  # seconds: a call with so short a deadline must still get all its users (a reply takes ms)
FILL_WAIT = 0.3  # seconds for a paused stream's server to fill the flow-control window and block
# Paused at once: as many as the server's pool has threads, less two for the probes (30 of DEFAULT_WORKERS = 32).
# A semaphore held across yields with fewer slots than that is full; one with more is no tighter than the pool itself.
# Each stays open for PAUSED_FOR s, past both rounds of probes, so none lets its slot go meanwhile.
SPARE_WORKERS = 2
MOST_PAUSED = 100  # for a module that asks for a huge pool: each paused stream is a connection of its own
PAUSED_FOR = support.TIMEOUT + 2 * PROBE_WAIT
CANCEL_POOL = 4  # threads of the copy that the cancelled streams run on
CANCELLED_STREAMS = 40  # one after another: more than a pool of connections or slots a learner would make
# Where the streams are quick (a few ms each for a plain generator), so many that a count of open streams refused at
# 100 runs out too; a method slow between yields stops at CANCELLED_STREAMS, so as not to keep the learner waiting.
QUICK_CANCELLED_STREAMS = 110
QUICK_STREAM = 0.08  # seconds per cancelled stream, on average, up to which streams count as quick
# Seconds from the start of the cancel case by which its last stream must have started: its deadline, less a stream's
# wait and a margin, so that a method too slow for 40 streams is told so (at the pace of its first few), not cut off
# by the case's deadline.
CANCEL_BUDGET = 2 * support.CASE_DEADLINE - PROBE_WAIT - 2.0
# Asked at once, and each alone: a servicer that keeps its request (or its list) on self answers one of them with
# another's users. Only when two calls meet in the moment between storing and reading it, so: many calls, in rounds.
AT_ONCE = (NORMAL, users_pb2.USER_TYPE_ADMINISTRATOR, users_pb2.USER_TYPE_DISABLED)
AT_ONCE_CALLS = 12  # sent together in each round, the three types in turn
AT_ONCE_ROUNDS = 8

# JSON order nora, tess, ada, bo, NORA; id order tess, bo, NORA, nora, ada; nickname order NORA, ada, bo, nora, tess;
# set order (of their ids) tess, ada, bo, NORA, nora, as 100 falls into the slot after 4's.
# "bo Li " has a capital and spaces (one at its end): as stored, so a stream that tidies nicknames shows. NORA and
# nora are two users whose nicknames differ only in case: a stream that drops "the same name" again shows.
NORMAL_USERS = [(9, "nora"), (4, "tess"), (100, "ada"), (6, "bo Li "), (7, "NORA")]
IN_ID_ORDER = [name for _, name in sorted(NORMAL_USERS)]
GUESTS = range(1000, 4000)  # 3,000 guests, about 780 KB: eight times what OWN_CONNECTION takes in unread
UNTYPED_ID = 13


def _user(user_id: int, nickname: str, user_type: int, mail: str = "") -> users_pb2.User:
    return users_pb2.User(id=user_id, nickname=nickname, user_type=user_type,
                          mail_address=mail or f"{nickname.strip().replace(' ', '.')}@example.com")


def checker_seed() -> list[users_pb2.User]:
    """The directory every check runs on. No user is DISABLED: that type's stream must be empty."""
    normal = [_user(user_id, name, NORMAL) for user_id, name in NORMAL_USERS]
    padding = "x" * 220  # addresses near the contract's limit of 254 characters, to fill the window fast
    guests = [_user(n, f"guest{n}", GUEST, f"guest{n}.{padding}@example.com") for n in GUESTS]
    return [normal[0], *guests[:10], normal[1], _user(2, "root", users_pb2.USER_TYPE_ADMINISTRATOR),
            normal[2], _user(UNTYPED_ID, "untyped", users_pb2.USER_TYPE_UNSPECIFIED), normal[3], *guests[10:],
            normal[4]]


WRAP_HINT = "yield users_pb2.UserResponse(user=user): the User goes inside a UserResponse"
EMPTY_FIRST_HINT = ("refuse first: nothing may be yielded before the type check and its abort, not even an empty "
                    "UserResponse (the client reads it as a user with id 0). Then yield one "
                    "users_pb2.UserResponse(user=user) per user")
END_MARKER_HINT = ("an empty message is no end marker: the client reads it as one more user, with id 0. The stream "
                   "ends when the method returns (the client's loop then ends by itself): yield only the users")
LONE_EMPTY_HINT = ("an empty UserResponse is no user (the client reads it as a user with id 0): yield nothing before "
                   "the type check and its abort, and no end marker after the users; the stream ends when the method "
                   "returns, so a type nobody has yields nothing at all")
METADATA_HINT = ("metadata values are str (or bytes, for a key ending in -bin): an int in set_trailing_metadata or "
                 "send_initial_metadata makes grpcio fail as it sends it, and the call never ends. Send "
                 "str(len(found)), for instance")
SELF_CANCEL_HINT = ("the checker did not cancel this stream: your method cancelled its own call (context.cancel() "
                    "ends it CANCELLED for the client). To end a stream OK, just return, or let the loop end")
ENDED_EARLY_HINT = ("the method returned before its first yield: is a test the wrong way round? context.is_active() "
                    "is True while the client still listens, so return only once it is False "
                    "(`if not context.is_active(): return`)")
SHARED_HINT = ("keep what belongs to one call in local variables (request, the list of_type gives), not on self: one "
               "servicer object serves every call, so a call that stores its request on self replaces the request "
               "of another call still running")
TYPE_HINT = ("check users.problem_with_user_type(request.user_type) first, and if it finds a problem, "
             "context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem) before the first yield")
LATE_ABORT_HINT = ("the call ended with the right code, but only after yielding: call context.abort(grpc.StatusCode."
                   "INVALID_ARGUMENT, problem) before the first yield, and let the exception it raises end the call "
                   "(a try/except around it, or context.set_code without a return, goes on yielding)")
OFFERS_REFUSED_HINT = ("offer only what is accepted: USER_TYPE_UNSPECIFIED is refused, so a message that lists it "
                       "among the types to send sends the client round again. users.problem_with_user_type(request."
                       "user_type) names the types to send (users.USER_TYPES: every type but USER_TYPE_UNSPECIFIED)")
SAYS_WHY_HINT = ("the message is all the client learns: say what is wrong and what to send instead, as "
                 "users.problem_with_user_type(request.user_type) does; abort with that problem as the message")
ORDER_HINT = ("yield one UserResponse per user of self.directory.of_type(request.user_type), "
              "in the order it gives them (id order)")
SET_ORDER_HINT = (ORDER_HINT + ": a set (or a dict's keys made into one) has an order of its own, which is id order "
                  "only by chance, for small ids close together. To send each user once, keep the list's order")
SHORT_DEADLINE_HINT = ("send every user however little time the deadline leaves: a stream that ends OK tells the "
                       "client it has them all. The deadline is the client's to keep: when it passes, gRPC ends the "
                       "call DEADLINE_EXCEEDED by itself (a check of context.time_remaining() that returns early, or "
                       "aborts with DEADLINE_EXCEEDED before the time is up, only hides it)")
EMPTY_HINT = "a type nobody has is not an error: the loop runs zero times, and the stream ends OK by itself"
LOCK_HINT = ("hold no lock (nor a semaphore's slot) across a yield: a yield waits for as long as the client does "
             "not read. of_type hands you a list and lets go of its lock; yield from that list")
WAITED_HINT = (LOCK_HINT + ". A lock taken with a timeout (acquire(timeout=...)) is held across the yields too: "
               "every other call waits out that timeout")
SLOW_HINT = ("the method is slow (a time.sleep per call or per user?), or never ends (a loop that waits after the "
             "last yield?): yield each user of the list that of_type gives, then let the method end")
SLOW_CANCEL_HINT = ("the method is slow: a time.sleep (or other slow work) per call or per user makes every stream "
                    "that slow, and holds one of the server's few worker threads all the while, so calls wait for "
                    "each other. Yield from the list that of_type gives at once; where work must be slow, check "
                    "context.is_active() between its steps and return once it is False")
CANCEL_HINT = ("when the client cancels, grpcio drops your generator at its yield, so code after the loop "
               "never runs: give back what you take (a lock, a semaphore, a file) with `with` or `finally`")
LEAKED_LOCK_HINT = ("the first cancelled stream kept something only one call can hold: a lock, released after the "
                    "loop? grpcio drops a cancelled generator at its yield, so that release() never runs. "
                    "Take it with `with`, or release it in `finally` (and better, hold no lock across a yield)")
COUNTED_HINT = ("a cancelled stream never reaches the code after its loop: a count of open streams (or a slot) "
                "raised before the loop and lowered after it stays raised for each cancel, until every call is "
                "refused. Lower it in `finally` (or take the slot with `with`)")
THREAD_LEFT_HINT = ("each cancelled stream left a thread running. grpcio leaves a cancelled generator at its yield "
                    "(by GeneratorExit), so code after the loop never runs: a thread your method stops there (a "
                    "threading.Timer cancelled, an Event set for a progress thread) runs on. Stop it in `finally`. "
                    "A producer that put()s into a queue waits for ever once nobody takes from it: use put(..., "
                    "timeout=...) and stop when context.is_active() is False, or better, yield from the list that "
                    "of_type gives, with no thread")
ABORT_OK_HINT = ("context.abort cannot end a call OK: it is for errors, and grpcio turns abort(grpc.StatusCode.OK, "
                 "...) into UNKNOWN. For a type nobody has, just return (or let the loop end): an empty stream that "
                 "ends OK")
ABORT_OK_WORDS = "abort() called with StatusCode.OK"  # what grpcio logs as it turns that abort into UNKNOWN
FILE_LEFT_HINT = ("each cancelled stream left a file open: grpcio drops a cancelled generator at its yield, so a "
                  "close() after the loop never runs. Open it with `with open(...) as log:` around the loop, or "
                  "close it in `finally`")
# What a message must name to say what is wrong with each type the checker sends.
NAMES_THE_PROBLEM = {users_pb2.USER_TYPE_UNSPECIFIED: r"user_type|unspecified|not set|\b0\b",
                     **{number: rf"{number}\b" if number < 0 else rf"(?<!-)\b{number}\b" for number in REFUSED[1:]}}
NAMED_AS = {users_pb2.USER_TYPE_UNSPECIFIED: "the user_type was not set",
            **{number: f"the number {number}" for number in REFUSED[1:]}}
NAMES_A_TYPE = "|".join(name.removeprefix("USER_TYPE_") for name in UserType.keys() if name != "USER_TYPE_UNSPECIFIED")
# USER_TYPE_UNSPECIFIED in a list of types (next to another, after a comma, an "or", a slash): offered as a choice
_LISTED = r"\s*(?:,|/|\bor\b|\band\b)\s*(?:USER_TYPE_)?"
OFFERS_UNSPECIFIED = rf"UNSPECIFIED{_LISTED}(?:{NAMES_A_TYPE})\b|\b(?:{NAMES_A_TYPE}){_LISTED}UNSPECIFIED"
LATECOMER = users_pb2.User(id=200, nickname="lou", mail_address="lou@example.com", user_type=NORMAL)


def _counted(users) -> str:
    return {0: "no users", 1: "1 user"}.get(len(users), f"{len(users)} users")


def _streams(number: int) -> str:
    return "1 stream was" if number == 1 else f"{number} streams were"


def _type_name(user_type: int) -> str:
    return UserType.Name(user_type) if user_type in UserType.values() else f"user_type {user_type}"


def _short_name(user_type: int) -> str:
    return _type_name(user_type).removeprefix("USER_TYPE_")


def _listing(stub, user_type: int, timeout: float = support.TIMEOUT):
    """Every user the stream sent, and the error it ended with (None if it ended OK)."""
    return _read(stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=user_type), timeout=timeout), user_type)


def _read(call, user_type: int):
    """Every user `call` (a GetUsersByType stream of `user_type`) sent, and the error it ended with, or None."""
    replies, error = [], None
    try:
        for reply in call:
            replies.append(reply)
    except grpc.RpcError as raised:
        error = raised
    what = _short_name(user_type)
    empty = [number for number, reply in enumerate(replies) if not reply.HasField("user")]
    came = "an empty UserResponse" if len(empty) == 1 else f"{len(empty)} empty UserResponses"
    ended = f", then {error.code().name}" if error is not None else ""
    if len(replies) == 1 and empty and error is None:  # before the type check, or an end marker: both are wrong
        raise Fail(f"{what} → {came} (no user in it), and nothing else", LONE_EMPTY_HINT)
    # before users, or before an error: yielded before the type check
    if empty and empty == list(range(len(empty))) and (len(empty) < len(replies) or error is not None):
        then = ", then the users" if len(empty) < len(replies) else ended
        raise Fail(f"{what} → {came} (no user in it) came first{then}", EMPTY_FIRST_HINT)
    if empty and empty[0] > 0 and empty == list(range(empty[0], len(replies))):  # after every user: an end marker
        raise Fail(f"{what} → {_counted(replies[:empty[0]])}, then {came} (no user in it){ended}", END_MARKER_HINT)
    if empty:
        raise Fail("a message came with no user in it", WRAP_HINT)
    if error is not None and error.code() == grpc.StatusCode.CANCELLED:
        sent = f"{_counted(replies)}, then " if replies else ""
        raise Fail(f"{what} → {sent}CANCELLED, though the checker read on and did not cancel", SELF_CANCEL_HINT)
    return [reply.user for reply in replies], error


def _ended_ok(users, error, what: str, hint: str) -> list[users_pb2.User]:
    if error is None:
        return users
    if error.code() in support.INFRASTRUCTURE_CODES:
        raise error
    sent = f"{_counted(users)}, then " if users else ""
    raise Fail(f"{what} → {sent}{support.describe_rpc_error(error)}; expected a stream that ends OK", hint)


# ---------------------------------------------------------------- the rules, one case each


def refuses_a_type_that_is_not_one(target) -> None:
    with users_cases.users_stub(target) as stub:
        for user_type in REFUSED:
            users, error = _listing(stub, user_type)
            what = _type_name(user_type)
            if error is None:
                raise Fail(f"{what} → a stream of {_counted(users)} that ended OK; expected INVALID_ARGUMENT",
                           TYPE_HINT + _let_through(user_type))
            if error.code() in support.INFRASTRUCTURE_CODES:
                raise error
            if error.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise Fail(f"{what} → {support.describe_rpc_error(error)}; expected INVALID_ARGUMENT", TYPE_HINT)
            if users:
                raise Fail(f"{what} → {_counted(users)} came before INVALID_ARGUMENT; expected none", LATE_ABORT_HINT)
            said = error.details() or ""
            shown = repr(said if len(said) <= 80 else said[:79] + "…")
            if re.search(r"no users?\b.*\b(has|have|of)|nobody|not found", said, re.IGNORECASE):
                raise Fail(f"{what} → INVALID_ARGUMENT said {shown}, as if nobody had a type that is not one",
                           SAYS_WHY_HINT)
            if not re.search(NAMES_THE_PROBLEM[user_type], said, re.IGNORECASE):
                raise Fail(f"{what} → INVALID_ARGUMENT said {shown}, which does not say what is wrong",
                           f"name what was sent ({NAMED_AS[user_type]}): {SAYS_WHY_HINT}")
            if not re.search(NAMES_A_TYPE, said, re.IGNORECASE):
                raise Fail(f"{what} → INVALID_ARGUMENT said {shown}, which does not say what to send instead "
                           "(no type is named)", SAYS_WHY_HINT)
            if re.search(OFFERS_UNSPECIFIED, said, re.IGNORECASE):
                raise Fail(f"{what} → INVALID_ARGUMENT said {shown}, which offers USER_TYPE_UNSPECIFIED as a type to "
                           "send, though it is refused", OFFERS_REFUSED_HINT)


def _let_through(user_type: int) -> str:
    """What a hint adds for a number that is not a type, and that a test of the wrong bounds lets through."""
    if user_type == PAST_THE_LAST:
        return (f" (it refuses {user_type} too: the last type is {user_type - 1}. A test against "
                "len(UserType.keys()) is off by one, as the keys count USER_TYPE_UNSPECIFIED)")
    return " (it refuses numbers below 0 too: none is a type)" if user_type < 0 else ""


def streams_each_user_once_in_id_order(target) -> None:
    stored = {user.id: user for user in checker_seed()}
    with users_cases.users_stub(target) as stub:
        users = _ended_ok(*_listing(stub, NORMAL), "NORMAL", ORDER_HINT)
    incomplete = next((user for user in users if user.id in stored and user.nickname == stored[user.id].nickname
                       and user != stored[user.id]), None)
    if incomplete is not None:
        raise Fail(f"{incomplete.nickname} came as {users_cases.one_line(incomplete)}; stored as "
                   f"{users_cases.one_line(stored[incomplete.id])}",
                   "yield each user as of_type gives it, every field: users_pb2.UserResponse(user=user)")
    retold = next((user for user in users if user.id in stored and user.nickname != stored[user.id].nickname
                   and user.nickname.strip().lower() == stored[user.id].nickname.strip().lower()), None)
    if retold is not None:
        raise Fail(f"{stored[retold.id].nickname!r} came as {retold.nickname!r}",
                   "yield each user as of_type gives it, nickname and all: users_pb2.UserResponse(user=user), "
                   "nothing tidied")
    stranger = next((user for user in users if user.user_type != NORMAL), None)
    if stranger is not None:
        raise Fail(f"{stranger.nickname} came too, and is {_type_name(stranger.user_type)}",
                   "yield only the users of the type asked for: self.directory.of_type(request.user_type)")
    names = [user.nickname for user in users]
    if not names:
        raise Fail(f"NORMAL → no users, and the stream ended OK; {len(IN_ID_ORDER)} users have the type",
                   ENDED_EARLY_HINT)
    got = f"got {', '.join(names)}"
    if names == IN_ID_ORDER:
        _in_short_time(target)
        with users_cases.users_stub(target) as stub:  # a user added since must come too: of_type on every call
            stub.AddUser(LATECOMER, timeout=support.TIMEOUT)
            again = [user.nickname for user in _ended_ok(*_listing(stub, NORMAL), "NORMAL, asked again", ORDER_HINT)]
        if again != [*IN_ID_ORDER, LATECOMER.nickname]:
            raise Fail(f"NORMAL, asked again after {LATECOMER.nickname} was added: {', '.join(again)}; expected "
                       f"{', '.join([*IN_ID_ORDER, LATECOMER.nickname])}", "ask self.directory.of_type(request."
                       "user_type) on every call: a list kept from an earlier call misses whoever was added since")
        return
    if sorted(names) != sorted(IN_ID_ORDER):
        twice = [name for name in IN_ID_ORDER if names.count(name) > 1]
        missing = [name for name in IN_ID_ORDER if name not in names]
        why = f"{', '.join(twice)} came more than once" if twice else f"{', '.join(missing)} missing"
        alike = next((name for name in missing for other in names if name != other and
                      name.strip().casefold() == other.strip().casefold()), None)
        raise Fail(f"{got}: {why}", ORDER_HINT if alike is None else
                   f"{alike!r} is a user of its own (another id), though its nickname looks like another's: "
                   "yield every user of_type gives, with nothing left out as 'the same name'")
    order = {tuple(sorted(IN_ID_ORDER)): "nickname order", tuple(reversed(IN_ID_ORDER)): "newest first"}
    raise Fail(f"{got} ({order.get(tuple(names), 'in no order')}); expected id order: {', '.join(IN_ID_ORDER)}",
               ORDER_HINT if tuple(names) in order else SET_ORDER_HINT)


def _in_short_time(target) -> None:
    """A call with a short deadline gets every user too: its time is the client's to keep."""
    def attempt(timeout: float):
        users, error = _listing(stub, NORMAL, timeout)
        if error is not None:
            raise error
        return users

    what = f"NORMAL with a deadline of {SHORT_DEADLINE:g} s"
    with users_cases.users_stub(target) as stub:
        try:
            users = support.with_short_deadline(attempt, "NORMAL", SHORT_DEADLINE_HINT, SHORT_DEADLINE)
        except grpc.RpcError as error:
            if error.code() in support.INFRASTRUCTURE_CODES:
                raise
            raise Fail(f"{what} → {support.describe_rpc_error(error)}; expected all {len(IN_ID_ORDER)} users",
                       SHORT_DEADLINE_HINT) from None
    if users is None:  # every try ran out of time: a loaded machine, not the mistake this looks for
        return
    names = [user.nickname for user in users]
    if names != IN_ID_ORDER:
        raise Fail(f"{what} → {', '.join(names) or 'no users'}, and the stream ended OK; expected all "
                   f"{len(IN_ID_ORDER)}", SHORT_DEADLINE_HINT)


def an_empty_type_is_an_empty_stream(target) -> None:
    with users_cases.users_stub(target) as stub:
        users = _ended_ok(*_listing(stub, users_pb2.USER_TYPE_DISABLED), "DISABLED", EMPTY_HINT)
    if users:
        raise Fail(f"DISABLED → {_counted(users)}; nobody is DISABLED, so expected none", ORDER_HINT)


# A connection of its own (so no other stream's flow control can hold it up), whose receive window
# stays at HTTP/2's 64 KB: by default gRPC widens it as data flows (BDP probing), and would take
# in megabytes that the client has not read, while the server goes on yielding.
OWN_CONNECTION = [("grpc.use_local_subchannel_pool", 1), ("grpc.http2.bdp_probe", 0)]
TAKES_NOTHING_UNREAD = [("grpc.http2.lookahead_bytes", 1)]  # a stream's window: the server's next message waits


@contextlib.contextmanager
def _separate_channel(target):
    with grpc.insecure_channel(target.address, options=OWN_CONNECTION) as channel:
        yield users_pb2_grpc.UserManagerStub(channel)


class Late(Fail):
    """A stream's first user did not come in time."""


def _first_guest(stub, wait: float):
    """A GUEST stream that has sent its first user within `wait` seconds, left open (for PAUSED_FOR s) unread."""
    call = stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=GUEST), timeout=PAUSED_FOR)
    first = queue.SimpleQueue()

    def read():
        try:
            first.put(next(call, None))
        except grpc.RpcError as error:
            first.put(error)

    threading.Thread(target=read, name="checker-5.1-first-guest", daemon=True).start()
    try:
        got = first.get(timeout=wait)
    except queue.Empty:
        call.cancel()
        raise Late(f"a GUEST stream sent nothing within {wait:g} s", SLOW_HINT) from None
    if got is None or isinstance(got, grpc.RpcError):
        call.cancel()
        if got is None:
            raise Fail("the GUEST stream ended OK before its first user", ENDED_EARLY_HINT)
        if got.code() == grpc.StatusCode.CANCELLED:
            raise Fail("the GUEST stream ended CANCELLED before its first user, though the checker did not cancel "
                       "it", SELF_CANCEL_HINT)
        raise got
    return call


def _list_normal(stub) -> None:
    error = _listing(stub, NORMAL, PROBE_WAIT)[1]
    if error is not None:
        raise error


def _get_tess(stub) -> None:
    stub.GetUser(users_pb2.UserRequest(id=4), timeout=PROBE_WAIT)


def answers_others_while_a_stream_is_paused(target) -> None:
    probes = (("a second GetUsersByType", _list_normal), ("GetUser", _get_tess))
    with contextlib.ExitStack() as stack:
        stub = stack.enter_context(_separate_channel(target))
        import server_runner

        pausing = min(MOST_PAUSED, (target.workers or server_runner.DEFAULT_WORKERS) - SPARE_WORKERS)
        paused_stubs = [stack.enter_context(_separate_channel(target)) for _ in range(pausing)]
        for what, probe in probes:  # first with no stream paused: if these are late, the cause is not a lock
            _in_time(probe, stub, Fail(f"{what} got no answer within {PROBE_WAIT:g} s, with no other stream open",
                                       SLOW_HINT))
        listed = time.monotonic()
        normal = len(_listing(stub, NORMAL, PROBE_WAIT)[0])
        if time.monotonic() - listed < WAITED:  # a method slow for every call is the cancel case's to name
            for read, where in ((0, "its first user"), (normal - 1, "its last user")):  # a lock around one yield
                _answers_while_one_waits_at(target, stub, probes, read, where)
        paused, waits = [], []  # each reads one guest, then stops reading; how long each took
        try:
            for number, paused_stub in enumerate(paused_stubs):
                started = time.monotonic()
                try:
                    paused.append(_first_guest(paused_stub, support.TIMEOUT if not number else PROBE_WAIT))
                except Late:
                    if not number:
                        raise
                    raise Fail(f"while {_streams(number)} paused unread, another GUEST stream sent nothing within "
                               f"{PROBE_WAIT:g} s", LOCK_HINT) from None
                waits.append(time.monotonic() - started)
                if len(waits) == WAITED_AFTER + 1 or (number and number == len(paused_stubs) - 1):
                    _judge_waits(waits[0], waits[1:])
            time.sleep(FILL_WAIT)
            for what, probe in probes:
                _in_time(probe, stub, Fail(f"while {pausing} GUEST streams were paused unread, {what} got no "
                                           f"answer within {PROBE_WAIT:g} s", LOCK_HINT))
        finally:
            for call in paused:
                call.cancel()


def _answers_while_one_waits_at(target, stub, probes, read: int, where: str) -> None:
    """Fails when, while a NORMAL stream waits to send `where` (its client has read `read` users and reads no more,
    on a connection that takes in nothing unread), the probes get no answer: a lock is held across that yield. The
    paused GUEST streams stop in the middle of their list; a lock around the first or the last yield shows here."""
    with grpc.insecure_channel(target.address, options=OWN_CONNECTION + TAKES_NOTHING_UNREAD) as channel:
        call = users_pb2_grpc.UserManagerStub(channel).GetUsersByType(
            users_pb2.UserTypeRequest(user_type=NORMAL), timeout=PAUSED_FOR)
        try:
            for _ in range(read):
                next(call)
            time.sleep(FILL_WAIT)
            for what, probe in probes:
                _in_time(probe, stub, Fail(f"while a NORMAL stream waited to send {where} (its client read {read} "
                                           f"and then paused), {what} got no answer within {PROBE_WAIT:g} s",
                                           LOCK_HINT))
        except BaseException:
            call.cancel()
            raise
        for _ in call:  # read to its end, not cancelled: what a cancel leaks is the cancel case's to show
            pass


def _judge_waits(alone: float, waits: list[float]) -> None:
    """Fails when the streams opened while others were paused took, as a rule (the median), a while longer to start
    than the first did (`alone`: with no other stream paused; a method slow for every call is the cancel case's)."""
    typical = statistics.median(waits)
    if typical - alone > WAITED:
        raise Fail(f"while streams were paused unread, each of the next {len(waits)} GUEST streams waited about "
                   f"{typical:.1f} s for its first user (with no stream paused it comes at once)", WAITED_HINT)


def _in_time(probe, stub, late: Fail) -> None:
    try:
        probe(stub)
    except grpc.RpcError as error:
        if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
        raise late from None


def gives_back_what_it_took_when_cancelled(target) -> None:
    # A copy of its own: a stream an earlier case cancelled must not be what this one counts; with a small pool,
    # so that more streams than it has threads are few (a method that works slowly between yields takes a while
    # for each).
    last_start = time.monotonic() + CANCEL_BUDGET
    with users_cases.seeded(target, checker_seed(), env={WORKERS_SETTING: str(CANCEL_POOL)}) as (own, _):
        own.guarded(lambda: _cancel_one_after_another(own, last_start))()


def _cancel_one_after_another(target, last_start: float = float("inf")) -> None:
    import server_runner

    # More rounds than the pool has workers: a call that goes on running after its cancel shows too; and more than
    # the paused-streams case pauses: slots that a cancel leaks run out even where that case had one to spare.
    rounds = max((target.workers or server_runner.DEFAULT_WORKERS) + 2, CANCELLED_STREAMS)
    held_before, cancelled = _held(target.pid), 0
    with _separate_channel(target) as stub:
        started = time.monotonic()
        while cancelled < rounds:  # one after another: never more than one open at a time
            took = time.monotonic() - started
            # from the fifth on, at the pace so far: would the last one start in time?
            if cancelled >= 5 and time.monotonic() + took / cancelled * (rounds - cancelled) > last_start:
                raise Fail(f"{cancelled} streams, each read a little and cancelled, took {took:.1f} s (about "
                           f"{took / cancelled:.1f} s each): the {rounds} in a row that the checker makes would "
                           f"take {took / cancelled * rounds:.0f} s", SLOW_CANCEL_HINT)
            try:
                call = _first_guest(stub, PROBE_WAIT)
            except Late:
                if not cancelled:
                    raise
                raise Fail(f"after {_streams(cancelled)} read a little and cancelled, the next one "
                           f"sent nothing within {PROBE_WAIT:g} s",
                           LEAKED_LOCK_HINT if cancelled == 1 else CANCEL_HINT) from None
            except grpc.RpcError as error:
                if not cancelled or error.code() in support.INFRASTRUCTURE_CODES:
                    raise
                raise Fail(f"after {_streams(cancelled)} read a little and cancelled, the next one ended "
                           f"{support.describe_rpc_error(error)[:100]}", COUNTED_HINT) from None
            call.cancel()
            cancelled += 1
            if cancelled == rounds < QUICK_CANCELLED_STREAMS and took / cancelled <= QUICK_STREAM:
                rounds = QUICK_CANCELLED_STREAMS
    _judge_left_behind(held_before, _held(target.pid), rounds)


def _held(pid: int | None) -> tuple[int, int] | None:
    """How many threads and open files process `pid` has (Linux: /proc), or None where that is not told."""
    if pid is None:
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:  # not Linux, or the process is gone (the next case says so)
        return None


def _judge_left_behind(before, after, streams: int) -> None:
    """Fails when the server gained about a thread or an open file per cancelled stream."""
    if before is None or after is None:
        return
    for what, gained, hint in (("threads", after[0] - before[0], THREAD_LEFT_HINT),
                               ("open files", after[1] - before[1], FILE_LEFT_HINT)):
        if gained >= streams // 2:  # a thread or file per stream, not a pool's few
            raise Fail(f"after {streams} streams were read a little and cancelled, your server had {gained} more "
                       f"{what} than before: about one left behind by each", hint)


def each_call_at_once_gets_its_own_type(target) -> None:
    """Whatever a type's answer is alone (other rules judge it), it must be the same when other calls run too."""
    with users_cases.users_stub(target) as stub:
        alone = {user_type: _answer(_listing(stub, user_type)) for user_type in AT_ONCE}
        for round_number in range(AT_ONCE_ROUNDS):
            # each round begins with another type, so that no one type is always the first or the last to start
            order = [AT_ONCE[(round_number + number) % len(AT_ONCE)] for number in range(AT_ONCE_CALLS)]
            calls = [(user_type, stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=user_type),
                                                     timeout=support.TIMEOUT)) for user_type in order]  # all sent
            for user_type, call in calls:
                together = _answer(_read(call, user_type))
                if together != alone[user_type]:
                    others = " and ".join(_short_name(other) for other in AT_ONCE if other != user_type)
                    raise Fail(f"{_short_name(user_type)}, asked at the same time as {others} ({AT_ONCE_CALLS} calls "
                               f"at once) → {together}; asked alone → {alone[user_type]}", SHARED_HINT)


def _answer(listing) -> str:
    """A stream's answer in words: its users' nicknames, and how it ended if not OK."""
    users, error = listing
    if error is not None and error.code() in support.INFRASTRUCTURE_CODES:
        raise error
    names = ", ".join(user.nickname for user in users) or "no users"
    return names if error is None else f"{names}, then {support.describe_rpc_error(error)}"


RULES = {  # Exercise 5.1: each rule is one case, and one wrong-answer test breaks only it
    f"UNSPECIFIED, or a number that is not a type ({', '.join(map(str, REFUSED[1:]))}) → INVALID_ARGUMENT that says "
    "what is wrong and what to send instead (a type it accepts), before any user":
        refuses_a_type_that_is_not_one,
    "NORMAL → tess, 'bo Li ', NORA, nora, ada: every user of the type, each once (NORA and nora are two), in id "
    f"order, however short the deadline ({SHORT_DEADLINE:g} s too), asked of the directory on every call (a user "
    "added since comes too)":
        streams_each_user_once_in_id_order,
    "DISABLED (nobody has it) → no users, and the stream ends OK":
        an_empty_type_is_an_empty_stream,
    # before any stream is cancelled on this copy: a lock that a cancel leaks is the next rule's and the last's to show
    f"NORMAL, ADMINISTRATOR and DISABLED asked at once, {AT_ONCE_CALLS} calls in each of {AT_ONCE_ROUNDS} rounds → "
    "each its own type's answer, as when asked alone":
        each_call_at_once_gets_its_own_type,
    f"holds no lock while the client reads: other calls are answered while paused streams hold all the server's "
    f"threads but {SPARE_WORKERS} ({DEFAULT_WORKERS - SPARE_WORKERS} of {DEFAULT_WORKERS})":
        answers_others_while_a_stream_is_paused,
    "a cancelled stream ends on the server too, and gives back what it took (a lock, a slot, a thread, a file)":
        gives_back_what_it_took_when_cancelled,
}


def _naming_the_cause(case):
    """`case`, where an exception the server raised names a cause the support module's hints do not (an async
    def, a number in the metadata), with a hint that names it."""
    def run(target):
        try:
            target.guarded(lambda: case(target))()
        except (Fail, grpc.RpcError) as failure:
            code = getattr(failure, "code", lambda: None)() if isinstance(failure, grpc.RpcError) else None
            if code == grpc.StatusCode.UNKNOWN and target.handle and ABORT_OK_WORDS in target.handle.logs(80):
                raise Fail("the call ended UNKNOWN: your server called context.abort with grpc.StatusCode.OK",
                           ABORT_OK_HINT) from None
            raised = target.last_exception() or ""
            got = failure.got if isinstance(failure, Fail) else f"your server raised {raised}"
            if support.ASYNC_GENERATOR_WORDS in raised + got:
                raise Fail(got, support.ASYNC_GENERATOR_HINT) from None
            if "Expected str, not" in raised:
                raise Fail(got if isinstance(failure, Fail) else f"the stream never ended: your server raised "
                           f"{raised}", METADATA_HINT) from None
            raise
    return run


def check_get_users_by_type(server) -> support.CheckResult:
    """Exercise 5.1: `server` is what server_runner.start("my_users_by_type.py") returned."""
    # the cancel case's 110 streams take a while where the method works slowly between yields (and checks)
    rules = {label: _naming_the_cause(case) for label, case in RULES.items()}
    return users_cases.check_on_own_seed("Exercise 5.1 · GetUsersByType", server, checker_seed(), rules,
                                         deadline=2 * support.CASE_DEADLINE)
