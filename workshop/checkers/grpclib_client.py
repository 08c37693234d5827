"""Checker for Exercise 9.2 (notebook 09): count_known(stub, ids), a grpclib client of CountAlreadyUsers.

The learner writes an `async def` that streams ids on a grpclib stub and returns the server's
count. The checker hands it stubs on channels of its own, in an event loop of its own on a
thread (the notebook's loop is busy running the cell): to the kit's grpcio users server over 300
users of its own, and to two grpclib servers it runs in that loop, one that refuses and one that
never answers. Each rule below is one case; tests/test_checkers_grpclib_client.py breaks each alone.
"""
from __future__ import annotations

import asyncio
import contextlib
import inspect
import socket
import tempfile
import threading
import time
from pathlib import Path

from workshop.checkers.support import CASE_DEADLINE, CheckResult, Fail, run_checks
from workshop.checkers.users_cases import write_seed
from workshop.protos import users_grpc, users_pb2

RULES = {  # Exercise 9.2: each rule is one case; a wrong-answer test breaks each on its own
    "counts": "ids 1 to 300 and 404, to the kit's grpcio server holding users 1 to 300 → 300: every id sent, "
              "the stream ended, the count returned",
    "empty": "no ids → 0: the call is still made, and its stream ended",
    "error": "an error the server sends rises as the GRPCError it sent (its status, whichever of the 16, and its "
             "message), not as a count; a server that is not there: the ConnectionRefusedError rises as it came, "
             "after one attempt",
    "one call": "ids 3, 0, 1, -4, 2, 2 → one call that carries each, as given (0, -4 and the repeat too), the "
                "list left as it was; no ids → "
                "still one call (send_request); 251 ids → one call too; a count of 0 is not asked again; a refused "
                "call is not made again, whatever its status",
    "deadline": "a server that does not answer → after about a second, the call gives up (TimeoutError rises); "
                "the server got that deadline with the call; cancelled sooner, it ends at once, cancelled, and its "
                "call with it",
    "loop free": "the event loop goes on all the while, in every case above and with a slow server: nothing in "
                 "it blocks (no time.sleep, no blocking call)",
}
USERS = 300
UNKNOWN_ID = 404
REFUSAL = "the checker refuses every count"
REFUSAL_REASON = "CHECKER_REFUSES"  # the ErrorInfo of each refusal's details: what a GRPCError made anew loses
REFUSED_WITH = ("INVALID_ARGUMENT", "NOT_FOUND", "UNAVAILABLE", "PERMISSION_DENIED", "INTERNAL", "ABORTED",
                "RESOURCE_EXHAUSTED", "UNKNOWN", "DEADLINE_EXCEEDED", "UNAUTHENTICATED", "FAILED_PRECONDITION",
                "UNIMPLEMENTED", "CANCELLED", "ALREADY_EXISTS", "OUT_OF_RANGE", "DATA_LOSS")  # every code but OK
NOBODY = [404, 405]  # ids no user has: the count is 0, and still one call
GIVES_UP_AFTER, GIVES_UP_BY = 0.75, 2.5  # seconds: a timeout of 1 s, with room for a busy laptop
CARRIED_AT_LEAST, CARRIED_AT_MOST = 0.9, 1.05  # seconds: the deadline the silent server may see (1 s, give or take)
WAIT = 4.0  # seconds the checker waits for the learner's coroutine against a server that answers at once
MANY = [*range(1, 251), 1]  # one call for them all, the repeat of 1 included
CANCEL_AFTER = 0.15  # seconds: the checker cancels count_known, waiting for a silent server, this soon
CANCEL_PATIENCE = 0.2  # seconds a cancelled count_known may take to end, and its call with it
CLOSED_WITHIN = 0.1  # seconds for the silent server to see a call that its client cancelled end
ONE_CALL_IDS = [3, 0, 1, -4, 2, 2]  # not in order, one repeated, two no user can have: sent as given
TICK = 0.02  # seconds between the ticks of the checker's own coroutine, beside the learner's
STALL = 0.25  # seconds without a tick: the loop was blocked (the answer's longest is under 0.05 s; a loaded CI saw 0.2)
ANSWER_DELAY = 0.3  # seconds the counting server of "loop free" takes to answer: time to block in

END_HINT = ("the server answers only once your side of the stream has ended: after the last send_message, "
            "`await stream.end()`, then `reply = await stream.recv_message()`")
OPEN_HINT = ("with no ids, no send_message opens the call: `await stream.send_request()` first (it sends the "
             "call's headers), then the ids, then `await stream.end()`")


def _seed(folder: str):
    return write_seed([users_pb2.User(id=n, nickname=f"user{n}", mail_address=f"user{n}@example.com",
                                      user_type=users_pb2.USER_TYPE_NORMAL) for n in range(1, USERS + 1)], folder)


class _Refuses(users_grpc.UserManagerBase):
    """Counts nothing: every CountAlreadyUsers ends with `status` once the client has sent its ids.

    (Refused before that, a client still sending would meet grpclib's StreamClosedError instead of the
    GRPCError, whatever it does right.)
    """

    refused = 0  # calls refused so far, on this servicer

    def __init__(self, status: str = "INVALID_ARGUMENT"):
        self.status = status

    async def CountAlreadyUsers(self, stream) -> None:
        from google.rpc import error_details_pb2
        from grpclib import GRPCError
        from grpclib.const import Status

        self.refused += 1
        async for _ in stream:
            pass
        raise GRPCError(Status[self.status], REFUSAL,
                        [error_details_pb2.ErrorInfo(reason=REFUSAL_REASON, domain="workshop.checkers")])

    async def _unused(self, stream) -> None:
        from grpclib import GRPCError
        from grpclib.const import Status

        raise GRPCError(Status.UNIMPLEMENTED)

    GetUser = AddUser = GetUsersByType = GetUsersByIds = _unused


class _Silent(_Refuses):
    """Never answers CountAlreadyUsers (until the checker closes it); notes the deadline each call carried."""

    def __init__(self):
        self.deadlines: list = []
        self.open = 0  # calls under way: one its client cancelled ends here too

    async def CountAlreadyUsers(self, stream) -> None:
        self.deadlines.append(stream.deadline.time_remaining() if stream.deadline else None)
        self.open += 1
        try:
            await asyncio.sleep(3600)
        finally:
            self.open -= 1


class _Counting(_Refuses):
    """Counts like the kit's server (users 1 to 300), and notes the ids each call carried."""

    def __init__(self, delay: float = 0.0):
        self.calls: list[list[int]] = []
        self.delay = delay

    async def CountAlreadyUsers(self, stream) -> None:
        ids: list[int] = []
        self.calls.append(ids)  # from its start: a call that runs out of time is still one call
        async for request in stream:
            ids.append(request.id)
        await asyncio.sleep(self.delay)
        await stream.send_message(users_pb2.UserCountResponse(count=len({i for i in ids if 1 <= i <= USERS})))


@contextlib.asynccontextmanager
async def _serving(servicer):
    """A grpclib server for `servicer` on 127.0.0.1, in this loop, for as long as the block runs."""
    from grpclib.server import Server

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    server = Server([servicer])
    await server.start(sock=listener)
    try:
        yield listener.getsockname()[1]
    finally:
        server.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1)


def _waited_for_a_cpu() -> float:
    """Seconds this thread has spent ready to run but waiting for a busy CPU (Linux: the second number of
    /proc/thread-self/schedstat, in ns); 0 where the system does not tell."""
    try:
        return int(Path("/proc/thread-self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return 0.0


async def _ticking(awaitable, stalls: list[float]):
    """`await awaitable`, with a coroutine beside it that ticks every TICK s; the longest gap between two
    ticks (beyond TICK) goes into `stalls`: how long the loop stood still. Time the loop's thread only
    waited for a CPU (a loaded machine, not a block in the loop) is not counted."""
    longest, last, waited = 0.0, time.monotonic(), _waited_for_a_cpu()

    def gap() -> float:
        nonlocal last, waited
        now, now_waited = time.monotonic(), _waited_for_a_cpu()
        stood_still = now - last - TICK - (now_waited - waited)
        last, waited = now, now_waited
        return stood_still

    async def tick():
        nonlocal longest
        while True:
            await asyncio.sleep(TICK)
            longest = max(longest, gap())
    ticker = asyncio.ensure_future(tick())
    try:
        return await awaitable
    finally:
        ticker.cancel()
        stalls.append(max(longest, gap()))  # a block at the very end counts too


class _Tally:
    """A stub's CountAlreadyUsers that counts the calls made with it (open() or a direct call), then makes them."""

    def __init__(self, method):
        self.method, self.calls = method, 0

    def open(self, *args, **kwargs):
        self.calls += 1
        return self.method.open(*args, **kwargs)

    async def __call__(self, *args, **kwargs):
        self.calls += 1
        return await self.method(*args, **kwargs)


async def _count(function, stalls: list[float], port: int, ids: list[int], wait: float, tally: list | None = None,
                 given: list | None = None):
    """`await function(stub, a copy of ids)` on a grpclib channel of its own to 127.0.0.1:port, bounded by `wait`;
    how long it stopped the loop goes into `stalls`. With `tally`, the stub's _Tally is appended to it; with
    `given`, the copy it was given (as the call left it). A copy each time: a function that changes its list
    must not change the checker's."""
    from grpclib.client import Channel
    from grpclib.exceptions import StreamTerminatedError
    from h2.exceptions import StreamClosedError

    async with Channel("127.0.0.1", port) as channel:
        stub = users_grpc.UserManagerStub(channel)
        if tally is not None:
            stub.CountAlreadyUsers = _Tally(stub.CountAlreadyUsers)
            tally.append(stub.CountAlreadyUsers)
        mine = list(ids)
        if given is not None:
            given.append(mine)
        try:
            return await _ticking(asyncio.wait_for(function(stub, mine), wait), stalls)
        except (StreamTerminatedError, StreamClosedError) as closed:
            raise Fail(f"count_known raised {type(closed).__name__}: {str(closed)[:60]}", "grpclib found the stream "
                       "closed: no stream.cancel() once the call is under way or over (in a finally, too): leaving "
                       "the `async with` ends it, and the reply is read inside it") from None
        except NotImplementedError:
            raise Fail("not done yet: count_known still raises NotImplementedError",
                       "write count_known in the exercise cell, run that cell, then run the checker again") from None


def _in_a_loop_of_its_own(coroutine_function):
    """Run `coroutine_function()` to the end in a new event loop on a thread; its result, or what it raised."""
    outcome: list = []

    def run():
        try:
            outcome.append((True, asyncio.run(coroutine_function())))
        except BaseException as error:  # a checker reports every failure
            outcome.append((False, error))

    worker = threading.Thread(target=run, name="checker-9.2", daemon=True)
    worker.start()
    worker.join(CASE_DEADLINE - 1)
    if not outcome:
        raise Fail("count_known never returned", "pass timeout=1 to open(...): a call must not wait for ever")
    done, value = outcome[0]
    if not done:
        raise value
    return value


def check_count_known(function) -> CheckResult:
    """Exercise 9.2: `function` is the learner's `async def count_known(stub, ids)`."""
    import server_runner

    if not inspect.iscoroutinefunction(function):
        return run_checks("Exercise 9.2 · a grpclib client", [(rule, lambda: _not_async(function))
                                                               for rule in RULES.values()])
    with tempfile.TemporaryDirectory(prefix="workshop-9.2-") as folder, \
            server_runner.start("users", env={"USERS_SEED": str(_seed(folder))}) as users:
        stalls: list[float] = []  # how long each call of the learner's coroutine stopped the loop
        refusing = {status: _Refuses(status) for status in REFUSED_WITH}

        def counts():
            ids = [*range(1, USERS + 1), UNKNOWN_ID]
            got = _answered(lambda: _in_a_loop_of_its_own(lambda: _count(function, stalls, users.port, ids, WAIT)),
                            "ids 1 to 300", END_HINT, stalls)
            if got != USERS:
                raise Fail(f"count_known(stub, [1, ..., 300, 404]) gave {got}; expected {USERS}",
                           "send every id of `ids`, each as users_pb2.UserRequest(id=...), before ending the stream")

        def empty():
            got = _answered(lambda: _in_a_loop_of_its_own(lambda: _count(function, stalls, users.port, [], WAIT)),
                            "no ids", END_HINT)
            if got != 0:
                raise Fail(f"count_known(stub, []) gave {got}; expected 0", OPEN_HINT)

        def error():
            from grpclib import GRPCError

            for status, servicer in refusing.items():
                async def refused(servicer=servicer):
                    async with _serving(servicer) as port:
                        return await _count(function, stalls, port, [1, 2], WAIT)
                try:
                    got = _in_a_loop_of_its_own(refused)
                except GRPCError as raised:
                    if raised.status.name == status and raised.message == REFUSAL and _refusal_details(raised):
                        continue
                    if raised.status.name == status and raised.message == REFUSAL:
                        raise Fail(f"the server refused with {status}, {REFUSAL!r} and an ErrorInfo in its details, "
                                   "but the GRPCError that rose had no such details",
                                   "let the GRPCError itself rise, as it came (no `raise GRPCError(error.status, "
                                   "error.message)`: one made anew loses the details the server sent)") from None
                    if raised.status.name == status:
                        raise Fail(f"the server refused with {status} and {REFUSAL!r}, but the GRPCError that rose "
                                   f"said {str(raised.message)[:60]!r}",
                                   "let the GRPCError itself rise, as it came: its message is the server's words, "
                                   "which the caller needs") from None
                    raise Fail(f"the server refused with {status}, but GRPCError({raised.status.name}) rose",
                               "let the GRPCError itself rise: do not catch it") from None
                except Fail:
                    raise
                except Exception as other:
                    timed_out = isinstance(other, (TimeoutError, asyncio.TimeoutError))  # its refusal never came
                    raise Fail(f"the server refused with {status}, but {type(other).__name__} rose: "
                               f"{str(other)[:60]!r}", END_HINT if timed_out else "let the GRPCError itself rise, "
                               "as it came: its status and message are what the caller needs to decide (an "
                               "exception of your own hides them)") from None
                raise Fail(f"against a server that refuses with {status}, count_known gave {got!r}",
                           "let the GRPCError rise, whatever its status: a count of 0 (or None) would read as "
                           "'none of these are users'")
            with socket.socket() as probe:  # a port with no server behind it
                probe.bind(("127.0.0.1", 0))
                nowhere = probe.getsockname()[1]
            tally: list = []
            try:
                got = _in_a_loop_of_its_own(lambda: _count(function, stalls, nowhere, [1, 2], WAIT, tally))
            except Fail:
                raise
            except Exception as error:  # grpclib raises ConnectionRefusedError: the caller's to handle
                attempts = tally[0].calls if tally else 0
                if attempts > 1:
                    raise Fail(f"against a server that is not there, count_known made {attempts} calls",
                               "make one call, and let its error rise: whether, and when, to try again is the "
                               "caller's choice (it knows whether the server is coming back)") from None
                if not isinstance(error, ConnectionRefusedError):
                    raise Fail(f"against a server that is not there, {type(error).__name__} rose: "
                               f"{str(error)[:60]!r}; grpclib raised ConnectionRefusedError",
                               "let the error rise as it came: a ConnectionRefusedError turned into another "
                               "exception (or a GRPCError with a status of your own) hides what happened") from None
                return
            raise Fail(f"against a server that is not there, count_known gave {got!r}",
                       "let every error rise, a refused connection too: a count would say the server answered")

        def one_call():
            counting = _Counting()

            given: list = []

            async def twice():
                async with _serving(counting) as port:
                    await _count(function, stalls, port, ONE_CALL_IDS, WAIT, given=given)
                    calls = list(counting.calls)
                    await _count(function, stalls, port, [], WAIT)
                    await _count(function, stalls, port, NOBODY, WAIT)
                    before = len(counting.calls)
                    try:
                        await _count(function, stalls, port, MANY, WAIT)
                    except (Exception, asyncio.TimeoutError):  # one call an id runs out of time: the calls tell
                        pass
                    return calls, counting.calls[:before], counting.calls[before:]
            first, until_many, many = _in_a_loop_of_its_own(twice)
            if given and given[0] != ONE_CALL_IDS:
                raise Fail(f"count_known(stub, {ONE_CALL_IDS}) left the list it was given as {given[0]}",
                           "read ids, and change nothing of it: the list is the caller's (no ids.pop, ids.sort or "
                           "ids.reverse: loop over it, or over sorted(ids), a copy)")
            if first != [ONE_CALL_IDS]:
                if len(first) > 1:
                    hint = "open one call, send every id on its stream, then end it: not one call per id"
                elif first and len(first[0]) == len(ONE_CALL_IDS):
                    hint = "send each id as given, unchanged: UserRequest(id=user_id), whatever the number"
                elif first and first[0] and set(first[0]) <= set(ONE_CALL_IDS):
                    hint = ("send each id as given, 0, a negative one and a repeated one too: the server decides "
                            "what counts, and counts a repeat once")
                else:
                    hint = ("await each send_message: without `await`, nothing is sent (Python only warns that a "
                            "coroutine was never awaited)")
                raise Fail(f"for ids {ONE_CALL_IDS} the server got {len(first)} call(s) carrying {first}; expected "
                           f"one call carrying {ONE_CALL_IDS}", hint)
            if len(until_many) < 2 or until_many[1] != []:
                raise Fail("for no ids, count_known made no call at all", OPEN_HINT + " (or a count kept from an "
                           "earlier call answered instead: ask the server every time)")
            if until_many[2:] != [NOBODY]:
                raise Fail(f"for ids {NOBODY}, which no user has, the server got {len(until_many[2:])} calls "
                           f"carrying {until_many[2:]}; expected one",
                           "a count of 0 is an answer: return it (asking again gives the same 0, at twice the cost)")
            if len(many) != 1:
                raise Fail(f"for {len(MANY)} ids, count_known made {len(many)} calls, carrying "
                           f"{[len(ids) for ids in many]} ids; expected one call",
                           "one call, however many ids: a repeat in two calls would be counted twice")
            made = sum(servicer.refused for servicer in refusing.values())
            if made > len(refusing):  # the error case: one call to each refusing server
                raise Fail(f"against servers that refused, count_known made {made} calls where {len(refusing)} "
                           "were due",
                           "make one call, and let its GRPCError rise: whether to try again is the caller's choice "
                           "(a retry that is not safe would count twice elsewhere)")

        def loop_free():
            counting = _Counting(delay=ANSWER_DELAY)

            async def slow_answer():
                async with _serving(counting) as port:
                    try:
                        await _count(function, stalls, port, [1, 2, 3], WAIT)
                    except Fail:
                        raise
                    except Exception:  # an answer or an error: the other cases judge those, this one the loop
                        pass
            _in_a_loop_of_its_own(slow_answer)
            stalled = max(stalls)  # every case's calls were timed: a block on any path counts
            if stalled > STALL:
                raise Fail(f"while count_known ran, the event loop stood still for {stalled:.1f} s: nothing else "
                           "in the program could run", "something in count_known blocks: time.sleep, or a blocking "
                           "call, inside async def. Await what waits (await asyncio.sleep, await stream....)")

        def deadline():
            silent_server = _Silent()

            async def silent():
                async with _serving(silent_server) as port:
                    return await _count(function, stalls, port, [1, 2], CASE_DEADLINE - 2)
            started, rose = time.monotonic(), False
            try:
                got = _in_a_loop_of_its_own(silent)
            except (asyncio.TimeoutError, TimeoutError):
                got, rose = None, True
            waited = time.monotonic() - started
            if len(silent_server.deadlines) > 1:
                raise Fail(f"against a server that did not answer, count_known made {len(silent_server.deadlines)} "
                           "calls", "let the TimeoutError of the first call rise: whether to try again, and when, is "
                           "the caller's choice")
            hint = "open the stream with a timeout: stub.CountAlreadyUsers.open(timeout=1)"
            if waited > GIVES_UP_BY:
                raise Fail(f"it waited {waited:.0f} s for a server that did not answer; expected about 1 s", hint)
            if waited < GIVES_UP_AFTER:
                raise Fail(f"it gave up after {waited:.2f} s; expected about 1 s, time for a busy server", hint)
            if not rose:
                raise Fail(f"against a server that did not answer, count_known gave {got!r}; expected the "
                           "TimeoutError to rise", "let the TimeoutError rise: the caller must know there is no count")
            outcome = _in_a_loop_of_its_own(lambda: _cancelled(function))
            if outcome:
                raise Fail(*outcome)
            if not silent_server.deadlines or silent_server.deadlines[0] is None:
                raise Fail("it gave up in time, but the call carried no deadline: the server would go on working "
                           "for a caller that is gone", "give the deadline to the call itself, open(timeout=1), "
                           "not asyncio.wait_for around it: then it travels with the call (grpc-timeout)")
            if not CARRIED_AT_LEAST <= silent_server.deadlines[0] <= CARRIED_AT_MOST:
                raise Fail(f"the call carried a deadline of {silent_server.deadlines[0]:.1f} s; the exercise asks for "
                           "1 s", hint)

        return run_checks("Exercise 9.2 · a grpclib client", [
            (RULES["counts"], counts), (RULES["empty"], empty), (RULES["error"], error),
            (RULES["one call"], one_call), (RULES["deadline"], deadline), (RULES["loop free"], loop_free),
        ])


async def _cancelled(function) -> tuple[str, str] | None:
    """count_known, against a server that never answers, cancelled CANCEL_AFTER s in (as asyncio.wait_for
    or a caller's task.cancel() does): what it did instead of ending at once, cancelled, with its call."""
    from grpclib.client import Channel

    silent = _Silent()
    async with _serving(silent) as port, Channel("127.0.0.1", port) as channel:
        task = asyncio.ensure_future(function(users_grpc.UserManagerStub(channel), [1, 2]))
        await asyncio.sleep(CANCEL_AFTER)
        task.cancel()
        cancelled_at = time.monotonic()
        done, _ = await asyncio.wait({task}, timeout=CANCEL_PATIENCE + 1)
        took = time.monotonic() - cancelled_at
        await asyncio.sleep(CLOSED_WITHIN)  # the server's side of a call that ended: reset, its handler done
        still_open = silent.open
    hint = ("never catch asyncio.CancelledError (or catch it only to clean up at once, then raise it again): "
            "whoever cancels your coroutine must see it end cancelled, at once")
    if not done:
        return f"cancelled after {CANCEL_AFTER:g} s, count_known did not end within {took:.1f} s", hint
    if not task.cancelled():
        error = task.exception()
        said = f"raised {type(error).__name__}" if error else f"gave {task.result()!r}"
        return f"cancelled after {CANCEL_AFTER:g} s, count_known {said}: it kept the cancellation to itself", hint
    if took > CANCEL_PATIENCE:
        return f"cancelled after {CANCEL_AFTER:g} s, count_known took {took:.1f} s more to end", hint
    if still_open:
        return ("count_known ended cancelled, but its call went on: the server still had it open",
                "await the call itself, in count_known: asyncio.shield, or a task of your own, lets the call outlive "
                "the coroutine that was cancelled")
    return None


def _refusal_details(raised) -> bool:
    return any(getattr(detail, "reason", None) == REFUSAL_REASON for detail in raised.details or ())


def _not_async(function) -> None:
    raise Fail(f"{getattr(function, '__name__', 'it')} is not an async def",
               "grpclib's calls are coroutines: write `async def count_known(stub, ids):` and await them inside")


def _answered(run, what: str, hint: str, stalls: list[float] | None = None) -> int:
    """The count the learner's coroutine gave for `what`, or a Fail that says what it did instead. `stalls`, those
    the ticker saw meanwhile, tell a call that ran out of time because the loop was held."""
    from grpclib.exceptions import ProtocolError

    seen, started = len(stalls or ()), time.monotonic()
    try:
        got = run()
    except (asyncio.TimeoutError, TimeoutError):
        held = [stall for stall in (stalls or ())[seen:] if stall >= STALL]
        took = time.monotonic() - started
        if took < GIVES_UP_AFTER and not held:  # not the checker's wait, nor a timeout of 1 s: a shorter one
            raise Fail(f"with {what}, count_known gave up after {took:.2f} s (TimeoutError), against a server that "
                       "answers at once", "a timeout shorter than the call's 1 s ran out: open(timeout=1), and no "
                       "shorter asyncio.wait_for or asyncio.timeout around it (the server answers once your side "
                       "has ended: `await stream.end()`)") from None
        if held:
            raise Fail(f"with {what}, count_known ran out of time while the event loop stood still for "
                       f"{sum(held):.1f} s", "nothing in count_known may block the loop (no time.sleep, not even a "
                       "short one per id): the call's second went by while nothing else could run") from None
        raise Fail(f"with {what}, count_known got no answer from a server that answers at once", hint) from None
    except ProtocolError as error:
        raise Fail(f"with {what}, grpclib refused: {error}", OPEN_HINT) from None
    if isinstance(got, users_pb2.UserCountResponse):
        raise Fail(f"with {what}, count_known gave a UserCountResponse; expected its count",
                   "return reply.count, the number inside the reply")
    if isinstance(got, bool) or not isinstance(got, int):
        raise Fail(f"with {what}, count_known gave {got!r}; expected a whole number, an int",
                   "return reply.count, as it is")
    return got
