"""Checker for Exercise 9.1 (notebook 09): GetUsersByType as a grpc.aio method, over a slow directory.

A grpc.aio server runs every call on one event loop. The learner's method must await what waits
(`context.abort`, and the directory's lookup through `asyncio.to_thread`), or the loop stops for
everyone. The cases judge what a client sees: the refusal, the users and their order, and whether
the server still answers a health check (served on the same loop) while a lookup takes a second.
Each runs on a fresh copy of the learner's module over the checker's own users (users_cases).
"""
from __future__ import annotations

import inspect
import re
import tempfile
import threading
import time
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from workshop.checkers import support, users_cases
from workshop.checkers.support import Fail
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.runner.serving import SLOW_STEP_SETTING
from workshop.servers import users as users_server

NORMAL, GUEST, ADMINISTRATOR = users_pb2.USER_TYPE_NORMAL, users_pb2.USER_TYPE_GUEST, users_pb2.USER_TYPE_ADMINISTRATOR
NOT_A_TYPE = 99
UNSET = users_pb2.USER_TYPE_UNSPECIFIED
NOT_TYPES = (users_pb2.USER_TYPE_UNSPECIFIED, -1, max(users_pb2.UserType.values()) + 1, NOT_A_TYPE)  # and edges
SLOW_LOOKUP = 1.0  # seconds each lookup of the slow copy's directory takes
LOOKUP_TICK = 0.25  # and it ends on a multiple of this: the round's streams get their users at the same moment
HEALTH_WAIT = 0.25  # seconds a health check may take while lookups are slow (shorter blocks: STALL_LINE)
TOGETHER = 1.8  # × SLOW_LOOKUP: two overlapping lookups end well before two in a row would
REFUSED_WITHIN = 0.5  # × SLOW_LOOKUP: a refusal that waited for a lookup takes all of one
STARTED = 0.2  # seconds between health checks, from the stream's start to its end
STREAM_LAG = 0.1  # seconds after the slow round's refusal that its two streams start, while the refusal is under way
GUEST_LAG = 0.5  # seconds after the refusal that the slow round asks for GUEST (nobody has it) and DISABLED (150)
BIG_STREAM = 1.0  # seconds the slow round gives DISABLED's 150 users after the lookup (a right answer needs 0.05)
# The slow copy runs its loop in asyncio's debug mode, which logs every step of a task that holds the loop
# LOGGED_STEP s or more: far shorter blocks than a health check can show. Only the learner's method's steps count:
# one of SLOW_STEP s, or short ones that add up to HELD_IN_ALL s in one round (a little time.sleep per user).
LOGGED_STEP, SLOW_STEP, HELD_IN_ALL = 0.01, 0.05, 0.3
STALL_LINE = re.compile(r"Executing <Task [^\n]*GetUsersByType[^\n]* took (\d+\.\d+) seconds")
STALL_LOG_LINES = 2000
SETTLE, SETTLE_AT_MOST = 0.3, 1.5  # seconds: how long the slow copy's log must stay unchanged, and the most to wait

# id order zed (id 0), tess, bo, nora, ada; the order they are stored in is another, so only id order passes.
# DISABLED has 150 users: more than a cap of 100 lets through.
DISABLED = [(100 + n, f"dex{n:03}", users_pb2.USER_TYPE_DISABLED) for n in range(150)]
STORED = [(9, "nora", NORMAL), (4, "tess", NORMAL), (2, "root", users_pb2.USER_TYPE_ADMINISTRATOR),
          (3, "sys Admin ", users_pb2.USER_TYPE_ADMINISTRATOR),  # no mail, a capital, a space at its end: as stored
          (5, "zoe", users_pb2.USER_TYPE_ADMINISTRATOR),  # no mail either: two users, whatever their mails
          (12, "ada", NORMAL), (13, "untyped", users_pb2.USER_TYPE_UNSPECIFIED), (6, "bo", NORMAL), *DISABLED,
          (0, "zed", NORMAL)]
NO_MAIL = {"sys Admin ", "zoe"}
SEED = [users_pb2.User(id=user_id, nickname=name, mail_address="" if name in NO_MAIL else f"{name}@example.com",
                       user_type=kind) for user_id, name, kind in STORED]
IN_ID_ORDER = ["zed", "tess", "bo", "nora", "ada"]
REAL_TYPES = {users_pb2.USER_TYPE_ADMINISTRATOR: ["root", "sys Admin ", "zoe"],
              users_pb2.USER_TYPE_DISABLED: [name for _, name, _ in DISABLED], GUEST: []}
LATECOMERS = [users_pb2.User(id=30, nickname="lou", mail_address="lou@example.com", user_type=NORMAL),
              users_pb2.User(id=400, nickname="dex-late", mail_address="dl@example.com",
                             user_type=users_pb2.USER_TYPE_DISABLED),
              users_pb2.User(id=401, nickname="gil", mail_address="gil@example.com", user_type=GUEST)]  # 1st guest

AWAIT_ABORT_HINT = ("in grpc.aio, context.abort is a coroutine: `await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "
                    "problem)`, before the first yield. Without `await` it does nothing (Python only warns that a "
                    "coroutine was never awaited), and the method goes on")
SHARED_HINT = ("keep what belongs to one call in local variables (request, context, the users found): one servicer "
               "object serves every call in flight, and on asyncio they take turns at each await, so self.anything "
               "set by one call is changed by the next before the first is done")
HELD_HINT = ("the calls took turns: something one call holds across an `await` (a threading.Lock, a lock per type, "
             "a semaphore) makes another wait, and a thread lock waited for inside async def stops the whole loop. "
             "Hold nothing across an await; the directory takes care of its own lock")
WRONG_CODE_HINT = ("refuse with grpc.StatusCode.INVALID_ARGUMENT: the request is wrong, whatever the directory holds; "
                   "and refuse before the first yield")
NOT_A_TYPE_HINT = ("a number that UserType does not list is no type either: users.problem_with_user_type(request."
                   "user_type) finds every one (it returns None only for a real type): no range of your own")
UNSET_HINT = ("UNSPECIFIED (0) is listed in UserType, but it means 'not set': no type. users.problem_with_user_type"
              "(request.user_type) refuses it")
EVERY_TYPE_HINT = ("yield every user of the list of_type gives, whatever the type: no type of user is left out (the "
                   "DISABLED are users too; whether they may sign in is another service's business), and no user "
                   "either (two may share a mail address, or have none: each is a user of its own)")
REAL_TYPE_HINT = ("a type that UserType lists (all but UNSPECIFIED) is never refused: ask users.problem_with_user_type"
                  "(request.user_type), which returns None for each of them, rather than a list of your own")
SAYS_WHY_HINT = ("abort with the words users.problem_with_user_type(request.user_type) gives, as they are: they say "
                 "what is wrong and list the types to choose from")
ORDER_HINT = ("yield one users_pb2.UserResponse(user=user) per user of the list that the directory's of_type gives, "
              "in its order (id order)")
ZERO_HINT = "id 0 is an id like any other here: yield every user the directory gives, whatever its id"
AFRESH_HINT = ("ask the directory on every call (await asyncio.to_thread(self.directory.of_type, ...)), and send all "
               "it gives: a list kept from an earlier call misses whoever was added since, and users remembered as "
               "sent are left out of the next stream")
EMPTY_HINT = "a type nobody has is not an error: the loop runs zero times, and the stream ends OK by itself"
BLOCKING_HINT = ("something in your async def stops the event loop, so no other call is answered meanwhile: a "
                 "blocking call (self.directory.of_type blocks: `await asyncio.to_thread(self.directory.of_type, "
                 "request.user_type)` runs it in a thread), a time.sleep, or a threading.Lock that another call holds "
                 "across an await")

OWN_TIMEOUT_HINT = ("a timeout of your own ran out (asyncio.wait_for or asyncio.timeout around the lookup): here a "
                    "lookup takes a second. Let it take what it takes: the caller's deadline is the call's limit")
LOOKED_ANYWAY_HINT = ("refuse first, then look, and only if the request is good: the method went on after its "
                      "refusal (an `await context.abort(...)` inside try/except, whose exception is caught), or "
                      "started the lookup before the check (a task made beside it). A wrong request needs no lookup, "
                      "and a slow directory's threads are for the calls that do")
ADDS_UP_HINT = ("something in your async def stops the event loop a little at a time, and it adds up: a time.sleep "
                "per user, however short, or a blocking call in the loop over the users. Nothing in async def may "
                "block; to wait, `await asyncio.sleep(...)`, and the slow work goes through asyncio.to_thread")


def _listing(target, user_type: int, timeout: float = support.TIMEOUT):
    """The users the stream sent, and the error it ended with (None if OK)."""
    users, error = [], None
    with users_cases.users_stub(target) as stub:
        try:
            for reply in stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=user_type), timeout=timeout):
                if not reply.HasField("user"):
                    raise Fail("a message came with no user in it", "every message carries a user: yield one "
                               "users_pb2.UserResponse(user=user) per user the directory gave, and nothing else "
                               "(the User goes inside a UserResponse)")
                users.append(reply.user)
        except grpc.RpcError as raised:
            if raised.code() == grpc.StatusCode.DEADLINE_EXCEEDED and users:
                raise Fail(f"{_type_name(user_type)}: {len(users)} users came, then the stream ran out of its "
                           f"{timeout:g} s", "each user goes out at once: something in the loop over the users "
                           "waits: a time.sleep per user holds the event loop, however short, and an await per "
                           "user adds up (150 users × 0.05 s is 7.5 s)") from None
            if raised.code() in support.INFRASTRUCTURE_CODES:
                raise
            error = raised
    return users, error


def _names(names: list[str]) -> str:
    return ", ".join(names) if len(names) <= 6 else f"{len(names)} users ({', '.join(names[:3])}, …, {names[-1]})"


def _ended(users, error) -> str:
    names = _names([user.nickname for user in users]) or "no users"
    return f"{names}, then " + (support.describe_rpc_error(error) if error else "the stream ended OK")


def refuses_a_type_that_is_none(target) -> None:
    outcomes = {user_type: _listing(target, user_type) for user_type in NOT_TYPES}
    through = [user_type for user_type, (users, error) in outcomes.items()
               if error is None or error.code() != grpc.StatusCode.INVALID_ARGUMENT or users]
    for user_type in through:
        users, error = outcomes[user_type]
        if error is not None:
            hint = WRONG_CODE_HINT
        elif len(through) == len(NOT_TYPES):
            hint = AWAIT_ABORT_HINT
        elif user_type == users_pb2.USER_TYPE_UNSPECIFIED:
            hint = UNSET_HINT
        else:
            hint = NOT_A_TYPE_HINT
        raise Fail(f"{_type_name(user_type)} → {_ended(users, error)}; expected INVALID_ARGUMENT and no users", hint)
    for user_type, (_, error) in outcomes.items():
        expected = users_server.problem_with_user_type(user_type)
        if (error.details() or "") != expected:
            raise Fail(f"{_type_name(user_type)} → INVALID_ARGUMENT said {(error.details() or '')[:60]!r}, not "
                       f"users.problem_with_user_type's {expected[:40]!r}…", SAYS_WHY_HINT)


def _type_name(user_type: int) -> str:
    return users_pb2.UserType.Name(user_type) if user_type in users_pb2.UserType.values() else f"user_type {user_type}"


def streams_every_user_in_id_order(target) -> None:
    stored = {user.id: user for user in SEED}
    users, error = _listing(target, NORMAL)
    if error is not None or [user.nickname for user in users] != IN_ID_ORDER:
        raise Fail(f"NORMAL → {_ended(users, error)}; expected {', '.join(IN_ID_ORDER)}",
                   ZERO_HINT if [user.nickname for user in users] == IN_ID_ORDER[1:] else ORDER_HINT)
    changed = next((user for user in users if user != stored.get(user.id)), None)
    if changed is not None:
        raise Fail(f"{changed.nickname} came as {users_cases.one_line(changed)}", ORDER_HINT)
    with tempfile.TemporaryDirectory(prefix="workshop-9.1-") as folder:
        database = str(Path(folder) / "users.db")
        with users_cases.seeded(target, SEED, env={"USERS_DB": database}) as (copy, _):
            kinds = [latecomer.user_type for latecomer in LATECOMERS]
            before = {kind: [user.nickname for user in _listing(copy, kind)[0]] for kind in kinds}
            directory = users_server.UserDirectory(database)
            for latecomer in LATECOMERS:
                directory.add(latecomer)  # as another server would, into the same database
            stored = {kind: [user.nickname for user in sorted(SEED, key=lambda u: u.id) if user.user_type == kind]
                      for kind in kinds}
            for latecomer in LATECOMERS:
                if before[latecomer.user_type] != stored[latecomer.user_type]:
                    continue  # the first stream was wrong already: the cases of what a stream holds say how
                users, error = _listing(copy, latecomer.user_type)
                expected = [*before[latecomer.user_type], latecomer.nickname]
                if [user.nickname for user in users] != expected:
                    raise Fail(f"{_type_name(latecomer.user_type)}, asked again after {latecomer.nickname} was added "
                               f"to the directory: {_ended(users, error)[:100]}; expected {_names(expected)}",
                               AFRESH_HINT)


def an_empty_type_is_an_empty_stream(target) -> None:
    stored = {user.id: user for user in SEED}
    for user_type, expected in REAL_TYPES.items():
        users, error = _listing(target, user_type)
        ids = [user.id for user in SEED if user.user_type == user_type]
        changed = next((user for user in users if user != stored.get(user.id)), None)
        if error is None and [user.id for user in users] == sorted(ids) and changed is not None:
            raise Fail(f"{_type_name(user_type)}: {changed.nickname!r} came as {users_cases.one_line(changed)}",
                       "yield each user as the directory gave it: UserResponse(user=user), nothing changed")
        if error is not None or [user.nickname for user in users] != expected:
            name = _type_name(user_type)
            refused = error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT
            if expected:
                raise Fail(f"{name} → {_ended(users, error)[:120]}; expected {_names(expected)}",
                           REAL_TYPE_HINT if refused else EVERY_TYPE_HINT)
            raise Fail(f"{name} → {_ended(users, error)}; nobody is {name}, so expected no users and OK",
                       REAL_TYPE_HINT if error is not None and error.code() == grpc.StatusCode.INVALID_ARGUMENT
                       else EMPTY_HINT)
        changed = next((user for user in users if user != stored.get(user.id)), None)
        if changed is not None:
            raise Fail(f"{_type_name(user_type)}: {changed.nickname} came as {users_cases.one_line(changed)}",
                       "yield each user as the directory gave it: UserResponse(user=user), nothing changed")


def _outcome(listing) -> tuple:
    users, error = listing
    return [user.nickname for user in users], error.code() if error else None


def _a_slow_round(slow, alone: dict) -> bool:
    """On the slow copy: a refusal, then three GetUsersByType streams at once (two of one type, one of another)
    with health checks meanwhile, then a type nobody has and one of 150 users (their paths may block too, a
    little per user). A Fail if the loop stopped
    long enough for a check to go unanswered, if the streams took turns, or if a call's answer differs from
    `alone`'s listing (the same call made on its own): one call's state leaked into another's. Whether the
    refusal came as INVALID_ARGUMENT."""
    outcome: dict[str, object] = {}

    took: dict[str, float] = {}

    def read(name: str, user_type: int, after: float, cut_after: float | None) -> None:
        time.sleep(after)
        began = time.monotonic()
        try:
            if cut_after is not None:  # only its steps count: a slow stream is cut short
                try:
                    outcome[name] = _listing(slow, user_type, timeout=cut_after)
                except (Fail, grpc.RpcError) as cut:  # out of time: asyncio's debug mode judges what it logged
                    outcome[name] = ([], cut)
            else:
                outcome[name] = _listing(slow, user_type)
        except grpc.RpcError as error:  # a servicer that fails only beside other calls: compared below
            outcome[name] = ([], error) if error.code() == grpc.StatusCode.UNKNOWN else error
        except BaseException as error:  # reported below, as the case's own failure
            outcome[name] = error
        took[name] = time.monotonic() - began

    # The refusal first, then the streams while it is under way (a servicer that keeps a call's request or
    # context on self mixes them up; a lock per type, or room for two, makes the third wait); GUEST's and
    # DISABLED's lookups overlap the streams', their blocks apart from theirs: the health checks below see the
    # streams' blocks, asyncio's debug mode the rest.
    # name: (type, seconds after the refusal, seconds after which its stream is cut short, or None)
    calls = {"refusal": (UNSET, 0.0, None), "NORMAL": (NORMAL, STREAM_LAG, None),
             "NORMAL again": (NORMAL, STREAM_LAG, None), "ADMINISTRATOR": (ADMINISTRATOR, STREAM_LAG, None),
             "GUEST": (GUEST, GUEST_LAG, None),
             "DISABLED": (users_pb2.USER_TYPE_DISABLED, GUEST_LAG, SLOW_LOOKUP + BIG_STREAM)}
    streams = [name for name, (_, lag, _) in calls.items() if lag == STREAM_LAG]
    started = time.monotonic() + STREAM_LAG
    threads = {name: threading.Thread(target=read, args=(name, *call), name="checker-9.1", daemon=True)
               for name, call in calls.items()}
    for each in threads.values():
        each.start()
    with slow.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        deadline = time.monotonic() + support.TIMEOUT
        while time.monotonic() < deadline:  # a check every STARTED s, for as long as the streams run
            threads[streams[-1]].join(STARTED)
            if all(name in outcome for name in streams):
                break
            for attempt in (1, 2):  # a late answer once may be a busy machine; a stopped loop is late twice
                try:
                    health.Check(health_pb2.HealthCheckRequest(), timeout=HEALTH_WAIT)
                    break
                except grpc.RpcError as error:
                    if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                        raise
                    if attempt == 2:
                        raise Fail(f"while GetUsersByType waited {SLOW_LOOKUP:g} s for the directory, two health "
                                   f"checks in a row got no answer within {HEALTH_WAIT:g} s: the event loop was "
                                   "stopped", BLOCKING_HINT) from None
    for name in streams:
        threads[name].join(max(0.1, deadline - time.monotonic()))
    together = time.monotonic() - started
    for each in threads.values():
        each.join(max(0.1, deadline - time.monotonic()))
    got = dict(outcome)
    failed = next((item for item in got.values() if isinstance(item, BaseException)), None)
    if failed is not None:
        raise failed
    if any(name not in got for name in streams):
        raise Fail(f"with lookups of {SLOW_LOOKUP:g} s, {len(streams)} GetUsersByType streams at once did not end "
                   f"within {support.TIMEOUT:g} s", HELD_HINT)
    for name, (user_type, _, _) in calls.items():
        if user_type in alone and name in got and _outcome(got[name]) != _outcome(alone[user_type]):
            error = got[name][1]
            own_timeout = isinstance(error, grpc.RpcError) and "TimeoutError" in (error.details() or "")
            raise Fail(f"{_type_name(user_type)}, asked while other calls were under way, got "
                       f"{_ended(*got[name])}; asked alone, {_ended(*alone[user_type])}",
                       OWN_TIMEOUT_HINT if own_timeout else SHARED_HINT)
    if together > TOGETHER * SLOW_LOOKUP:
        raise Fail(f"{len(streams)} streams at once (two of one type), each with a {SLOW_LOOKUP:g} s lookup, took "
                   f"{together:.1f} s: one waited for another", HELD_HINT)
    refusal = got.get("refusal")
    refused = isinstance(refusal, tuple) and _outcome(refusal) == ([], grpc.StatusCode.INVALID_ARGUMENT)
    if refused and took["refusal"] > REFUSED_WITHIN * SLOW_LOOKUP:
        raise Fail(f"with lookups of {SLOW_LOOKUP:g} s, the refusal of USER_TYPE_UNSPECIFIED took "
                   f"{took['refusal']:.1f} s: it waited for the directory",
                   "refuse first, then look: users.problem_with_user_type(request.user_type) before the directory "
                   "is asked (a request that is wrong needs no lookup, and a slow directory should not make a "
                   "caller wait to hear so)")
    return refused


def _stalls(slow) -> list[float]:
    """The seconds each step of a GetUsersByType call held the loop, as asyncio's debug mode logged them.

    asyncio logs a step once it has ended, which can be after its call's answer reached the checker: the
    log is read until it stays the same for SETTLE seconds (SETTLE_AT_MOST in all)."""
    seen, deadline = None, time.monotonic() + SETTLE_AT_MOST
    while True:
        log = slow.handle.logs(STALL_LOG_LINES) if slow.handle else ""
        found = [float(seconds) for seconds in STALL_LINE.findall(log)]
        if found == seen or time.monotonic() > deadline:
            return found
        seen = found
        time.sleep(SETTLE)


def _held(stalls: list[float]) -> bool:
    return bool(stalls) and (max(stalls) >= SLOW_STEP or sum(stalls) >= HELD_IN_ALL)


def answers_others_while_a_lookup_is_slow(target) -> None:
    with users_cases.seeded(target, SEED) as (quick, _):  # what each call of the round gives when made alone
        alone = {user_type: _listing(quick, user_type)
                 for user_type in (UNSET, NORMAL, ADMINISTRATOR)}
    env = {"USERS_LOOKUP_SECONDS": str(SLOW_LOOKUP), SLOW_STEP_SETTING: str(LOGGED_STEP),  # logs each slow step
           "USERS_LOOKUP_TICK": str(LOOKUP_TICK), "USERS_LOOKUP_NOTED": "1"}
    with users_cases.seeded(target, SEED, env=env) as (slow, _):
        slow.ensure_running()
        refused = _a_slow_round(slow, alone)
        seen = _stalls(slow)
        if refused and slow.handle and f"{users_server.LOOKUP_NOTE}{UNSET})" in slow.handle.logs(STALL_LOG_LINES):
            raise Fail("the refusal of USER_TYPE_UNSPECIFIED reached its caller, but the directory was asked for "
                       "that type all the same", LOOKED_ANYWAY_HINT)
        if _held(seen):  # once may be a busy machine; a blocking call does it again
            _a_slow_round(slow, alone)
            again = _stalls(slow)[len(seen):]
            if _held(again) and max(again) >= SLOW_STEP:
                raise Fail(f"a step of GetUsersByType held the event loop for {max(again):.2f} s, so no other call "
                           "moved meanwhile (asyncio's debug mode measured it, twice)", BLOCKING_HINT)
            if _held(again):
                raise Fail(f"{len(again)} steps of GetUsersByType held the event loop {LOGGED_STEP:g} s or more "
                           f"each, {sum(again):.1f} s in all, so no other call moved meanwhile (asyncio's debug mode "
                           "measured it, twice)", ADDS_UP_HINT)


def is_an_async_generator(target) -> None:
    """A plain `def` works on grpc.aio too (grpc runs it in a thread): it answers right, but it is not asyncio."""
    _listing(target, NORMAL)  # a method that still answers UNIMPLEMENTED is "not done yet", whatever its shape
    if target.module is None:
        return  # a server the kit does not run from a module: nothing to look at but its answers
    module = support.load_module(target.module)
    servicers = [value for value in vars(module).values() if isinstance(value, type)
                 and issubclass(value, users_pb2_grpc.UserManagerServicer) and "GetUsersByType" in vars(value)]
    if not servicers:
        raise Fail("no class of your module defines GetUsersByType on a users_pb2_grpc.UserManagerServicer",
                   "write GetUsersByType in the exercise cell's class UserManager(users_pb2_grpc.UserManagerServicer)")
    method = servicers[0].GetUsersByType
    if not inspect.isasyncgenfunction(method):
        if inspect.iscoroutinefunction(method):
            raise Fail("GetUsersByType is a coroutine that returns, not an async def that yields",
                       "`yield` each users_pb2.UserResponse(user=user) in your async def, as the exercise asks "
                       "(await context.write(...) works too, but it is not the generator the exercise is about)")
        raise Fail("GetUsersByType is a plain def, not an async def that yields",
                   "write `async def GetUsersByType(self, request, context):` and `yield` each response: grpc.aio "
                   "runs a plain def in a thread of its own, which is what asyncio saves")


RULES = {  # Exercise 9.1: each rule is one case, and one wrong-answer test breaks only it
    "UNSPECIFIED, -1, 5 or 99 → INVALID_ARGUMENT with users.problem_with_user_type's words, before any user "
    "(abort awaited)": refuses_a_type_that_is_none,
    "NORMAL → zed (id 0), tess, bo, nora, ada: every user of the type, as stored, in id order, asked of the "
    "directory on each call (a user added since comes too)": streams_every_user_in_id_order,
    "every other type is served, each user as stored: ADMINISTRATOR → its 3 (two with no mail), DISABLED → its 150 "
    "users, GUEST "
    "(nobody has it) → no users, and each stream ends OK": an_empty_type_is_an_empty_stream,
    f"3 streams at once (NORMAL twice, ADMINISTRATOR), each lookup {SLOW_LOOKUP:g} s, while a refusal is under way: "
    f"all end in about {SLOW_LOOKUP:g} s, each call answered as if alone, the refusal at once (no lookup first), "
    "and a health check is answered at once meanwhile (the loop never blocks, not even a little per user)":
        answers_others_while_a_lookup_is_slow,
    "GetUsersByType is an async def that yields: its calls run on the event loop, not in threads":
        is_an_async_generator,
}


def check_aio_users_by_type(server) -> support.CheckResult:
    """Exercise 9.1: `server` is what server_runner.start("my_aio_users_by_type.py") returned."""
    return users_cases.check_on_own_seed("Exercise 9.1 · GetUsersByType on grpc.aio", server, SEED, RULES)
