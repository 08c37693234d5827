"""Checker for notebook 07 (bidirectional): the learner's GetUsersByIds, ping-pong, over real channels.

It judges a fresh copy of the learner's module over a directory of its own (users_cases.seeded),
so nothing that ran before changes a verdict; the seed plants users with ids 0 and -3 (AddUser
would refuse them), so a server that answers such ids with a lookup instead of refusing them
sends a user. (Whether it looks them up before it refuses them cannot be seen, so is not judged.)

The key case is a conversation: the checker sends one id and does not send the next until the
answer has arrived. A server that answers each request as it comes passes at once; a server that
first collects every request never answers, because the client never finishes, so the case
reports it after a short wait instead of hanging.

The ping-pong case also times eleven round trips, each beside one on the kit's own server (started over the same
users, for the cases that time answers): an answer that waits (a sleep of 20 ms before the yield) shows in their
medians, whatever load the machine is under; and it compares each user whole, as the directory holds it. The
unknown-id and wrong-id cases also send their id alone and wait, the stream still open: the error must come then,
not once the client has finished (a server that reads the rest of the requests before it aborts). Cases hold several
conversations at once, each opened while the server waits for the earlier ones' next id: a lock, or a semaphore with
fewer slots than the kit's pool has threads, held while waiting shows there (the checker holds 30, the kit's 32
threads less two, whatever MAX_WORKERS the module sets, so a smaller pool shows too; and a new conversation must be
answered about as fast as the first was alone, so a lock taken with a timeout shows), and so does what one call
leaves on self for the next (the servicer object serves every call), in turns of a few ids and in two long
conversations, where a count of ids on self adds up both calls'. The unknown-id case first stores a user through the
server's own AddUser (the kit's, inherited), with an id past 32 bits (ids are int64): a lookup anywhere but
self.directory misses it, and a bound on the id refuses it. The in-order case also makes a call with a deadline of
0.4 s, which must be answered like any other. When a case sees answers missing, a fresh call with ids 8 and 21 tells
two look-alike mistakes apart for the hint (never the verdict). A last case holds twelve conversations that wait for
their next id and watches the server's process: waiting is free when the loop sleeps in request_iterator, and a poll
or a busy loop shows in the threads that wake and the CPU they use.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import queue
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator

import grpc

from workshop.checkers import support, users_cases
from workshop.checkers.chat_clients import cost_over
from workshop.checkers.support import Fail
from workshop.checkers.unary import NOBODY_WORDS
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.runner.serving import DEFAULT_WORKERS, SWITCH_SETTING

UNKNOWN_ID = 4242  # nobody has it
ADDED = users_pb2.User(id=2**32 + 30, nickname="nora", mail_address="nora@example.com",  # past 32 bits: ids are int64
                       user_type=users_pb2.USER_TYPE_NORMAL)
PEEK = 0.5  # seconds: how long to wait for an answer whose absence another case judges (and explains)
SETTLE = 0.1  # seconds: time for the server to go back to waiting for a conversation's next id

# Round trips are judged against the kit's own GetUsersByIds (workshop/servers/users.py), started beside the
# learner's copy over the same users and timed alongside it, one round trip each in turn, so that a loaded machine
# slows both alike. A correct answer's median of ROUND_TRIPS is within a millisecond or two of the reference's (0.4 ms
# each on the kit's 2-core machine, a few ms with three CPU burners): more than SLOWER_BY over it says each answer
# waits, and a sleep of 20 ms before each yield shows. The case stops after ROUND_TRIP_BUDGET s from its start, so a
# long sleep is told so within the case's deadline.
ROUND_TRIPS, SLOWER_BY, ROUND_TRIP_BUDGET = 11, 0.015, 6.0
# Conversations held waiting at once: as many as the kit's pool has threads, less two (30 of DEFAULT_WORKERS = 32),
# whatever MAX_WORKERS the module sets: a bidirectional call holds its thread as long as it is open, so a smaller pool
# runs out here. A semaphore held across the loop with fewer slots than that makes the next one wait too.
SPARE_WORKERS = 2
HELD = DEFAULT_WORKERS - SPARE_WORKERS
HELD_BUDGET = 4.0  # s: opening them one after another takes 0.1 s; past this, each answer is slow (not judged here)
# The first answers of the second to FIRST_ANSWERS + 1st conversations, each opened while the earlier ones wait: their
# median may be at most FIRST_ANSWER_SLACK s over a conversation's alone (and over the reference's, measured the same
# way). A lock taken with a timeout (acquire(timeout=0.5)) gives way only once that timeout is over.
FIRST_ANSWERS, FIRST_ANSWER_SLACK = 5, 0.05
# Two conversations at once, each of LONG_TALK ids sent TURN at a time, taking turns: a count of ids kept on self
# (reset when a call starts) adds up both, 1100 or more, past a limit "per call" of 1000. The answer takes 0.7 s for
# them on the kit's machine; past LONG_BUDGET s the case stops, with no verdict: a slow answer is the ping-pong case's.
LONG_TALK, TURN, LONG_BUDGET = 600, 100, 3.0
SHORT_DEADLINE = 0.4  # s: a call's deadline well under a second; its answers take a few ms, so it must have them

SEED = [(21, "ines"), (3, "carmen"), (8, "hugo"), (0, "zero"), (-3, "minus")]  # 0 and -3: planted


def checker_seed() -> list[users_pb2.User]:
    """The directory every check runs on."""
    return [users_pb2.User(id=user_id, nickname=name, mail_address=f"{name}@example.com",
                           user_type=users_pb2.USER_TYPE_NORMAL) for user_id, name in SEED]


NAMES = dict(SEED)
USERS = {user.id: user for user in checker_seed()}
WRAP_HINT = "yield users_pb2.UserResponse(user=user): the User goes inside a UserResponse"
EMPTY_ANSWER_HINT = ("for an id nobody has, self.directory.get gives None, and UserResponse(user=None) is an "
                     "answer with no user in it: end the stream with NOT_FOUND instead, "
                     "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))")
SLOW_ANSWER_HINT = ("look the user up and `yield` at once: each answer waited, where a lookup takes a millisecond. "
                    "No time.sleep (a throttle) or slow work before the yield: the client waits for every answer "
                    "before it sends its next id, so each wait adds up")
PING_PONG_HINT = ("answer inside the loop: `for request in request_iterator:` look the user up and `yield` "
                  "at once; do not collect every request before answering")
ORDER_HINT = "yield one UserResponse per request, in the order the ids arrive, even for an id asked before"
NOT_FOUND_HINT = ("when self.directory.get(request.id) finds nobody, "
                  "context.abort(grpc.StatusCode.NOT_FOUND, users.no_user_with(request.id))")
BAD_ID_HINT = ("refuse what users.problem_with_id(request.id) finds a problem with, even when the directory "
               "has a user with that id: context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)")
BAD_ID_SAYS_WHY_HINT = ("the client sent several ids: the message must say which one, and what is wrong with it, "
                        "as users.problem_with_id(request.id) does; abort with that problem as the message")
NO_IDS_HINT = "when the client sends no ids, the loop runs zero times: just let the stream end"
ENDED_EARLY_HINT = ("the stream ended before every id had its answer: answer every id, a repeated one too, and keep "
                    "looping over request_iterator until it ends (a `return` or `break` inside the loop ends the "
                    "stream for every id after it)")
WENT_ON_HINT = ("an id sent after the one that ends the stream was answered: answer the ids in the order they "
                "arrive, and let context.abort end the call (it raises an exception: no try/except around it, "
                "no `continue` after it)")
TWICE_HINT = "one answer per id: each id got two (a second yield for the same request?)"
SKIPPED_HINT = ("an id of 0 or below ends the stream, it is not skipped: context.abort(grpc.StatusCode."
                "INVALID_ARGUMENT, problem), not `continue`")
STUCK_HINT = ("no answer at all within the call's time: is something still held by an earlier call? A lock "
              "released after the loop stays taken when context.abort ends the call (it raises): take it with "
              "`with`, or better, hold no lock while you wait for the next id")
HELD_HINT = ("hold no lock while you wait for the next id (the `for` over request_iterator waits for the client): "
             "one conversation that pauses would make every other wait. The directory takes care of its own lock")
YIELD_UNDER_LOCK_HINT = ("hold no lock (nor a semaphore's slot) across the yield either: a yield waits for as long "
                         "as the client does not read its answer, and every other conversation waits with it. Take "
                         "the lock, if any, only around what needs it, and yield outside it")
LOCK_TIMEOUT_HINT = ("hold no lock (nor semaphore) while you wait for the next id, not even one taken with a timeout "
                     "(acquire(timeout=…)): while one conversation pauses, every other one waits out that timeout "
                     "before its first answer. The directory takes care of its own lock")
REFUSED_WHEN_BUSY_HINT = ("a client was turned away while other conversations waited for their next id: do not "
                          "refuse a call because others are open (a lock taken with acquire(blocking=False), a count "
                          "of open calls). Hold no lock across the loop, and answer every call: the server's thread "
                          "pool already limits how many run at once")
CONCURRENT_RPCS_HINT = (f"your server turns away calls past a number at once (MAX_CONCURRENT_RPCS in your module: "
                        f"grpc.server's maximum_concurrent_rpcs), and each open conversation is a call: {HELD} clients "
                        f"at once need more. Leave MAX_CONCURRENT_RPCS out, or make it clearly more than {HELD}")
POOL_HINT = ("your server has {workers} worker threads (MAX_WORKERS = {workers}), and an open conversation holds one "
             "for as long as it lasts, even while it waits for its client: once all are taken, the next call waits in "
             f"a queue. {HELD} clients at once need more: leave MAX_WORKERS out (the kit's {DEFAULT_WORKERS}), or make "
             "it larger")
STREAMS_HINT = ("the next conversation over the checker's connection got no answer, where one over a connection of its "
                "own was answered at once: your server caps the streams of one connection (grpc.max_concurrent_streams "
                "in your module's OPTIONS), and each open conversation is a stream. Many clients may share a "
                "connection (a channel, as the checker's do): leave that option out")
SLOTS_HINT = ("hold no semaphore (nor a pool of slots of your own) while you wait for the next id: a client that "
              "thinks keeps its slot, so once every slot is taken the next client waits. The server's thread pool "
              "already limits how many calls run at once (MAX_WORKERS)")
EACH_AS_IT_COMES_HINT = ("answer each id as it comes: hugo's answer leaves before the next id is read, and the "
                         "stream ends at the id that cannot be answered")
ENDED_OK_AT_A_WRONG_ID_HINT = ("the stream ended OK at the wrong id, so the client cannot tell why it stopped: "
                               "end it with context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem), not with "
                               "`break` or `return`")
FIRST_DROPPED_HINT = ("the first id of a call gets no answer, the ids after it do: something reads the first request "
                      "before the loop (a next(request_iterator)?) and drops it. Let `for request in "
                      "request_iterator:` read every request, the first one too")
LAST_ONLY_HINT = ("only the last id of a call gets an answer: the yield is after the loop, so it runs once, for the "
                  "request the loop ended on. Yield inside `for request in request_iterator:`, once per request")
KEPT_ON_SELF_HINT = ("a new call that sent ids 8, 21 and 3, users the directory has, got no answer at all, though "
                     "earlier calls got theirs: keep no record of answered ids on self (a self.seen set, say). One "
                     "UserManager serves every call, so what you put on self outlives the call; and a repeated id "
                     "is answered again anyway")
SHARED_CALL_HINT = ("with two conversations at once, one stopped getting its answers: keep what belongs to one "
                    "call in local variables, not on self (self.requests = request_iterator, or self.context = "
                    "context, say). One UserManager serves every call, so the second call's replaces the first one's")
COUNTED_ON_SELF_HINT = ("with two long conversations at once, one was cut short: keep what belongs to one call (a "
                        "count of its ids, say) in local variables, not on self. One UserManager serves every call, "
                        "so a self.answered counts the ids of both calls, and a new call resets the other's")
WHOLE_USER_HINT = ("yield the user the directory found, whole: users_pb2.UserResponse(user=user). A User of your "
                   "own with some fields copied leaves the others empty, and the client gets less than the directory "
                   "holds")
DEADLINE_HINT = ("a call whose deadline is under a second is still a call: answer it. gRPC ends the call itself "
                 "when its deadline passes, so do not refuse a call because of context.time_remaining()")
WIDE_ID_HINT = ("ids are int64: any id above 0 may be a user's, however large (AddUser stored this one). Refuse only "
                "what users.problem_with_id(request.id) finds a problem with, and look up the rest")
ANSWER_AT_ONCE_HINT = ("end the call as soon as an id cannot be answered, while the client still waits for its "
                       "answer: context.abort at once. Reading the rest of request_iterator first (`for _ in "
                       "request_iterator: pass`) waits for a client that waits for you, until its deadline")
REPEAT_SKIPPED_HINT = ("every id gets its own answer, a repeated one too: a fresh call of ids 21, 21, 3 got only "
                       "ines, carmen. Skip no id because it was asked just before (an `if request.id == previous: "
                       "continue`)")
SHARED_STATE_HINT = ("a conversation's id got no answer, and still none once an earlier conversation had ended (a "
                     "slot it held would be free then): its request went to another call. Keep what belongs to one "
                     "call (its request_iterator, its context) in local variables, not on self, not even in a dict "
                     "keyed by context.peer(): conversations over one channel share a peer")
ADDED_USER_HINT = ("the user that AddUser had just stored was not found: look users up in self.directory, the "
                   "directory AddUser writes to, on every call. A directory your method makes (users.UserDirectory()) "
                   "holds only the first users, and answers kept from an earlier call (a cache on self) miss whoever "
                   "was added since")


class Reference:
    """The kit's own server (workshop/servers/users.py) over the checker's users, started when a case first asks for
    it and stopped when the check ends: what a correct GetUsersByIds takes on this machine, now, measured as the
    learner's copy is, so that a loaded laptop slows both alike."""

    def __init__(self):
        self._stack = contextlib.ExitStack()
        self._target: support.Target | None = None

    @property
    def target(self) -> support.Target:
        if self._target is None:
            import server_runner

            folder = self._stack.enter_context(tempfile.TemporaryDirectory(prefix="workshop-reference-"))
            seed = users_cases.write_seed(checker_seed(), folder)
            server = self._stack.enter_context(server_runner.start("users", env={"USERS_SEED": str(seed)}))
            self._target = support.target(server)
        return self._target

    def __enter__(self) -> Reference:
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()


def _nicknames(replies) -> list[str]:
    return [reply.user.nickname for reply in replies]


def _each_twice(names: list[str]) -> bool:
    return len(names) >= 2 and names[::2] == names[1::2]


def _hint(replies, before: list[str], error, otherwise: str) -> str:
    """Why the stream did not give `before` (the answers due before its end): the cause its shape shows."""
    names = _nicknames(replies)
    if _each_twice(names):
        return TWICE_HINT
    if error is None and len(names) < len(before) + 1 and names == before[:len(names)]:
        return ENDED_EARLY_HINT
    if error is not None and not names and before:
        return EACH_AS_IT_COMES_HINT
    if error is not None and names[:len(before)] == before and len(names) > len(before):
        return WENT_ON_HINT
    return otherwise


PROBE_IDS = (8, 21, 3)  # hugo, ines, carmen


def _fresh_call_names(target) -> list[str] | None:
    """The names a new call that sends PROBE_IDS at once gets back, or None if it does not end OK in time.
    It only chooses a hint, never a verdict, so an error just means no clue."""
    try:
        with users_cases.users_stub(target) as stub:
            requests = iter([users_pb2.UserRequest(id=user_id) for user_id in PROBE_IDS])
            return _nicknames(stub.GetUsersByIds(requests, timeout=users_cases.ANSWER_WAIT))
    except grpc.RpcError:
        return None


def _missing_answers_hint(target) -> str | None:
    """Why answers went missing, when a fresh call shows it: all but hugo come back (the first request was
    read and dropped), only carmen (only the last id is answered: a yield after the loop), or nothing at all,
    though all are users and earlier cases had them answered (ids kept on self, which every call shares).
    Each looks like other mistakes in the stream that failed."""
    names = _fresh_call_names(target)
    if names == ["ines", "carmen"]:
        return FIRST_DROPPED_HINT
    if names == ["carmen"]:
        return LAST_ONLY_HINT
    if names == []:
        return KEPT_ON_SELF_HINT
    return None


def _why(target, replies, before: list[str], error, otherwise: str) -> str:
    """_hint, but when answers due before the stream's end are missing, a fresh call may name the cause first."""
    names = _nicknames(replies)
    if len(names) < len(before) and not _each_twice(names) and (hint := _missing_answers_hint(target)):
        return hint
    return _hint(replies, before, error, otherwise)


def _names(replies) -> str:
    return ", ".join(reply.user.nickname or "(an empty user)" for reply in replies) or "no answers"


def _wrapped(replies) -> None:
    """Fails when an answer carries no user: when none does, most often the User itself was yielded;
    when only some do, an unknown id was answered with UserResponse(user=None)."""
    empty = sum(not reply.HasField("user") for reply in replies)
    if empty:
        which = "the answer" if len(replies) == 1 else f"{empty} of the {len(replies)} answers"
        raise Fail(f"{which} carried no user", WRAP_HINT if empty == len(replies) else EMPTY_ANSWER_HINT)


def _explained(error: grpc.RpcError) -> BaseException:
    if error.code() == grpc.StatusCode.UNKNOWN and support.ASYNC_GENERATOR_WORDS in (error.details() or ""):
        return Fail(f"the call failed with {support.describe_rpc_error(error)}", support.ASYNC_GENERATOR_HINT)
    if error.code() == grpc.StatusCode.INTERNAL:  # what the server yielded could not be sent as a UserResponse
        return Fail(f"the call failed with {support.describe_rpc_error(error)}", WRAP_HINT)
    return error


class _Conversation(users_cases.Conversation):
    """The shared conversation, whose errors read as this checker explains them."""

    def next_answer(self, wait: float = users_cases.ANSWER_WAIT):
        try:
            return super().next_answer(wait)
        except grpc.RpcError as error:
            raise _explained(error) from None


def _end(*conversations: _Conversation, wait: float = PEEK) -> None:
    """Half-close each conversation, give the server a moment to end the calls by itself, then cancel them.

    Cancelling at once would raise inside the learner's loop, where a lock released after the loop stays
    taken and makes every later case wait; a client that says goodbye leaves the server as it found it.
    """
    for conversation in conversations:
        conversation.finish()
    deadline = time.monotonic() + wait
    for conversation in conversations:
        with contextlib.suppress(Exception):  # an error ends the call too
            while (left := deadline - time.monotonic()) > 0 and conversation.next_answer(left) not in (
                    None, users_cases.END):
                pass
        conversation.close()


@contextlib.contextmanager
def _two_conversations(target) -> Iterator[tuple[_Conversation, _Conversation] | None]:
    """Two conversations, ended politely whatever happens: the first has id 21 answered, and only once the
    server is back to waiting for its next id does the second open (nothing sent on it yet).

    Gives None when id 21 got no answer: the ping-pong case says why.
    """
    with users_cases.users_stub(target) as stub:
        opened = [_Conversation(stub)]
        try:
            opened[0].send(21)
            if not isinstance(opened[0].next_answer(PEEK), users_pb2.UserResponse):
                yield None
                return
            time.sleep(SETTLE)  # the server sends the answer, then reads on: let it get to waiting
            opened.append(_Conversation(stub))
            yield opened[0], opened[1]
        finally:
            _end(*opened)


def _all_at_once(target, ids):
    """Send every id at once; the answers, and the error the stream ended with (None if OK)."""
    replies = []
    with users_cases.users_stub(target) as stub:
        try:
            for reply in stub.GetUsersByIds(iter([users_pb2.UserRequest(id=i) for i in ids]), timeout=support.TIMEOUT):
                replies.append(reply)
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED and not replies:
                raise Fail(f"ids {', '.join(map(str, ids)) or 'none'} → no answer within {support.TIMEOUT:g} s",
                           STUCK_HINT) from None
            if error.code() in support.INFRASTRUCTURE_CODES or error.code() == grpc.StatusCode.INTERNAL:
                raise _explained(error) from None
            _wrapped(replies)
            return replies, error
    _wrapped(replies)
    return replies, None


def _names_id(message: str, user_id: int) -> bool:
    return re.search(rf"(?<![\d-]){user_id}(?!\d)", message) is not None


def _ended(replies, error) -> str:
    return f"got {_names(replies)}, then " + (support.describe_rpc_error(error) if error else "the stream ended OK")


def _outcome(reply) -> str:
    """One step of a conversation, for a ✗ line: the name that came back, or what came instead."""
    if reply is None:
        return f"no answer within {users_cases.ANSWER_WAIT:g} s"
    if reply is users_cases.END:
        return "the stream ended"
    return _names([reply])


# ---------------------------------------------------------------- the rules, one case each


def _answered_before_the_next(target, conversation: _Conversation, user_id: int) -> float:
    """Send `user_id` and wait for its answer, which must be its user; how long the round trip took."""
    sent = time.monotonic()
    conversation.send(user_id)
    reply = conversation.next_answer()
    took = time.monotonic() - sent
    if reply is None:
        conversation.close()  # before the fresh call that tells why
        dropped = _fresh_call_names(target) == ["ines", "carmen"]
        raise Fail(f"no answer to id {user_id} within {users_cases.ANSWER_WAIT:g} s, while the client "
                   "waited for it before sending the next id", FIRST_DROPPED_HINT if dropped else PING_PONG_HINT)
    if reply is users_cases.END:
        raise Fail(f"the stream ended after id {user_id} with no answer", ENDED_EARLY_HINT)
    _wrapped([reply])
    if reply.user.nickname != NAMES[user_id]:
        raise Fail(f"id {user_id} → got {_names([reply])}; expected {NAMES[user_id]}", ORDER_HINT)
    if differ := _fields_that_differ(reply.user, USERS[user_id]):
        raise Fail(f"id {user_id} → {NAMES[user_id]}, but with " + ", ".join(
            f"{name} {getattr(reply.user, name)!r}" for name in differ) + ", where the directory has " + ", ".join(
            f"{getattr(USERS[user_id], name)!r}" for name in differ), WHOLE_USER_HINT)
    return took


def _fields_that_differ(got: users_pb2.User, held: users_pb2.User) -> list[str]:
    """The names of the fields in which the user sent differs from the one the directory holds."""
    return [field.name for field in users_pb2.User.DESCRIPTOR.fields
            if getattr(got, field.name) != getattr(held, field.name)]


def _round_trip(conversation: users_cases.Conversation, user_id: int) -> float | None:
    """Send `user_id` and wait for its answer: how long that took, or None when no user came back."""
    sent = time.monotonic()
    conversation.send(user_id)
    try:
        reply = conversation.next_answer()
    except grpc.RpcError:
        return None
    return time.monotonic() - sent if isinstance(reply, users_pb2.UserResponse) else None


def _timed_more(conversation: _Conversation, took: list[float], start: float,
                alongside: users_cases.Conversation, theirs: list[float | None]) -> bool:
    """Go on with the conversation, one id at a time, adding each round trip to `took`, and one on the reference's
    conversation `alongside` to `theirs`, until there are ROUND_TRIPS or the budget is spent. False when an answer
    did not come: which ids a server answers is the other cases' to judge (a repeated id, say), not this one's."""
    ids = itertools.cycle((21, 3))  # asked already: a new id would be one more for a record of ids on self
    while len(took) < ROUND_TRIPS and time.monotonic() - start < ROUND_TRIP_BUDGET:
        user_id = next(ids)
        if (one := _round_trip(conversation, user_id)) is None:
            return False
        took.append(one)
        theirs.append(_round_trip(alongside, user_id))
    return True


def _paced_like_the_reference(took: list[float], theirs: list[float | None]) -> None:
    """Fails when the learner's round trips are SLOWER_BY s or more slower than the reference's (their medians)."""
    mine, base = statistics.median(took), statistics.median([t for t in theirs if t is not None] or [0.0])
    if mine - base > SLOWER_BY:
        counted = f"{len(took)} round trips" if len(took) == ROUND_TRIPS else (
            f"the first {len(took)} of the {ROUND_TRIPS} round trips: the rest would take too long")
        raise Fail(f"the answers came {mine:.3f} s after their ids, where the kit's own GetUsersByIds, timed alongside "
                   f"on this machine, answered in {base:.3f} s (medians of {counted}, one id at a time)",
                   SLOW_ANSWER_HINT)


def answers_each_id_before_the_next_comes(target, reference: Reference) -> None:
    with users_cases.users_stub(target) as stub, users_cases.users_stub(reference.target) as reference_stub:
        conversation, alongside = _Conversation(stub), users_cases.Conversation(reference_stub)
        start = time.monotonic()
        try:
            took, theirs = [], []
            for user_id in (21, 3):
                took.append(_answered_before_the_next(target, conversation, user_id))
                theirs.append(_round_trip(alongside, user_id))
            if not _timed_more(conversation, took, start, alongside, theirs):
                return
            try:
                _paced_like_the_reference(took, theirs)
            except Fail:
                if _busy(target):
                    return  # slow because its waiting conversation keeps a CPU busy: the idle case names that
                raise
            conversation.finish()
            end = conversation.next_answer()
            if end is None:
                raise Fail("the client finished sending, but the stream did not end",
                           "return when request_iterator ends (the loop ends by itself)")
            if end is not users_cases.END:
                raise Fail(f"after the last id, the server sent one more answer ({_names([end])})", ORDER_HINT)
        finally:
            conversation.close()
            alongside.close()


# after the first's id 21; its unknown id last: NOT_FOUND must end that conversation (its own context's abort)
TAKING_TURNS = [("second", 3), ("first", 8), ("first", 3), ("second", 21), ("first", UNKNOWN_ID)]


def _refused_alone(target, user_id: int) -> bool:
    """Whether a call of its own that sends only `user_id` ends with NOT_FOUND."""
    try:
        replies, error = _all_at_once(target, [user_id])
    except Fail:  # an answer with no user in it: another case says so
        return False
    return not replies and error is not None and error.code() == grpc.StatusCode.NOT_FOUND


def _answers_two_conversations_taking_turns(target) -> None:
    """Each id is sent once the one before it was answered, the two conversations taking turns. A method
    that keeps its request_iterator on self reads the second call's requests in the first call once the
    second has opened: the first's next id is never read, or gets the second's answer."""
    with _two_conversations(target) as pair:
        if pair is None:
            return  # the ping-pong case says why
        talk, seen = {"first": pair[0], "second": pair[1]}, ["first 21 → ines"]
        for step, (who, user_id) in enumerate(TAKING_TURNS):
            talk[who].send(user_id)
            if user_id == UNKNOWN_ID:
                talk[who].finish()  # its last: the call ends with NOT_FOUND, also where an abort is caught
            try:
                reply = talk[who].next_answer(PEEK if step == 0 else users_cases.ANSWER_WAIT)
            except grpc.RpcError as error:
                if user_id == UNKNOWN_ID and error.code() == grpc.StatusCode.NOT_FOUND:
                    return
                reply = error
            if step == 0 and (reply is None or isinstance(reply, grpc.RpcError)):
                return  # the second waits, or is refused, while the first is idle: the many-conversations case names it
            if user_id == UNKNOWN_ID and not _refused_alone(target, UNKNOWN_ID):
                return  # no NOT_FOUND even alone: the unknown-id case says why
            seen.append(f"{who} {user_id} → " + (support.describe_rpc_error(reply)[:80]
                                                 if isinstance(reply, grpc.RpcError) else _outcome(reply)))
            if not isinstance(reply, users_pb2.UserResponse) or reply.user.nickname != NAMES.get(user_id):
                raise Fail(f"two conversations taking turns ({', '.join(seen)}); expected "
                           f"{NAMES.get(user_id, 'NOT_FOUND')}", SHARED_CALL_HINT)


def _reply_or_error(conversation: _Conversation, wait: float = users_cases.ANSWER_WAIT):
    try:
        return conversation.next_answer(wait)
    except grpc.RpcError as error:
        return error


def _answers_two_long_conversations_at_once(target) -> None:
    """Two conversations open at once send LONG_TALK ids each, TURN at a time, taking turns: each must have
    every answer. A count of ids on self (reset when a call starts) counts both calls' ids, so a limit "per call"
    on it cuts one of them short; so does anything else on self that grows with the ids."""
    ids = list(itertools.islice(itertools.cycle(PROBE_IDS), TURN))
    deadline = time.monotonic() + LONG_BUDGET
    with users_cases.users_stub(target) as stub:
        pair = (_Conversation(stub), _Conversation(stub))
        answered = [0, 0]
        try:
            for _turn, (number, talk) in itertools.product(range(LONG_TALK // TURN), enumerate(pair)):
                for user_id in ids:
                    talk.send(user_id)
                for user_id in ids:
                    if (left := deadline - time.monotonic()) <= 0:
                        return
                    reply = _reply_or_error(talk, min(left, users_cases.ANSWER_WAIT))
                    if reply is None or (isinstance(reply, grpc.RpcError) and not answered[number]):
                        return  # a wait, or a call refused while another is open: the many-conversations case's
                    if not isinstance(reply, users_pb2.UserResponse) or reply.user.nickname != NAMES[user_id]:
                        got = (support.describe_rpc_error(reply)[:80] if isinstance(reply, grpc.RpcError)
                               else _outcome(reply) + f" for id {user_id}")
                        raise Fail(f"two conversations at once, {LONG_TALK} ids each, sent {TURN} at a time in "
                                   f"turns: the {('first', 'second')[number]} got {answered[number]} answers, then "
                                   f"{got}; expected {LONG_TALK} answers each",
                                   REPEAT_SKIPPED_HINT if _skips_a_repeat(target) else COUNTED_ON_SELF_HINT)
                    answered[number] += 1
        finally:
            _end(*pair)


def _skips_a_repeat(target) -> bool:
    """Whether a fresh call of ids 21, 21, 3 gets ines, carmen: an id equal to the one before it skipped, which
    the long conversations meet where one turn ends with the id the next begins with. Chooses a hint only."""
    try:
        replies, error = _all_at_once(target, [21, 21, 3])
    except Fail:
        return False
    return error is None and _nicknames(replies) == ["ines", "carmen"]


def answers_every_id_in_order(target) -> None:
    started = time.monotonic()
    ids = [8, 3, 21, 3]
    expected = [NAMES[user_id] for user_id in ids]
    replies, error = _all_at_once(target, ids)
    if error is not None or _nicknames(replies) != expected:
        missing = len(replies) < len(expected)
        hint = (missing and _missing_answers_hint(target)) or (
            ENDED_EARLY_HINT if error is None and missing else _hint(replies, [], error, ORDER_HINT))
        raise Fail(f"{_ended(replies, error)}; expected {', '.join(expected)}", hint)
    _answers_two_conversations_taking_turns(target)
    _answers_two_long_conversations_at_once(target)
    _answers_within_a_short_deadline(target)
    if (budget := started + support.CASE_DEADLINE - SWITCHING_MARGIN - time.monotonic()) >= SWITCHING_BUDGET:
        _each_its_own_on_a_switching_copy(target, budget)  # (a method slow to answer is the ping-pong case's)


# Conversations that send all their ids at once, on a copy whose threads take turns every microsecond: a request
# kept on self (for self.request in request_iterator) is overwritten by another call's between its lines, which at
# Python's 5 ms switch shows in few runs of 600 ids
SWITCHING_TALKS, SWITCHING_IDS, SWITCH_INTERVAL = 8, 600, 1e-6
SWITCHING_BUDGET = 1.5  # seconds at least for all of them, copy started (the answer: about 1 s)
SWITCHING_MARGIN = 0.5  # seconds of the case's deadline left over
ANSWERED_ANOTHER_HINT = ("a conversation got the answer to another conversation's id: keep each request in a local "
                         "variable (`for request in request_iterator:`), not on self (self.request): one UserManager "
                         "serves every call at once, and another call's request replaces it between two lines")


def _each_its_own_on_a_switching_copy(target, budget: float) -> None:
    """SWITCHING_TALKS conversations at once, each sending SWITCHING_IDS ids (PROBE_IDS, each from another start),
    must each get its own ids' users, in order, within `budget` s (a slower one passes: the ping-pong case's)."""
    deadline = time.monotonic() + budget
    talks = [[PROBE_IDS[(start + n) % len(PROBE_IDS)] for n in range(SWITCHING_IDS)]
             for start in range(SWITCHING_TALKS)]
    with users_cases.seeded(target, checker_seed(), env={SWITCH_SETTING: str(SWITCH_INTERVAL)}) as (switching, _), \
            users_cases.users_stub(switching) as stub:
        go = threading.Event()  # every call open and waiting for its ids, then all the ids at once

        def sent(ids):
            go.wait(support.TIMEOUT)
            yield from (users_pb2.UserRequest(id=user_id) for user_id in ids)

        calls = [stub.GetUsersByIds(sent(ids), timeout=max(0.1, deadline - time.monotonic())) for ids in talks]
        time.sleep(SETTLE)
        go.set()
        for number, (ids, call) in enumerate(zip(talks, calls, strict=True), start=1):
            try:
                got = [reply.user.nickname for reply in call]
            except grpc.RpcError as error:
                if error.code() in support.INFRASTRUCTURE_CODES - {grpc.StatusCode.DEADLINE_EXCEEDED}:
                    raise _explained(error) from None
                return  # too slow (the ping-pong case's), or a refusal while others are open (the many-conversations)
            wrong = next((n for n, (user_id, name) in enumerate(zip(ids, got, strict=False))
                          if NAMES[user_id] != name), None)
            if wrong is not None:
                raise Fail(f"{SWITCHING_TALKS} conversations at once, {SWITCHING_IDS} ids each: conversation "
                           f"{number}'s answer {wrong + 1} was {got[wrong]} for id {ids[wrong]} "
                           f"({NAMES[ids[wrong]]})", ANSWERED_ANOTHER_HINT)


def _answers_within_a_short_deadline(target) -> None:
    """Ids 8, 3 in a call whose deadline is SHORT_DEADLINE: the answers take milliseconds, so they must come, not a
    refusal for lack of time (support.with_short_deadline tells that from gRPC's own expiry on a loaded machine)."""
    def ask(deadline: float):
        replies = []
        with users_cases.users_stub(target) as stub:
            try:
                for reply in stub.GetUsersByIds(iter([users_pb2.UserRequest(id=8), users_pb2.UserRequest(id=3)]),
                                                timeout=deadline):
                    replies.append(reply)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise  # the helper's to judge: a refusal, or gRPC's own expiry
                return replies, error
        return replies, None

    outcome = support.with_short_deadline(ask, "ids 8, 3 in a call", DEADLINE_HINT, deadline=SHORT_DEADLINE)
    if outcome is None:
        return  # every try ran out of time: a loaded machine, nothing to judge
    replies, error = outcome
    if error is not None or _nicknames(replies) != ["hugo", "carmen"]:
        raise Fail(f"ids 8, 3 in a call with a deadline of {SHORT_DEADLINE:g} s → {_ended(replies, error)}; "
                   "expected hugo, carmen", DEADLINE_HINT)


def _finds_a_user_added_just_before(target) -> None:
    """The kit's AddUser stores nora, and GetUsersByIds must find her: a lookup in any directory other
    than self.directory, the one AddUser writes to, answers NOT_FOUND. (Asked before the unknown id, whose
    abort would leave a lock released after the loop taken: that mistake is the other cases' to name.)"""
    with contextlib.suppress(Fail):  # what came is the unknown id's business, which asks next
        _all_at_once(target, [ADDED.id])  # nobody has it yet: NOT_FOUND, which a cache of answers on self keeps
    with users_cases.users_stub(target) as stub:
        stub.AddUser(ADDED, timeout=support.TIMEOUT)
    replies, error = _all_at_once(target, [ADDED.id])
    if error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT:
        raise Fail(f"AddUser stored {ADDED.nickname} (id {ADDED.id}), then id {ADDED.id} → {_ended(replies, error)}; "
                   f"expected {ADDED.nickname}", WIDE_ID_HINT)
    if error is not None or _nicknames(replies) != [ADDED.nickname]:
        hint = TWICE_HINT if _each_twice(_nicknames(replies)) else (
            (not replies and _missing_answers_hint(target)) or ADDED_USER_HINT)
        raise Fail(f"AddUser stored {ADDED.nickname} (id {ADDED.id}), then id {ADDED.id} → {_ended(replies, error)}; "
                   f"expected {ADDED.nickname}", hint)


def _refuses_while_the_client_waits(target, bad_id: int, code: grpc.StatusCode) -> None:
    """Ids 8, then `bad_id`, one at a time, the stream left open: `code` must end the call within the usual
    answer wait. A server that reads the rest of the requests before it aborts waits for a client that waits
    for it. (If hugo does not come, the ping-pong case says why.)"""
    with users_cases.users_stub(target) as stub:
        talk = _Conversation(stub)
        try:
            if not isinstance(_ask(talk, 8, PEEK), users_pb2.UserResponse):
                return
            try:
                reply = _ask(talk, bad_id, users_cases.ANSWER_WAIT)
            except grpc.RpcError as error:
                reply = error
            if isinstance(reply, grpc.RpcError) and reply.code() == code:
                return
            raise Fail(f"ids 8, then {bad_id}, one at a time (the client waits for each answer) → got hugo, then "
                       + (support.describe_rpc_error(reply)[:80] if isinstance(reply, grpc.RpcError)
                          else _outcome(reply)) + f"; expected {code.name} at once", ANSWER_AT_ONCE_HINT)
        finally:
            _end(talk, wait=0)


def _ask(talk: _Conversation, user_id: int, wait: float):
    """Send `user_id` on `talk` and wait up to `wait` s for what comes back (None if nothing)."""
    talk.send(user_id)
    return talk.next_answer(wait)


def ends_at_the_first_unknown_id(target) -> None:
    _finds_a_user_added_just_before(target)
    replies, error = _all_at_once(target, [8, UNKNOWN_ID, 21])
    expected = f"expected hugo, then NOT_FOUND naming {UNKNOWN_ID}"
    if error is None or error.code() != grpc.StatusCode.NOT_FOUND:
        raise Fail(f"{_ended(replies, error)}; {expected}", _why(target, replies, ["hugo"], error, NOT_FOUND_HINT))
    if _names(replies) != "hugo":
        raise Fail(f"{_ended(replies, error)}; {expected}",
                   _why(target, replies, ["hugo"], error, EACH_AS_IT_COMES_HINT))
    if str(UNKNOWN_ID) not in (error.details() or ""):
        raise Fail(f"NOT_FOUND said {error.details()!r}, which does not name the id",
                   f"name the id, as users.no_user_with({UNKNOWN_ID}) does: the client sent several ids "
                   "and needs to know which one failed")
    _refuses_while_the_client_waits(target, UNKNOWN_ID, grpc.StatusCode.NOT_FOUND)


# -5: nobody has it, so no NOT_FOUND first; 21 after the 0: a wrong id skipped lets it through
WRONG_IDS = [([8, 0, 21], 0, ["hugo"]), ([-3], -3, []), ([-5], -5, [])]  # (ids, the wrong one, answers before it)


def refuses_an_id_of_zero_or_below(target) -> None:
    outcomes = [(ids, bad, before, *_all_at_once(target, ids)) for ids, bad, before in WRONG_IDS]
    if all(error is None and _nicknames(replies) == before for _, _, before, replies, error in outcomes):
        ids, _, before, replies, error = outcomes[0]  # every call stopped at its wrong id, but OK: a break
        raise Fail(f"ids {', '.join(map(str, ids))} → {_ended(replies, error)}; expected hugo, then INVALID_ARGUMENT",
                   ENDED_OK_AT_A_WRONG_ID_HINT)
    for ids, bad, before, replies, error in outcomes:
        shown = f"ids {', '.join(map(str, ids))} → {_ended(replies, error)}"
        wanted = f"expected {'hugo, then ' if before else ''}INVALID_ARGUMENT"
        skipped = [NAMES[user_id] for user_id in ids if user_id > 0]
        if error is None and len(ids) > 1 and _nicknames(replies) == skipped:
            raise Fail(f"{shown}; {wanted}", SKIPPED_HINT)
        if error is None or error.code() != grpc.StatusCode.INVALID_ARGUMENT:
            raise Fail(f"{shown}; {wanted}", _why(target, replies, before, error, BAD_ID_HINT))
        if _nicknames(replies) != before:
            raise Fail(f"{shown}; {wanted}", _why(target, replies, before, error, ORDER_HINT))
        if re.search(NOBODY_WORDS, error.details() or "", re.IGNORECASE):
            raise Fail(f"id {bad} → INVALID_ARGUMENT said {(error.details() or '')[:60]!r}, as if nobody had it: "
                       "the id itself is wrong", BAD_ID_SAYS_WHY_HINT)
        if not _names_id(error.details() or "", bad):
            raise Fail(f"id {bad} → INVALID_ARGUMENT said {(error.details() or '')[:60]!r}, which does not "
                       "name the id", BAD_ID_SAYS_WHY_HINT)
    _refuses_while_the_client_waits(target, 0, grpc.StatusCode.INVALID_ARGUMENT)


def no_ids_no_answers(target) -> None:
    replies, error = [], None
    with users_cases.users_stub(target) as stub:
        try:
            replies = list(stub.GetUsersByIds(iter([]), timeout=support.TIMEOUT))
        except grpc.RpcError as raised:
            if raised.code() in support.INFRASTRUCTURE_CODES:
                raise _explained(raised) from None
            error = raised
    if error is not None or replies:
        answered = f"{len(replies)} answer{'s' if len(replies) != 1 else ''}"
        raise Fail(f"no ids → {answered}, then " + (support.describe_rpc_error(error) if error else
                                                   "the stream ended OK") + "; expected no answers, and OK",
                   NO_IDS_HINT + (": yield nothing of your own after it" if replies else ""))


def _answered_elsewhere(talks: list[_Conversation]) -> bool:
    """Whether one of `talks`, each answered once already, got an answer it did not ask for."""
    return any(isinstance(_reply_or_error(talk, 0), users_pb2.UserResponse) for talk in talks)


def _busy(target) -> bool:
    """Whether the server keeps more than half a CPU busy for PEEK s: busy loops in waiting calls starve the others'
    answers, where a semaphore that makes them wait costs nothing."""
    return target.pid is not None and cost_over(target.pid, PEEK).cpu > PEEK / 2


def _still_unanswered_once_a_slot_is_free(talks: list[_Conversation]) -> bool:
    """Whether the last of `talks`, unanswered, still gets no answer once the first has ended: a semaphore held
    across the loop would then have a slot free for it, so its request went elsewhere (state shared on self)."""
    _end(talks[0])
    try:
        return talks[-1].next_answer(PEEK) is None
    except grpc.RpcError:
        return True


def _answered_over_a_connection_of_its_own(target) -> bool:
    """Whether a conversation over a new connection gets its id answered within PEEK s: where the next one over the
    checker's connection did not, the server caps the streams of one connection (grpc.max_concurrent_streams), where
    a semaphore or a pool would make this one wait too."""
    with grpc.insecure_channel(target.address, options=[("grpc.use_local_subchannel_pool", 1)]) as channel:
        talk = _Conversation(users_pb2_grpc.UserManagerStub(channel))
        try:
            talk.send(3)
            return isinstance(_reply_or_error(talk, PEEK), users_pb2.UserResponse)
        finally:
            _end(talk, wait=0)


def _first_answers(target, count: int) -> list[float]:
    """How long the first answer of each of `count` + 1 conversations took, each opened once the earlier ones wait
    for their next id (the first alone): the reference's, for the many-conversations case to compare with."""
    took = []
    with users_cases.users_stub(target) as stub:
        talks = []
        try:
            for user_id in (21, *[3] * count):
                talks.append(users_cases.Conversation(stub))
                took.append(_round_trip(talks[-1], user_id) or 0.0)
                time.sleep(SETTLE if len(talks) == 1 else 0)  # as the case does after the first
        finally:
            _end(*talks)
    return took


def _slower_than_alone(firsts: list[float], theirs: list[float]) -> Fail | None:
    """A Fail when the first answers of the conversations opened while others waited (`firsts` after the first, which
    was alone) took FIRST_ANSWER_SLACK s longer than the first's, and than the reference's (`theirs`), medians."""
    later, reference = statistics.median(firsts[1:]), statistics.median(theirs[1:])
    if later - max(firsts[0], reference) <= FIRST_ANSWER_SLACK:
        return None
    return Fail(f"while a conversation waited for its client's next id, the {len(firsts) - 1} opened after it, one "
                f"by one, got their first answers {later:.2f} s after their ids (the median), where the first, "
                f"alone, got its in {firsts[0]:.3f} s, and the kit's own server's in {reference:.3f} s",
                LOCK_TIMEOUT_HINT)


def _waited(number: int) -> str:
    """How the many-conversations case's ✗ line begins: the conversations that waited, and the one that came next."""
    if number == 1:
        return "while one conversation waited for its client's next id, another's id 3"
    return (f"while {number} conversations waited for their clients' next id, each answered at once, "
            f"conversation {number + 1}'s id 3")


def _refused(error: grpc.RpcError, number: int) -> BaseException:
    """A refusal that the conversation opened after `number` others got, as a Fail naming why; an error that says
    "not there" (not done yet, not running, raised) as it is, for the framework to explain."""
    if error.code() in support.INFRASTRUCTURE_CODES:
        return error
    limit = error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "Concurrent RPC limit" in (error.details() or "")
    return Fail(f"{_waited(number)} → {support.describe_rpc_error(error)[:100]}; expected carmen",
                CONCURRENT_RPCS_HINT if limit else REFUSED_WHEN_BUSY_HINT)


def _unanswered(target, talks: list[_Conversation], number: int) -> Fail:
    """Why the conversation opened after `number` others that wait got no answer: too few threads, state on self, a
    lock, a cap on one connection's streams, or a semaphore."""
    shown = f"{_waited(number)} got no answer within {users_cases.ANSWER_WAIT:g} s"
    workers = target.workers
    if workers is not None and workers <= number:
        return Fail(shown, POOL_HINT.format(workers=workers))
    if number > 1 and _still_unanswered_once_a_slot_is_free(talks):
        return Fail(f"{shown}, and none once the first had ended", SHARED_STATE_HINT)
    if number == 1:
        return Fail(shown, HELD_HINT)
    return Fail(shown, STREAMS_HINT if _answered_over_a_connection_of_its_own(target) else SLOTS_HINT)


def answers_one_conversation_while_others_wait(target, reference: Reference) -> None:
    """Conversations open one after another, each answered once and then left waiting for its next id, HELD in all:
    each must be answered while the earlier ones wait, about as fast as the first was alone. The second is not, where
    a lock is held across the loop (or late, where it is taken with a timeout); a later one, where the pool has fewer
    threads, or a semaphore fewer slots. (One after another, not at once: calls that swap what they keep on self would
    lose answers here, which another case names.)"""
    theirs = _first_answers(reference.target, FIRST_ANSWERS)
    start, goodbye = time.monotonic(), PEEK
    with users_cases.users_stub(target) as stub:
        talks = [_Conversation(stub)]
        try:
            sent = time.monotonic()
            talks[0].send(21)
            if not isinstance(talks[0].next_answer(PEEK), users_pb2.UserResponse):
                return  # the ping-pong case says why
            firsts = [time.monotonic() - sent]
            time.sleep(SETTLE)  # the server sends the answer, then reads on: let it get to waiting
            for number in range(1, HELD):
                if time.monotonic() - start > HELD_BUDGET:
                    return  # each answer is slow: the ping-pong case's to judge
                talks.append(_Conversation(stub))
                sent = time.monotonic()
                talks[-1].send(3)
                try:
                    reply = talks[-1].next_answer()
                except grpc.RpcError as error:
                    raise _refused(error, number) from None
                slow = None  # answered, but late: a lock taken with a timeout, unless the server spins
                if reply is not None:
                    firsts.append(time.monotonic() - sent)
                    if number == FIRST_ANSWERS:
                        slow = _slower_than_alone(firsts, theirs)
                    if slow is None:
                        continue
                if _answered_elsewhere(talks[:-1]):
                    return  # its id was answered on another conversation: state on self, which another case names
                if _busy(target):
                    # late because its waiting calls keep the CPUs busy, which the idle case names; they see the
                    # client's goodbye late too, and one cancelled before it would spin on in the idle case's server
                    goodbye = support.TIMEOUT
                    return
                raise slow or _unanswered(target, talks, number)
        finally:
            _end(*talks, wait=goodbye)
    _answers_while_an_answer_waits_to_be_read(target)


# A connection that takes nothing in unread (a stream's window of a byte, no window probing): the server's next
# answer on it waits, at its yield, until the client reads
UNREAD_CONNECTION = [("grpc.use_local_subchannel_pool", 1), ("grpc.http2.bdp_probe", 0),
                     ("grpc.http2.lookahead_bytes", 1)]


def _answers_while_an_answer_waits_to_be_read(target) -> None:
    """Fails when, while one conversation's answer waits for its client to read it, another conversation's id gets
    no answer: a lock (or a semaphore's slot) held across the yield, which waits for as long as the client does not
    read. The conversations of the case above read at once, so there a yield under a lock is over in an instant."""
    requests: queue.SimpleQueue = queue.SimpleQueue()
    with grpc.insecure_channel(target.address, options=UNREAD_CONNECTION) as channel:
        unread = users_pb2_grpc.UserManagerStub(channel).GetUsersByIds(iter(requests.get, None),
                                                                         timeout=support.CASE_DEADLINE)
        try:
            requests.put(users_pb2.UserRequest(id=21))
            time.sleep(SETTLE)
            with users_cases.users_stub(target) as stub:
                talk = _Conversation(stub)
                try:
                    talk.send(3)
                    reply = _reply_or_error(talk)
                finally:
                    _end(talk)
        finally:
            unread.cancel()
            requests.put(None)
    if isinstance(reply, grpc.RpcError):
        raise _refused(reply, 1)
    if not isinstance(reply, users_pb2.UserResponse):
        raise Fail(f"while a conversation's answer (ines) waited for its client to read it, another conversation's "
                   f"id 3 got no answer within {users_cases.ANSWER_WAIT:g} s", YIELD_UNDER_LOCK_HINT)


# Twelve conversations wait for their next id while the checker watches the server for IDLE_WINDOW. Measured on the
# kit's 2-core machine with ten: in 1.5 s windows (3 each) the answer (asleep in request_iterator) had 1-4 threads that
# woke 4 times or more, a thread per call that polls a queue every 0.05 s or 0.3 s 11-14; in 3 s windows (4 each) the
# answer had 7 threads that woke twice or more, always the same 7 (grpc's own: the workers asleep in request_iterator
# never wake), so a poll up to 1.5 s apart shows. A busy loop used 1.0 s of CPU a second, the answer 0.00-0.01.
IDLE_CONVERSATIONS, IDLE_WINDOW, WAKES, IDLE_CPU = 12, 3.0, 2, 0.3
POLL_HINT = ("a conversation that waits for its next id must cost nothing: loop `for request in request_iterator:`, "
             "which sleeps until the client sends. A loop that looks again and again (queue.get_nowait() and a "
             "sleep, inbox.empty(), a timeout) wakes a thread, or keeps a CPU busy, for every waiting client")


def waits_without_polling(target) -> None:
    pid = target.pid
    if pid is None:
        return  # a server the kit does not run: nothing of it can be watched
    with users_cases.users_stub(target) as stub:
        talks = [_Conversation(stub) for _ in range(IDLE_CONVERSATIONS)]
        try:
            for talk in talks:
                talk.send(21)
            for reply in map(_reply_or_error, talks):  # one at a time: the first that is not answered ends it
                if isinstance(reply, grpc.RpcError) and reply.code() in support.INFRASTRUCTURE_CODES:
                    raise reply  # not done yet, not running: the framework says so
                if not isinstance(reply, users_pb2.UserResponse):
                    return  # the ping-pong case says why, or the many-conversations case (a refusal, a limit)
            time.sleep(SETTLE)  # each call back to waiting for its next id
            used = cost_over(pid, IDLE_WINDOW)
        finally:
            _end(*talks)
    waiting = f"while {IDLE_CONVERSATIONS} conversations waited for their next id"
    if used.cpu > IDLE_CPU:
        raise Fail(f"{waiting}, your server used {used.cpu:.2f} s of CPU in {IDLE_WINDOW:g} s (a busy loop?)",
                   POLL_HINT)
    if used.wakes is not None and (awake := sum(1 for wakes in used.wakes if wakes >= WAKES)) >= IDLE_CONVERSATIONS:
        raise Fail(f"{waiting}, {awake} threads of your server woke up {WAKES} times or more in {IDLE_WINDOW:g} s "
                   "(a poll?)", POLL_HINT)


RULES = {  # Exercise 7.1: each rule is one case, and one wrong-answer test breaks only it
    "answers each id with its user, whole, before the client sends the next (ping-pong)":
        answers_each_id_before_the_next_comes,
    "ids 8, 3, 21, 3 → hugo, carmen, ines, carmen: one answer per id, in order; and so for two conversations "
    f"taking turns, for two of {LONG_TALK} ids each at once, and for a call with a {SHORT_DEADLINE:g} s deadline":
        answers_every_id_in_order,
    f"ids 8, {UNKNOWN_ID}, 21 → hugo, then NOT_FOUND naming {UNKNOWN_ID}, sent at once or one at a time; a user "
    f"AddUser has just stored (id {ADDED.id}) is found": ends_at_the_first_unknown_id,
    "ids 8, 0, 21 → hugo, then INVALID_ARGUMENT naming 0, sent at once or one at a time, though a user has id 0; "
    "ids -3 and -5 → the same": refuses_an_id_of_zero_or_below,
    "no ids → no answers, and the stream ends OK": no_ids_no_answers,
    f"{HELD} conversations at once, one waiting for its client's next id: every one is answered (no lock or "
    "semaphore held across the loop), and so while an answer waits for its client to read it (nor across the "
    "yield)": answers_one_conversation_while_others_wait,
    f"{IDLE_CONVERSATIONS} conversations waiting for their next id cost nothing: no poll, no busy loop":
        waits_without_polling,
}


TIMED_AGAINST_THE_REFERENCE = (answers_each_id_before_the_next_comes, answers_one_conversation_while_others_wait)


def check_get_users_by_ids(server) -> support.CheckResult:
    """Exercise 7.1: `server` is what server_runner.start("my_users_by_ids.py") returned."""
    with Reference() as reference:
        rules = {label: functools.partial(case, reference=reference) if case in TIMED_AGAINST_THE_REFERENCE else case
                 for label, case in RULES.items()}
        return users_cases.check_on_own_seed("Exercise 7.1 · GetUsersByIds", server, checker_seed(), rules)
