"""Checker for notebook 06: the learner's CountAlreadyUsers (client streaming, Exercise 6.1).

Each case streams ids to a fresh copy of the learner's module of its own, so that no call of
another case (or of the learner) can change its count, and compares the one answer with the
count the rules ask for: how many DISTINCT ids belong to existing users. The copy holds
data/users.json's users (ids 1 to 6; nobody has 404, 77 or 78, nor ids 20001 to 23000) and 8 more
(ids 1001 to 1008); the copy of a rule that names them also holds BOB (id 7, bob's nickname in
capitals), ally (id 8, alice's mail address) and users with ids past 16 and 32 bits. The long stream's
copy holds 10,000 more (ids 1001 to 11000), for a stream longer than any number of ids an answer might
read and then stop, and that sends its first ids again at its end.
A server given by address holds data/users.json's users only: there the extra ids are unknown, and
only 3, 5 and 6 of the long stream count.

A wrong count that is the count of a first part of the stream says so: the answer came before
the stream ended, or the loop stopped at an unknown id. tests/test_checkers_client_streaming.py
breaks each rule on its own.
"""
from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import grpc

from workshop.checkers import support
from workshop.checkers.support import TIMEOUT, CheckResult, Fail, run_checks
from workshop.checkers.users_cases import seed_users, seeded, users_stub
from workshop.protos import users_pb2

# Seconds the client waits before its last ids, in the case that checks the answer waits: longer than a
# "quiet client is done" timeout of up to 5 s would be. (Notebook 06 does not say how long: no timeout is
# long enough, and one chosen to pass would only be tuned to this number.)
PAUSE = 6.0
# Two calls at once, in the case of each call's own ids: the first pauses before its last ids while the second runs
# whole, twice (a set shared by calls, emptied when each starts, loses the first call's ids). The first pauses for
# TOGETHER_WAIT s at most: a second call that cannot end meanwhile (a lock held for the whole call) ends only after.
TOGETHER = ([1, 2, 3], [4, 5])
TOGETHER_WAIT = 2.0
# Seconds before each second call, from the first call's pause. Twice: if the first call's method has not started by
# the first (a loaded machine), the second call takes a lock first and lets go; by the next, the first holds it.
SECOND_CALLS_AFTER = (0.1, 0.2)
HELD_FOR = 0.5  # seconds: a second call that took this long, and ended only after the first, waited for it
LONG_STREAM = range(1001, 11001)  # ids of the long stream's 10,000 extra users: an answer that stops at a number
ONE_BY_ONE = range(1001, 1009)  # calls one after another, one id each: a set kept by a key a later call reuses shows
LATE_ID = 77  # nobody has it, until the case that asks again stores a user with it
MIDWAY_ID = 78  # nobody has it, until AddUser stores it in the middle of a stream
MIDWAY_WAIT = 0.3  # seconds the stream waits before that AddUser: the server has begun the call by then
# Ids that fit no bitmap of 65,536 and no 32 bits, that users have. The second is TWIN (a user too) in any number of
# bits up to 33: a bitmap of up to 2**33 slots (id % its size), or 32 bits, makes the two one. Nobody has WRAPS_TO_TWIN,
# which is TWIN in 32 bits: squeezed, it counts as TWIN
TWIN = 3
LARGE_IDS = (100_000, 2**33 + TWIN)
WRAPS_TO_TWIN = 2**32 + TWIN
SMALL = 1 << 16  # ids from here on are the large ones, looked at alone when a count with them is wrong
# A call with a deadline of SPACED_DEADLINE s whose ids come SPACED s apart, the last two together, with SPACED_LEFT
# s of the deadline left: an answer that stops "while it still can" (a check of time_remaining()) misses the last.
# The first is nobody's, so that missing the last is not missing the first (another rule's mistake). A margin for a
# loaded machine: a call whose deadline passes is made again (support.with_short_deadline)
SPACED, SPACED_IDS, SPACED_LEFT = 0.15, (404, 1001, 1002, 1003, 1004, 1005), 0.2
SPACED_DEADLINE = round(SPACED * (len(SPACED_IDS) - 2) + SPACED_LEFT, 2)
SHORT_IDS, SHORT_DEADLINE = (1, 2, 3), 0.4  # a call with little time from the start: refusing it is the mistake
AGAIN = 200  # the long stream ends with its first ids once more: a window of recent ids, or a set emptied, counts them
ALIKE = 7  # a user whose nickname differs from user 2's (bob) only in case
SAME_MAIL = 8  # a user whose mail address is user 1's (alice's)
NOBODY = range(20_001, 23_001)  # 3,000 ids nobody has: listed in the metadata, they are past its limit of 8 KB
# After a count too low, of a stream that had ended: on a copy whose lookups take SLOW_LOOKUP s, LOOKED_UP's ids at
# once, then with a wait of LOOKUPS_WAIT s before the stream ends. Short at once and right after the wait (the answer
# coming after it): the answer came before the lookups it started had finished
SLOW_LOOKUP, LOOKED_UP, LOOKUPS_WAIT = 0.02, [1, 2, 3], 0.5


@dataclass
class Midway:
    """A call that sends every id the directory holds, waits while AddUser stores `added`, then sends its id."""
    added: users_pb2.User


@dataclass
class Spaced:
    """A call whose ids come `apart` s from one another (the last two together), with a deadline of `deadline` s."""
    ids: tuple
    apart: float
    deadline: float



def _extra_user(user_id: int) -> users_pb2.User:
    return users_pb2.User(id=user_id, nickname=f"user{user_id}", mail_address=f"user{user_id}@example.com",
                          user_type=users_pb2.USER_TYPE_NORMAL)


SEED = [*seed_users().values(), *map(_extra_user, ONE_BY_ONE)]
# Users only the copy of a rule that names them holds (so a mistake with them breaks that rule alone)
NAMED_ONLY = {user.id: user for user in [*map(_extra_user, LARGE_IDS), users_pb2.User(
    id=ALIKE, nickname="BOB", mail_address="bob.again@example.com", user_type=users_pb2.USER_TYPE_NORMAL),
    users_pb2.User(id=SAME_MAIL, nickname="ally", mail_address=seed_users()[1].mail_address,
                   user_type=users_pb2.USER_TYPE_GUEST)]}
LONG_SEED = [*seed_users().values(), *map(_extra_user, LONG_STREAM)]  # only the long stream's case: 10,000 take a while
LATECOMER = users_pb2.User(id=LATE_ID, nickname="lou", mail_address="lou@example.com",
                           user_type=users_pb2.USER_TYPE_GUEST)
MIDWAY_USER = users_pb2.User(id=MIDWAY_ID, nickname="mia", mail_address="mia@example.com",
                             user_type=users_pb2.USER_TYPE_GUEST)

MIDWAY_HINT = ("look each id up each time it arrives, with self.directory.get(request.id), and read to the end of "
               "the stream: a user may have been added since the call began, even since the id was first sent (a "
               "list of known ids taken at its start misses them, an id remembered as missing, or as seen, is not "
               "asked again, and a count that stops once it reaches the directory's size stops too soon)")
DEADLINE_HINT = ("read until request_iterator ends, and answer, however little time the deadline leaves: the client "
                 "chose it, and gRPC ends the call DEADLINE_EXCEEDED by itself when it passes. An answer sent early, "
                 "OK, is a wrong count: a check of context.time_remaining() that breaks the loop, or aborts with "
                 "DEADLINE_EXCEEDED before the time is up, only hides it")
LARGE_HINT = ("an id is an int64: any number may be a user's, however large. Keep the ids found in a set of "
              "request.id as it is: a bitmap of a fixed size leaves larger ids out, and an id squeezed into 32 "
              "bits becomes another user's")
NICKNAMES_HINT = ("count distinct ids, not nicknames: two users may have nicknames that differ only in case (bob "
                  "and BOB), or the same one. Add request.id to the set")
MAILS_HINT = ("count distinct ids, not mail addresses: two users may share one (a family, a team's inbox), and are "
              "still two. Add request.id to the set")
NOBODY_FOUND_HINT = ("no id is an error here, and neither is a stream in which no id is a user's (all unknown, or all "
                     "0 and below): that is a question too, and its answer is count=0. Refuse nothing; return "
                     "users_pb2.UserCountResponse(count=len(found)) after the loop, whatever it found")
LOOKUPS_HINT = ("answer only once every id has been looked up: lookups handed to a thread pool (executor.submit) may "
                "not have finished when the loop ends, so a count of the futures that are done() misses some, and "
                "differs from run to run. Wait for each (future.result()), or better, call self.directory.get("
                "request.id) in the loop itself")
METADATA_SIZE_HINT = ("the call's metadata is limited to about 8 KB: trailing metadata that lists every id ends the "
                      "call RESOURCE_EXHAUSTED. Answer with the count in the reply; put little, if anything, in "
                      "the metadata")
ANSWER_AFTER_THE_LOOP_HINT = ("answer after the loop, not inside it: a `return` inside `for request in "
                              "request_iterator:` answers after the first id, and the rest is never read")
READ_TO_THE_END_HINT = ("keep reading until request_iterator ends (the client is done), and answer only after "
                        "the loop: not after a number of ids, nor when the client pauses; and count an id sent again "
                        "once, however long ago it came (a set of every id found, never emptied)")
READ_ON_HINT = ("an unknown id only counts nothing: skip it and read on. A `break` (or `return`) at the "
                "unknown id stops the count there")
HELD_HINT = ("one call waited for the other to end: something held for the whole call (a lock around the loop, "
             "to keep a set on self safe; a time.sleep holds the call too) makes every other client wait while one "
             "pauses. Make the set inside the method (found = set()): each call has its own, and none needs a lock")
SLOW_CALL_HINT = ("each call takes long even alone: a time.sleep holds the call for that long (and one of the "
                  "server's worker threads), as a lock around the loop would hold every other call. Count each id "
                  "as it arrives, and answer as soon as request_iterator ends")
ZERO_HINT = ("every answer is count=0, even for ids that users have: does the method return "
             "users_pb2.UserCountResponse(count=len(found))? Another message type (such as users_pb2.UserResponse), "
             "or a UserCountResponse with no count=, reads as count 0. And is each id found added to the set?")
KIND_DROPPED_HINT = ("count every id for which self.directory.get(request.id) finds a user, whatever its type or "
                     "its other fields: a guest, a disabled user and an administrator are users too")
DROPPED_HINT = ("count every id for which self.directory.get(request.id) finds a user, the lowest too: ids start at "
                "1, so a test such as `request.id > 1` leaves user 1 out (only 0 and below name nobody)")
OWN_IDS_HINT = ("make the set inside the method (found = set(), before the loop): a set at module level, on self, "
                "or a class attribute (`seen = set()` in a class body, which every instance shares, however many "
                "are made: one per call too), or one in a dict keyed by the call (id(context) and the like are "
                "reused by later calls), lives on between calls, so a call also counts the ids of calls before it")
CANCELLED_KEPT_HINT = ("a call counted the ids of a call that was cancelled before: make the set inside the method "
                       "(found = set(), before the loop). A set kept in a dict keyed by the call (id(context), the "
                       "thread) and removed when the method returns stays behind when the client cancels, since the "
                       "method stops where it reads the stream; and a later call gets the same key")
AT_ONCE_HINT = ("make the set inside the method (found = set(), before the loop): one servicer serves every call, so "
                "a set on self, at module level or in a class attribute (which every instance shares) is shared by "
                "calls that run at the same time, even one emptied when each call starts: the second call empties "
                "it, or adds its ids to the first call's")
ASKS_AGAIN_HINT = ("ask self.directory.get(request.id) on every call, for every id: an answer kept from an earlier "
                   "call (a set of ids found missing, on self or at module level) misses whoever was added since")
NOT_FOUND_HINT = ("no id is an error here, and an unknown id counts nothing. A NOT_FOUND your method did not mean "
                  "came from an abort it caught: the kit's GetUser aborts with NOT_FOUND for an unknown id, and the "
                  "abort sets the call's code even when try/except catches its exception. Use "
                  "self.directory.get(request.id), which returns None, and check that it found a user")

# Calls left open at once, each after sending CANCELLED_IDS, then cancelled; then AFTER_CANCELLED calls from a few
# threads: a set kept in a dict keyed by the call (id(context), the thread) and removed only when a call returns is
# left behind by each cancelled call, and a later call whose key is the same starts from it
CANCELLED_CALLS, CANCELLED_IDS, AFTER_CANCELLED, AFTER_CANCELLED_THREADS, LATER_ID = 8, [1, 2, 3], 400, 8, 5
CANCEL_SETTLE = 0.2  # seconds for the server to read the cancelled calls' ids

# Exercise 6.1, one case each: (rule, the calls (each a list of ids, or a User to store with AddUser first), whether
# each call pauses PAUSE s before its last two ids, hint[, two calls at once too])
RULES = [
    (f"counts existing users: ids 1, 2, {ALIKE}, {SAME_MAIL} → 4 (2 and {ALIKE} are bob and BOB, 1 and {SAME_MAIL} "
     "share a mail address: four users)",
     [[1, 2, ALIKE, SAME_MAIL]], False, "count the ids for which self.directory.get(request.id) finds a user"),
    ("an id sent again counts once: ids 2, 3, 2, 2 → 2", [[2, 3, 2, 2]], False,
     "count distinct users: collect the ids you found in a set, and answer the set's size"),
    # the streams in which nobody is found come first: a set kept between calls (another rule's) gains nothing by them
    (f"an unknown id counts nothing and is no error, however many come: id 404 → 0; {len(NOBODY):,} ids nobody has → "
     "0; ids 2, 3, 404, 5 → 3", [[404], [*NOBODY], [2, 3, 404, 5]], False,
     "check that self.directory.get() found a user before you count the id; an unknown id is no error"),
    ("an id of 0 or below counts nothing and is no error: ids 0, -1 → 0; ids 2, 0, -4, 3 → 2",
     [[0, -1], [2, 0, -4, 3]], False,
     "users.proto says CountAlreadyUsers counts an id of 0 or below as no user: do not refuse it as GetUser does"),
    ("an empty stream is a question too: no ids → 0", [[]], False,
     "a client may send no id at all; answer UserCountResponse(count=0), not an error"),
    (f"the answer waits for the whole stream: ids 1001 to 11000, 404, 3, 1001 to {1000 + AGAIN} again, a pause of a "
     f"few seconds, then 5 and 6 → 10003; and however short the deadline: ids 404 and 1001 to 1005, {SPACED:g} s "
     f"apart (the last two together), with a deadline of {SPACED_DEADLINE:g} s → {len(SPACED_IDS) - 1}; ids "
     f"{', '.join(map(str, SHORT_IDS))} with a deadline of {SHORT_DEADLINE:g} s → {len(SHORT_IDS)}",
     [[*LONG_STREAM, 404, 3, *LONG_STREAM[:AGAIN], 5, 6], Spaced(SPACED_IDS, SPACED, SPACED_DEADLINE),
      Spaced(SHORT_IDS, 0, SHORT_DEADLINE)], True, READ_TO_THE_END_HINT),
    ("each call counts only its own ids: ids 2, 3 → 2, then a new call with id 5 → 1, then 8 calls one after "
     "another, ids 1001 to 1008, one each → 1 each; and two calls at once, ids 1, (a pause) 2, 3 → 3 while ids 4, "
     f"5 → 2; and once {CANCELLED_CALLS} calls are cancelled mid-stream, {AFTER_CANCELLED} calls with id {LATER_ID} "
     "→ 1 each", [[2, 3], [5], *([user_id] for user_id in ONE_BY_ONE)], False, OWN_IDS_HINT, True),
    (f"the directory is asked on every call, for every id each time it comes: ids 2, {LATE_ID} → 1; AddUser stores a "
     f"user with id {LATE_ID}; ids 2, {LATE_ID} again → 2; and a call sends every id the directory holds and "
     f"{MIDWAY_ID}, waits while AddUser stores user {MIDWAY_ID}, then sends {MIDWAY_ID} again → all of them",
     [[2, LATE_ID], LATECOMER, [2, LATE_ID], Midway(MIDWAY_USER)], False, ASKS_AGAIN_HINT),
    (f"any id counts, however large: ids {TWIN}, {LARGE_IDS[0]}, {LARGE_IDS[1]}, {WRAPS_TO_TWIN} → 3 (users have the "
     f"first three, though {LARGE_IDS[1]} is {TWIN} in any number of bits up to 33; nobody has the fourth, which is "
     f"{TWIN} in 32 bits)", [[TWIN, *LARGE_IDS, WRAPS_TO_TWIN]], False, LARGE_HINT),
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


def _tracked(requests, ended: list):
    """`requests`, noting in `ended` when the last has gone: an answer that came before it came before the stream
    ended (a quiet client taken for one that is done, a loop left early), not after lookups left unfinished."""
    yield from requests
    ended.append(True)


def _shown(ids) -> str:
    return "no ids" if not ids else f"id{'s' if len(ids) > 1 else ''} " + ", ".join(map(str, ids[:6])) + (
        ", ..." if len(ids) > 6 else "")


def _cut_short(ids, users, got: int) -> tuple[str, str] | None:
    """When `got` is the count of a first part of `ids` only: why, and the hint; else None.

    The part ends where the count last grew, so the id after it says what stopped the count:
    an unknown id (the loop stopped there), or a known one (the answer came too early).
    """
    counted: set[int] = set()
    for read in range(1, len(ids)):
        grew = ids[read - 1] in users and ids[read - 1] not in counted
        if grew:
            counted.add(ids[read - 1])
        if not grew or len(counted) != got:
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


EVERY_KIND = [1, 2, 3, 404, 5]  # users, and one id nobody has: only a method whose every answer is 0 counts 0 here
PAST_UNKNOWN = [2, 404, 3]  # a method that stops at an unknown id counts 1
MIXED = [2, 0, 404, -4, 3]  # users, and ids nobody has of each kind: a method that refuses only when none is a user's
MOST_PROBED = 6  # ids asked alone, at most, to find one that counts nothing


def _count(stub, ids) -> int | None:
    try:
        return stub.CountAlreadyUsers(_requests(ids, 0), timeout=TIMEOUT).count
    except grpc.RpcError:
        return None


def _dropped(stub, ids, users) -> int | None:
    """A user's id of `ids` that, sent alone, counts 0 while another user's id alone counts 1; else None. Only
    small ids: a large one that counts 0 is another mistake (see _large_miscounted)."""
    small = sorted(user_id for user_id in set(ids) & set(users) if user_id < SMALL)
    alone = {user_id: _count(stub, [user_id]) for user_id in small[:MOST_PROBED]}
    if 1 not in alone.values():
        return None
    return next((user_id for user_id, count in alone.items() if count == 0), None)


def _probed(stub, probe, users) -> bool:
    """Whether the method counts `probe`'s ids as its mistake would."""
    ids, mistaken = probe
    try:
        return stub.CountAlreadyUsers(_requests(ids, 0), timeout=TIMEOUT).count == mistaken(ids, users)
    except grpc.RpcError:
        return False


def _ask(target, users, calls, pause: float, hint: str) -> None:
    """Each of `calls` in turn (a list of ids to count, or a User to store with AddUser first): each count must be the
    count of its own ids, of the users the directory holds by then."""
    asked: list[int] = []
    users, added = dict(users), None
    with users_stub(target) as stub:
        for ids in calls:
            if isinstance(ids, users_pb2.User):
                stub.AddUser(ids, timeout=TIMEOUT)
                users[ids.id], added = ids, ids
                continue
            if isinstance(ids, Midway):
                _midway(stub, target, users, ids.added)
                continue
            if isinstance(ids, Spaced):
                _spaced(stub, target, users, ids)
                continue
            expected = expected_count(ids, users)
            which = (f"after AddUser stored user {added.id}, a new call with {_shown(ids)} → " if added else
                     f"a new call with {_shown(ids)} → " if asked else "")
            try:
                ended: list = []
                reply = stub.CountAlreadyUsers(_tracked(_requests(ids, pause), ended), timeout=TIMEOUT + pause)
                read_whole = bool(ended)  # now: the stream ended before the answer came
            except grpc.RpcError as error:
                _explain_error(error, which, target)
                if error.code() not in support.INFRASTRUCTURE_CODES:
                    raise Fail(f"{which}the call failed with {error.code().name}: {error.details()[:80]}; "
                               f"expected count={expected}", _refused_hint(stub, ids, users, error, hint)) from None
                raise
            if reply.count != expected:
                raise _miscounted(target, stub, ids, users, reply.count, f"{which}got count={reply.count}; expected "
                                  f"{expected}", (asked, added, read_whole), pause, hint)
            asked += ids


def _refused_hint(stub, ids, users, error: grpc.RpcError, hint: str) -> str:
    """The hint for a call of `ids` that ended with `error`, a code of the method's own."""
    if ids and not set(ids) & set(users) and _count(stub, MIXED) == expected_count(MIXED, users):
        return NOBODY_FOUND_HINT  # it answers a stream in which some are users: it refuses one that finds nobody
    if ids and error.code() == grpc.StatusCode.NOT_FOUND:
        return NOT_FOUND_HINT
    return f"no id is an error here: {hint}"


def _miscounted(target, stub, ids, users, count: int, got: str, before: tuple, pause: float, hint: str) -> Fail:
    """The ✗ for `count`, a count of `ids` that is not theirs (`got` says so), with the cause where a probe tells it.

    `before`: the ids of this copy's calls before; the user AddUser stored before this call, or None; and whether
    the stream had ended when the answer came."""
    asked, added, read_whole = before
    expected = expected_count(ids, users)
    unfinished = _unfinished_lookups(target) if read_whole and count < expected else None
    if unfinished is not None:
        return Fail(f"{got}: {unfinished}", LOOKUPS_HINT)
    if count < expected and (left_out := _type_left_out(stub, ids, users, asked)) is not None:
        return Fail(f"{got}: {left_out}", KIND_DROPPED_HINT)
    if added:
        return Fail(got, hint)
    if asked and count == expected_count(asked + ids, users):
        return Fail(f"{got}: it counted the ids of the calls before too", OWN_IDS_HINT)
    if asked and expected < count <= expected_count(asked + ids, users):
        return Fail(f"{got}: it counted ids of an earlier call too", OWN_IDS_HINT)
    if ids and count == expected_count(ids[1:], users) and _probed(stub, SKIPS_FIRST, users):
        return Fail(f"{got}: the count of every id but the first", "count every id of the stream, the first too: a "
                    "next(request_iterator) before the loop takes one the loop never sees")
    if count == len(set(ids) - set(users)) and _probed(stub, COUNTS_NOBODY, users):
        return Fail(f"{got}: the count of the ids nobody has", "count an id when self.directory.get(request.id) "
                    "finds a user: `is not None`, not `is None`")
    if count == 0 and _count(stub, EVERY_KIND) == 0:
        return Fail(f"{got}; and {_shown(EVERY_KIND)} → count=0 too: every answer is 0", ZERO_HINT)
    dropped = _dropped(stub, ids, users) if count < expected else None
    if dropped is not None:
        user = users[dropped]
        if dropped == min(users):
            return Fail(f"{got}: id {dropped} alone → count=0, though a user has id {dropped}", DROPPED_HINT)
        kind = users_pb2.UserType.Name(user.user_type).removeprefix("USER_TYPE_")
        return Fail(f"{got}: id {dropped} alone → count=0, though it is {user.nickname!r}'s, a user of type {kind}",
                    KIND_DROPPED_HINT)
    large = _large_miscounted(stub, ids, users)
    if large is not None:
        return Fail(f"{got}: {large}", LARGE_HINT)
    for key, what, alike_hint in ((_nickname, "nicknames", NICKNAMES_HINT), (_mail, "mail addresses", MAILS_HINT)):
        pair = _alike(ids, users, key)
        if pair and count == len({key(users[user_id]) for user_id in set(ids) & set(users)}) and _count(
                stub, list(pair)) == 1:
            return Fail(f"{got}: the count of distinct {what} (ids {pair[0]} and {pair[1]} alone → count=1)",
                        alike_hint)
    why = _cut_short(ids, users, count)
    if pause and count == expected_count(ids[:-2], users):
        why = ("the count of the ids before the pause: the answer came before the stream ended", READ_TO_THE_END_HINT)
    if why is None and expected < count <= expected + len(set(ids) - set(users)):
        why = ("it counted ids that no user has", "count an id only when self.directory.get(request.id) finds a "
               "user: an id nobody has, 0 and below too, counts nothing")
    return Fail(f"{got}: {why[0]}" if why else got, why[1] if why else hint)


def _counts_nothing_alone(target, ids, users) -> int | None:
    """A user's id of `ids` that, asked alone on a call of its own, counts 0 (a type left out, say), or None."""
    with users_stub(target) as stub:
        return next((user_id for user_id in sorted(set(ids) & set(users))[:MOST_PROBED]
                     if _count(stub, [user_id]) == 0), None)


def _type_left_out(stub, ids, users, asked) -> str | None:
    """What shows that the method counts no user of some type, or None: a user of `ids` counts 0 alone, and so does
    another user of that type never asked on this copy (no answer kept of it), where a user of another type counts 1."""
    seen = set(asked) | set(ids)
    witness = {}  # a type: the first user of it never asked on this copy
    for user_id in sorted(users):
        if 0 < user_id < SMALL and user_id not in seen:
            witness.setdefault(users[user_id].user_type, user_id)
    kinds = {users[user_id].user_type: user_id for user_id in sorted(set(ids) & set(users), reverse=True)}
    for kind, user_id in list(kinds.items())[:MOST_PROBED]:  # one id of each type the call sent
        same = witness.get(kind)
        other_kind = next((other for other_type, other in witness.items() if other_type != kind), None)
        if same is None or other_kind is None:
            continue
        if _count(stub, [user_id]) == 0 and _count(stub, [same]) == 0 and _count(stub, [other_kind]) == 1:
            name = users_pb2.UserType.Name(kind).removeprefix("USER_TYPE_")
            return (f"ids {user_id} and {same} alone → count=0 each, though they are {users[user_id].nickname!r}'s "
                    f"and {users[same].nickname!r}'s, users of type {name}")
    return None


def _nickname(user: users_pb2.User) -> str:
    return user.nickname.casefold()


def _mail(user: users_pb2.User) -> str:
    return user.mail_address.casefold()


def _alike(ids, users, key) -> tuple[int, int] | None:
    """Two ids of `ids` whose users are the same by `key` (their nicknames, their mail addresses), or None."""
    by_key: dict[str, int] = {}
    for user_id in sorted(set(ids) & set(users)):
        if key(users[user_id]) in by_key:
            return by_key[key(users[user_id])], user_id
        by_key[key(users[user_id])] = user_id
    return None


def _unfinished_lookups(target) -> str | None:
    """Why a count came short when the answer comes before the lookups it started have finished (handed to a
    pool, say): on a copy whose lookups are slow, LOOKED_UP counts short at once, and right when the stream waits a
    while before it ends. None otherwise, and where the kit does not run the server (no copy to make)."""
    if target.module is None:
        return None
    with target.fresh(env={"USERS_LOOKUP_SECONDS": str(SLOW_LOOKUP)}) as slow, users_stub(slow) as stub:
        hurried = _count(stub, LOOKED_UP)
        if hurried is None or hurried >= len(LOOKED_UP) or _count_after_a_wait(stub, LOOKED_UP) != len(LOOKED_UP):
            return None
    return (f"on a copy of your server whose lookups take {SLOW_LOOKUP * 1000:g} ms, {_shown(LOOKED_UP)} → count="
            f"{hurried}, and count={len(LOOKED_UP)} when the stream waits {LOOKUPS_WAIT:g} s before it ends: the "
            "answer came before the lookups it started had finished")


def _count_after_a_wait(stub, ids) -> int | None:
    """The count of `ids` sent at once, the stream then waiting LOOKUPS_WAIT s before it ends; None if the answer
    came before it ended (a quiet client taken for one that is done: another mistake), or as an error."""
    answered, ended = threading.Event(), []

    def requests():
        yield from (users_pb2.UserRequest(id=user_id) for user_id in ids)
        answered.wait(LOOKUPS_WAIT)
        ended.append(not answered.is_set())

    call = stub.CountAlreadyUsers.future(requests(), timeout=TIMEOUT + LOOKUPS_WAIT)
    call.add_done_callback(lambda _: answered.set())
    try:
        count = call.result().count
    except grpc.RpcError:
        return None
    return count if ended == [True] else None


def _large_miscounted(stub, ids, users) -> str | None:
    """What a large id of `ids` counts as it should not, sent alone (a known one 0, an unknown one 1), or with the
    user whose id it is in fewer bits (two users, 1); None if each counts right, or if a small unknown id
    miscounts too (then the mistake is not the size)."""
    large = [user_id for user_id in ids if user_id >= SMALL]
    if not large or _count(stub, [404]) != 0:
        return None
    for user_id in large:
        alone = _count(stub, [user_id])
        if alone is not None and alone != int(user_id in users):
            return f"id {user_id} alone → count={alone}"
    for user_id in large:
        twin = user_id % 2**32
        if twin != user_id and {user_id, twin} <= set(users) and twin in ids and _count(stub, [twin, user_id]) == 1:
            return f"ids {twin} and {user_id} alone → count=1, though both are users"
    return None


def _explain_error(error: grpc.RpcError, which: str, target) -> None:
    """Fails with the cause of an error that names one (no message returned, metadata too large); else returns."""
    details = error.details() or ""
    if error.code() == grpc.StatusCode.INTERNAL:  # the method returned no message
        raised = target.last_exception() or ""
        made = ("a generator (a `yield` in the method): a client-streaming method answers once, with `return`" if
                "'generator' object" in raised else "a coroutine (an `async def` method, which a server of threads "
                "cannot run): write a plain `def`" if "'coroutine' object" in raised else "")
        raise Fail(f"{which}the call failed with INTERNAL: {details}", f"the method gave {made}, and `return "
                   "users_pb2.UserCountResponse(count=...)` after the loop" if made else
                   "return a message, users_pb2.UserCountResponse(count=...), after the loop: not a bare number, "
                   "and not nothing (None)") from None
    if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "metadata" in details.lower():
        raise Fail(f"{which}the call failed with RESOURCE_EXHAUSTED: {details[:80]}", METADATA_SIZE_HINT) from None
    raised = target.last_exception() or "" if error.code() == grpc.StatusCode.UNKNOWN else ""
    if raised.startswith(("KeyError: 'ipv4:", "KeyError: 'ipv6:")):
        raise Fail(f"{which}your server raised {raised}", "a dict kept on self, keyed by context.peer(), is shared "
                   "state: every call from one client has the same peer, and one call's end removes or replaces "
                   "another's entry. Keep what one call needs in local variables (found = set())") from None


def _midway(stub, target, users, added: users_pb2.User) -> None:
    """Every id the directory holds and `added`'s (nobody's yet), then (once AddUser stored `added` in the stream's
    pause) its id again: all count."""
    held = sorted(users)

    def requests():
        yield from (users_pb2.UserRequest(id=user_id) for user_id in [*held, added.id])
        time.sleep(MIDWAY_WAIT)
        stub.AddUser(added, timeout=TIMEOUT)
        yield users_pb2.UserRequest(id=added.id)

    try:
        reply = stub.CountAlreadyUsers(requests(), timeout=TIMEOUT + MIDWAY_WAIT)
    except grpc.RpcError as error:
        _explain_error(error, "", target)
        raise
    users[added.id] = added
    got = (f"a call sent all {len(held)} ids the directory holds and {added.id}, AddUser stored user {added.id} in its "
           f"pause, then it sent {added.id} again → count={reply.count}")
    if reply.count < len(held) + 1 and (unfinished := _unfinished_lookups(target)):
        raise Fail(f"{got}: {unfinished}", LOOKUPS_HINT)
    if reply.count != len(held) + 1 and _counts_all_but_the_added(stub, held, reply.count):
        raise Fail(f"{got}; expected {len(held) + 1}", MIDWAY_HINT)


def _counts_all_but_the_added(stub, held, got: int) -> bool:
    """Whether `got` is all of `held` and nothing more, and the method counts all of `held` alone, also with a
    pause before its last, and reads on past an unknown id: so only the user added in the pause was missed (not a
    mistake of other rules')."""
    if got != len(held) or _count(stub, held) != len(held) or _count(stub, PAST_UNKNOWN) != len(PAST_UNKNOWN) - 1:
        return False
    try:
        return stub.CountAlreadyUsers(_requests(held, MIDWAY_WAIT), timeout=TIMEOUT + MIDWAY_WAIT).count == len(held)
    except grpc.RpcError:
        return False


def _spaced(stub, target, users, spaced: Spaced) -> None:
    """`spaced.ids`, `spaced.apart` s from one another (the last two together), with a deadline of `spaced.deadline`
    s: all count. A deadline that passes is not judged (a loaded machine); one the server claims before it is."""
    ids, ended = list(spaced.ids), []

    def requests():
        for number, user_id in enumerate(ids):
            if 0 < number < len(ids) - 1:
                time.sleep(spaced.apart)
            yield users_pb2.UserRequest(id=user_id)
        ended.append(True)

    what = _shown(ids) + (f", {spaced.apart:g} s apart (the last two together)" if spaced.apart else "")
    try:
        count = support.with_short_deadline(lambda timeout: stub.CountAlreadyUsers(requests(), timeout=timeout).count,
                                            what, DEADLINE_HINT, spaced.deadline)
    except grpc.RpcError as error:
        _explain_error(error, "", target)
        raise
    expected = expected_count(ids, users)
    # a count too high, or short of the first id only, is other rules' to judge
    if count is None or count >= expected or count == expected_count(ids[1:], users):
        return
    got = f"{what}, with a deadline of {spaced.deadline:g} s → count={count}; expected {expected}"
    # right with time to spare: the deadline made the count short. Else lookups that had not finished, perhaps
    unfinished = _unfinished_lookups(target) if ended else None
    raise Fail(f"{got}: {unfinished}" if unfinished else got, LOOKUPS_HINT if unfinished else DEADLINE_HINT)


def _at_once(target, users, alone: float) -> None:
    """TOGETHER's two calls at the same time: each must count its own ids alone, and the second must not wait for the
    first to end. `alone`: the seconds a call took with no other call open."""
    first, second = TOGETHER
    replies: dict[str, object] = {}
    started, ended = {}, {}  # when each call started and got its answer
    first_paused, released, resumed = threading.Event(), threading.Event(), []

    def ask(stub, name: str, requests) -> None:
        started[name] = time.monotonic()
        try:
            replies[name] = stub.CountAlreadyUsers(requests, timeout=TIMEOUT + TOGETHER_WAIT).count
        except grpc.RpcError as error:
            replies[name] = error
        ended[name] = time.monotonic()

    def first_requests():
        for number, request in enumerate(_requests(first, TOGETHER_WAIT, first_paused, released)):
            if number == len(first) - 2:  # the first id after the pause: it is over
                resumed.append(time.monotonic())
            yield request

    # One channel: the first call reaches the server before any second one does, as it started first
    with users_stub(target) as stub:
        thread = threading.Thread(target=ask, args=(stub, "first", first_requests()), name="checker-6.1", daemon=True)
        thread.start()
        first_paused.wait(TIMEOUT)
        held, seconds = None, []
        for number, after in enumerate(SECOND_CALLS_AFTER):
            time.sleep(after)
            name = f"second{number}"
            seconds.append(name)
            ask(stub, name, _requests(second, 0))
            # Released only after these calls, the first pauses for TOGETHER_WAIT s: a second call that took a while
            # and ended only after that pause had waited for it (not for the order in which two threads wake)
            if (resumed and ended[name] >= resumed[0] and ended[name] - started[name] >= HELD_FOR
                    and not isinstance(replies[name], grpc.RpcError)):
                held = name
                break
        released.set()
        thread.join(TIMEOUT + TOGETHER_WAIT)
    if held is not None:
        slow = f"; and a call alone takes {alone:.1f} s" if alone >= HELD_FOR else ""
        raise Fail(f"two calls at once: {_shown(second)} was answered only {ended[held] - started[held]:.1f} s "
                   f"later, once the call with {_shown(first)} went on after its pause of {TOGETHER_WAIT:g} s; nothing "
                   f"else was asked{slow}", SLOW_CALL_HINT if slow else HELD_HINT)
    for name, ids in (("first", first), *((name, second) for name in seconds)):
        got = replies.get(name)
        if isinstance(got, grpc.RpcError):
            _explain_error(got, "two calls at once: ", target)
            raise got
        if got != expected_count(ids, users):
            # read short, a pause taken for the end: the case of the long stream and its pause judges; and an id that
            # counts nothing even alone (id 1?) is the first case's (ids 1, 2, 7, 8) to name
            if name == "first" and any(got == expected_count(ids[:read], users) for read in range(1, len(ids))):
                continue
            which = "first" if name == "first" else "second"
            got_short = isinstance(got, int) and got < expected_count(ids, users)
            if got_short and (alone_zero := _counts_nothing_alone(target, ids, users)) is not None:
                user = users[alone_zero]
                kind = users_pb2.UserType.Name(user.user_type).removeprefix("USER_TYPE_")
                raise Fail(f"two calls at once, {_shown(first)} (with a pause) and {_shown(second)}: the {which} got "
                           f"count={got}; and id {alone_zero} alone → count=0, though it is {user.nickname!r}'s, a "
                           f"user of type {kind}: not the calls at once", KIND_DROPPED_HINT)
            unfinished = _unfinished_lookups(target) if got_short else None
            raise Fail(f"two calls at once, {_shown(first)} (with a pause) and {_shown(second)}: the {which} got "
                       f"count={got}; expected {expected_count(ids, users)}" + (f"; {unfinished}" if unfinished else
                                                                                ""),
                       LOOKUPS_HINT if unfinished else AT_ONCE_HINT)




def _after_cancelled_calls(target, users) -> None:
    """Fails when a call made after others were cancelled counts ids of theirs: what a cancelled call kept (a set in
    a dict keyed by the call, removed only when the call returns) lives on, for a later call with the same key."""
    stop = threading.Event()

    def stalled():
        yield from (users_pb2.UserRequest(id=user_id) for user_id in CANCELLED_IDS)
        stop.wait(TIMEOUT)

    with users_stub(target) as stub:
        try:
            calls = [stub.CountAlreadyUsers.future(stalled(), timeout=TIMEOUT) for _ in range(CANCELLED_CALLS)]
            time.sleep(CANCEL_SETTLE)
        finally:
            stop.set()
        for call in calls:
            call.cancel()
        time.sleep(CANCEL_SETTLE)
        expected = expected_count([LATER_ID], users)
        with ThreadPoolExecutor(AFTER_CANCELLED_THREADS, thread_name_prefix="checker-6.1-after") as threads:
            counts = list(threads.map(lambda _: stub.CountAlreadyUsers(
                iter([users_pb2.UserRequest(id=LATER_ID)]), timeout=TIMEOUT).count, range(AFTER_CANCELLED)))
        wrong = [count for count in counts if count > expected]  # fewer: read short, the long stream's case's
        if wrong:
            raise Fail(f"after {CANCELLED_CALLS} calls that sent ids {', '.join(map(str, CANCELLED_IDS))} were "
                       f"cancelled, {len(wrong)} of the next {AFTER_CANCELLED} calls, id {LATER_ID} alone, got "
                       f"count={wrong[0]}; expected {expected}", CANCELLED_KEPT_HINT)


def _case(server, calls, paused: bool, hint: str, at_once: bool = False):
    def run():
        pause = PAUSE if paused else 0  # read when the case runs: the tests shorten it
        named = {user_id for ids in calls if isinstance(ids, list) for user_id in ids}
        seed = LONG_SEED if paused else [*SEED, *(user for user_id, user in NAMED_ONLY.items() if user_id in named)]
        with seeded(server, seed) as (target, users):  # a copy of its own: no other call counts here
            started = time.monotonic()
            target.guarded(lambda: _ask(target, users, calls, pause, hint))()
            alone = (time.monotonic() - started) / len(calls)  # these calls ran one at a time
            if at_once:
                target.guarded(lambda: _at_once(target, users, alone))()
                target.guarded(lambda: _after_cancelled_calls(target, users))()
    return run


def check_count_already_users(server) -> CheckResult:
    """Exercise 6.1: `server` is the running server of my_count_users.py (or an address)."""
    # the long stream's case seeds 10,000 users, sends 10,000 ids and pauses PAUSE s: more than one case's usual time
    return run_checks("Exercise 6.1 · CountAlreadyUsers",
                      [(rule, _case(server, *how)) for rule, *how in RULES], deadline=2 * support.CASE_DEADLINE)
