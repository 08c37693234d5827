"""Checker for notebook 06: the learner's CountAlreadyUsers (client streaming, Exercise 6.1).

Each case streams ids to a fresh copy of the learner's module of its own, so that no call of
another case (or of the learner) can change its count, and compares the one answer with the
count the rules ask for: how many DISTINCT ids belong to existing users. The copy holds
data/users.json's users (ids 1 to 6; nobody has 404) and 300 more (ids 1001 to 1300), for a stream
longer than any number of ids an answer might read and then stop. A server given by address holds
data/users.json's users only: there the long stream's 300 ids are unknown, and its count is 1.

A wrong count that is the count of a first part of the stream says so: the answer came before
the stream ended, or the loop stopped at an unknown id. tests/test_checkers_client_streaming.py
breaks each rule on its own.
"""
from __future__ import annotations

import threading
import time

import grpc

from workshop.checkers import support
from workshop.checkers.support import TIMEOUT, CheckResult, Fail, run_checks
from workshop.checkers.users_cases import seed_users, seeded, users_stub
from workshop.protos import users_pb2

# Seconds the client waits before its last ids, in the case that checks the answer waits: longer than a
# "quiet client is done" timeout of a second or two would be.
PAUSE = 2.5
# Two calls at once, in the case of each call's own ids: the first pauses before its last ids until the second has
# run whole (a set shared by calls, emptied when each starts, loses the first call's ids); a second call that cannot
# end meanwhile (a lock held for the whole call) is given up on after TOGETHER_WAIT s.
TOGETHER = ([1, 2, 3], [4, 5])
TOGETHER_WAIT = 2.0
STARTED_FOR = 0.2  # seconds between the first call's pause and the second call's start
LONG_STREAM = range(1001, 1301)  # ids of the checker's 300 extra users

SEED = [*seed_users().values(),
        *(users_pb2.User(id=n, nickname=f"user{n}", mail_address=f"user{n}@example.com",
                         user_type=users_pb2.USER_TYPE_NORMAL) for n in LONG_STREAM)]

ANSWER_AFTER_THE_LOOP_HINT = ("answer after the loop, not inside it: a `return` inside `for request in "
                              "request_iterator:` answers after the first id, and the rest is never read")
READ_TO_THE_END_HINT = ("keep reading until request_iterator ends (the client is done), and answer only after "
                        "the loop: not after a number of ids, nor when the client pauses")
READ_ON_HINT = ("an unknown id only counts nothing: skip it and read on. A `break` (or `return`) at the "
                "unknown id stops the count there")
HELD_HINT = ("one call waited for the other to end: something held for the whole call (a lock around the loop, "
             "to keep a set on self safe) makes every other client wait while one pauses. Make the set inside the "
             "method (found = set()): each call has its own, and none needs a lock")
OWN_IDS_HINT = ("make the set inside the method (found = set(), before the loop): a set at module level, or on "
                "self, lives on between calls, so each call also counts the ids of the calls before it")

RULES = [  # Exercise 6.1, one case each: (rule, the calls' ids, pause before a call's last id, hint[, two at once])
    ("counts existing users: ids 2, 3, 5 → 3", [[2, 3, 5]], 0,
     "count the ids for which self.directory.get(request.id) finds a user"),
    ("an id sent again counts once: ids 2, 3, 2, 2 → 2", [[2, 3, 2, 2]], 0,
     "count distinct users: collect the ids you found in a set, and answer the set's size"),
    ("an unknown id counts nothing and is no error: ids 2, 3, 404, 5 → 3", [[2, 3, 404, 5]], 0,
     "check that self.directory.get() found a user before you count the id; an unknown id is no error"),
    ("an id of 0 or below counts nothing and is no error: ids 2, 0, -4, 3 → 2", [[2, 0, -4, 3]], 0,
     "users.proto says CountAlreadyUsers counts an id of 0 or below as no user: do not refuse it as GetUser does"),
    ("an empty stream is a question too: no ids → 0", [[]], 0,
     "a client may send no id at all; answer UserCountResponse(count=0), not an error"),
    ("the answer waits for the whole stream: ids 1001 to 1300, a pause, then 5 and 6 → 302", [[*LONG_STREAM, 5, 6]],
     PAUSE,
     READ_TO_THE_END_HINT),
    ("each call counts only its own ids: ids 2, 3 → 2, then a new call with id 5 → 1; and two calls at once, "
     "ids 1, (a pause) 2, 3 → 3 while ids 4, 5 → 2", [[2, 3], [5]], 0, OWN_IDS_HINT, True),
]


def expected_count(ids, users) -> int:
    return len(set(ids) & set(users))


def _requests(ids, pause: float, paused: threading.Event | None = None, resume: threading.Event | None = None):
    """The stream of `ids`, pausing before its last two: `pause` s, or (with `resume`) until it is set."""
    for number, user_id in enumerate(ids):
        if pause and number == len(ids) - 2:  # two ids after the pause: a reader that stops early misses one
            if paused is not None:
                paused.set()
            if resume is not None:
                resume.wait(pause)
            else:
                time.sleep(pause)
        yield users_pb2.UserRequest(id=user_id)


def _shown(ids) -> str:
    return "no ids" if not ids else f"id{'s' if len(ids) > 1 else ''} " + ", ".join(map(str, ids[:6])) + (
        ", ..." if len(ids) > 6 else "")


def _cut_short(ids, users, got: int) -> tuple[str, str] | None:
    """When `got` is the count of a first part of `ids` only: why, and the hint; else None.

    The part ends where the count last grew, so the id after it says what stopped the count:
    an unknown id (the loop stopped there), or a known one (the answer came too early).
    """
    for read in range(1, len(ids)):
        grew = ids[read - 1] in users and ids[read - 1] not in ids[:read - 1]
        if not grew or expected_count(ids[:read], users) != got:
            continue
        if ids[read] not in users:
            return f"the count of the ids before {ids[read]}: the count stopped at the unknown id", READ_ON_HINT
        if read == 1:
            return "the count of the first id alone: the answer came before the stream ended", \
                ANSWER_AFTER_THE_LOOP_HINT
        return f"the count of the first {read} ids alone: the answer came before the stream ended", \
            READ_TO_THE_END_HINT
    return None


# Streams that tell two mistakes from others whose counts can look alike (an answer that came early, a stop at
# the first unknown id): (the ids, what the mistake counts of them).
SKIPS_FIRST = ([5, 404, 6, 2], lambda ids, users: expected_count(ids[1:], users))  # early answers give 1
COUNTS_NOBODY = ([404, 405, 5], lambda ids, users: len(set(ids) - set(users)))  # early answers give 0 or 1


def _probed(stub, probe, users) -> bool:
    """Whether the method counts `probe`'s ids as its mistake would."""
    ids, mistaken = probe
    try:
        return stub.CountAlreadyUsers(_requests(ids, 0), timeout=TIMEOUT).count == mistaken(ids, users)
    except grpc.RpcError:
        return False


def _ask(target, users, calls, pause: float, hint: str) -> None:
    asked: list[int] = []
    with users_stub(target) as stub:
        for ids in calls:
            expected = expected_count(ids, users)
            which = f"a new call with {_shown(ids)} → " if asked else ""
            try:
                reply = stub.CountAlreadyUsers(_requests(ids, pause), timeout=TIMEOUT)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.INTERNAL:  # the method returned no message
                    raise Fail(f"{which}the call failed with INTERNAL: {error.details()}",
                               "return a message, users_pb2.UserCountResponse(count=...), after the loop: "
                               "not a bare number, and not nothing (None)") from None
                if error.code() not in support.INFRASTRUCTURE_CODES:
                    raise Fail(f"{which}the call failed with {error.code().name}: {error.details()[:80]}; "
                               f"expected count={expected}", f"no id is an error here: {hint}") from None
                raise
            if reply.count != expected:
                got = f"{which}got count={reply.count}; expected {expected}"
                if asked and reply.count == expected_count(asked + ids, users):
                    raise Fail(f"{got}: it counted the ids of the call before too", OWN_IDS_HINT)
                if ids and reply.count == expected_count(ids[1:], users) and _probed(stub, SKIPS_FIRST, users):
                    raise Fail(f"{got}: the count of every id but the first", "count every id of the stream, the "
                               "first too: a next(request_iterator) before the loop takes one the loop never sees")
                if reply.count == len(set(ids) - set(users)) and _probed(stub, COUNTS_NOBODY, users):
                    raise Fail(f"{got}: the count of the ids nobody has", "count an id when self.directory.get("
                               "request.id) finds a user: `is not None`, not `is None`")
                why = _cut_short(ids, users, reply.count)
                if why is None and reply.count > expected and any(user_id not in users for user_id in ids):
                    why = ("it counted ids that no user has", "count an id only when self.directory.get(request.id) "
                           "finds a user: an id nobody has, 0 and below too, counts nothing")
                raise Fail(f"{got}: {why[0]}" if why else got, why[1] if why else hint)
            asked += ids


def _at_once(target, users) -> None:
    """TOGETHER's two calls at the same time: each must count its own ids alone."""
    first, second = TOGETHER
    replies: dict[str, object] = {}
    first_paused, second_ended = threading.Event(), threading.Event()

    answered: list[str] = []  # which call got its answer first

    def ask(name: str, requests) -> None:
        with users_stub(target) as stub:
            try:
                replies[name] = stub.CountAlreadyUsers(requests, timeout=TIMEOUT + TOGETHER_WAIT).count
            except grpc.RpcError as error:
                replies[name] = error
            answered.append(name)  # now, not once the channel has closed: that takes a while of its own

    thread = threading.Thread(target=ask, args=("first", _requests(first, TOGETHER_WAIT, first_paused, second_ended)),
                              name="checker-6.1", daemon=True)
    thread.start()
    first_paused.wait(TIMEOUT)
    time.sleep(STARTED_FOR)  # the first id is sent: give the server time to start the first call with it
    first_waits = not answered  # not if it answered at once, its pause taken for the end (another case's)
    ask("second", _requests(second, 0))
    ended_in_the_pause = answered[0] == "second"
    second_ended.set()
    thread.join(TIMEOUT + TOGETHER_WAIT)
    if first_waits and not ended_in_the_pause and not isinstance(replies.get("second"), grpc.RpcError):
        raise Fail(f"two calls at once: {_shown(second)} got its answer only when the call with {_shown(first)} "
                   f"had ended; that one had paused for {TOGETHER_WAIT:g} s, and nothing else was asked",
                   HELD_HINT)
    for name, ids in (("first", first), ("second", second)):
        got = replies.get(name)
        if isinstance(got, grpc.RpcError):
            raise got
        if got != expected_count(ids, users):
            if name == "first" and any(got == expected_count(ids[:read], users) for read in range(1, len(ids))):
                continue  # read short, a pause taken for the end: the case of the long stream and its pause judges
            raise Fail(f"two calls at once, {_shown(first)} (with a pause) and {_shown(second)}: the {name} got "
                       f"count={got}; expected {expected_count(ids, users)}", OWN_IDS_HINT)


def _case(server, calls, pause: float, hint: str, at_once: bool = False):
    def run():
        with seeded(server, SEED) as (target, users):  # a copy of its own: no other call counts here
            target.guarded(lambda: _ask(target, users, calls, pause, hint))()
            if at_once:
                target.guarded(lambda: _at_once(target, users))()
    return run


def check_count_already_users(server) -> CheckResult:
    """Exercise 6.1: `server` is the running server of my_count_users.py (or an address)."""
    return run_checks("Exercise 6.1 · CountAlreadyUsers",
                      [(rule, _case(server, *how)) for rule, *how in RULES])
