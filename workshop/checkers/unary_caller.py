"""Checker for Exercise 4.3 (optional, notebook 04): a careful caller of GetUser.

The learner writes a client function, `nickname_of(stub, user_id)`. The checker hands it stubs to
servers it runs in this process: the kit's reference service over data/users.json with nicknames
of its own (so a function that opens its own channel reads other nicknames), one whose GetUser
does not answer for a while, and one that has stopped. Its rules are written down below, one case
each; tests/test_checkers_unary.py breaks each rule on its own.
"""
from __future__ import annotations

import contextlib
import inspect
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc

from workshop.checkers.support import CheckResult, Fail, describe_rpc_error, run_checks
from workshop.checkers.users_cases import seed_users, write_seed
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers import users

# Every code but OK, NOT_FOUND (an answer), and UNAVAILABLE and DEADLINE_EXCEEDED (cases of their own): each must rise.
REFUSED_WITH = [code for code in grpc.StatusCode if code not in (
    grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)]
RULES = {  # Exercise 4.3: each rule is one case; a wrong-answer test breaks each on its own
    "found": "an existing id → its nickname, asked through the stub it is given; called from 16 threads at once, "
             "400 times, each call gets its own",
    "unknown": "an unknown id → None: NOT_FOUND is an answer, not a failure; once a user has that id, its nickname",
    "other errors": "any other failure rises as the RpcError: INVALID_ARGUMENT for ids 0 and -5 is not 'no such "
                    "user', "
                    f"and a server that refuses with each of the {len(REFUSED_WITH)} other codes is heard each time",
    "gone": "a server that is gone → its UNAVAILABLE rises",
    "deadline": "a server that does not answer → after about a second, its DEADLINE_EXCEEDED rises; the call "
                "itself carries that 1 s deadline",
}
FOUND_IDS = (3, 6)  # users of data/users.json the notebook does not show
# Users only the checker's first server has: ids past 32 bits and past a float's 53, a nickname with a space first
# (an id squeezed into another type, or a nickname tidied, shows)
EXTRA_USERS = {5_000_000_001: "zed", 2**53 + 1: " big Ben"}
AT_ONCE_THREADS, AT_ONCE_CALLS = 16, 400  # a request shared by calls (a default argument, a global) mixes them up
RENAMED = "_of_the_checker"  # added to their nicknames here: only the stub it is given sees these
UNKNOWN_ID = 2718
SILENCE = 4.0  # seconds the silent server holds a call before it answers
GIVES_UP_AFTER, GIVES_UP_BY = 0.5, 2.5  # seconds: a deadline of 1 s, with time to spare on a busy laptop
CARRIED_AT_LEAST, CARRIED_AT_MOST = 0.93, 1.05  # seconds of deadline the silent server sees: timeout=1, give or take
# The refusing server's words for id n are a missing user's (users.no_user_with): only the code tells them apart.
RERAISE_HINT = ("let the grpc.RpcError itself rise: a bare `raise` in the except block re-raises it, so the caller "
                "can read error.code()")

NICKNAMES = {user.nickname for user in seed_users(users.DEFAULT_SEED).values()}
NICKNAMES |= {nickname + RENAMED for nickname in NICKNAMES}
CACHE_HINT = ("ask the stub you are given, on every call: a nickname kept from an earlier call (a dict, "
              "functools.cache) answers for a server that is gone, or has changed, as if it had answered")
AS_GIVEN_HINT = ("ask the server for the id you are given, as it is: GetUser({wrong_id}) answers INVALID_ARGUMENT, a "
                 "wrong request, which the caller must hear of; a check of your own, or an id changed (abs(user_id), "
                 "max(user_id, 0)), makes a wrong id look like another answer or another id's error")
OWN_STUB_HINT = ("call GetUser on the stub nickname_of is given, its parameter `stub`: not on the notebook's stub, "
                 "nor on a channel of your own")


class SilentUserManager(users.UserManager):
    """The reference service, but GetUser answers only after SILENCE seconds (or when released)."""

    def __init__(self, directory: users.UserDirectory, released: threading.Event):
        super().__init__(directory)
        self.released = released
        self.deadlines: list[float | None] = []  # the time each call had left when it came
        self.arrivals: list[float] = []  # time.monotonic() when each came

    def GetUser(self, request, context):
        self.deadlines.append(context.time_remaining())
        self.arrivals.append(time.monotonic())
        self.released.wait(SILENCE)
        return super().GetUser(request, context)


class CountingUserManager(users.UserManager):
    """The reference service, noting the id of each GetUser it is asked."""

    def __init__(self, directory: users.UserDirectory):
        super().__init__(directory)
        self.asked: list[int] = []

    def GetUser(self, request, context):
        self.asked.append(request.id)
        return super().GetUser(request, context)


class RefusingUserManager(CountingUserManager):
    """GetUser(id n) ends with REFUSED_WITH[n], whatever the directory holds; it notes each id asked."""

    def GetUser(self, request, context):
        self.asked.append(request.id)
        context.abort(REFUSED_WITH[request.id % len(REFUSED_WITH)], users.no_user_with(request.id))


@contextlib.contextmanager
def serving(servicer) -> Iterator[users_pb2_grpc.UserManagerStub]:
    """A stub to `servicer`, served in this process on 127.0.0.1 for as long as the block runs."""
    workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="checker-4.3")
    server = grpc.server(workers, options=[("grpc.so_reuseport", 0)])
    users_pb2_grpc.add_UserManagerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield users_pb2_grpc.UserManagerStub(channel)
    finally:
        server.stop(grace=None).wait()
        workers.shutdown(wait=False)


def call(function: Callable, stub, user_id: int):
    """`function(stub, user_id)`; the shipped skeleton's NotImplementedError reads as "not done yet"."""
    try:
        got = function(stub, user_id)
        if inspect.iscoroutine(got):
            got.close()  # never awaited: nothing ran
            raise Fail(f"nickname_of(stub, {user_id}) gave a coroutine: it is an `async def`",
                       "write a plain `def`: stub.GetUser(...) waits for its answer itself; `await` is for grpc.aio's "
                       "stubs (notebook 09), and an async def called without it runs nothing")
        return got
    except NotImplementedError:
        raise Fail("not done yet: nickname_of still raises NotImplementedError",
                   "write nickname_of in the exercise cell, run that cell, then run the checker again") from None
    except grpc.RpcError as error:
        if not callable(getattr(error, "code", None)):  # grpc.RpcError(...) made by hand: no code to read
            raise Fail(f"nickname_of(stub, {user_id}) raised a grpc.RpcError of its own making, which has no code",
                       RERAISE_HINT) from None
        raise
    except Fail:
        raise
    except grpc.FutureTimeoutError:
        raise Fail(f"nickname_of(stub, {user_id}) raised grpc.FutureTimeoutError: it stopped waiting, but the call "
                   "itself had no deadline", "give the call its deadline, stub.GetUser(request, timeout=1): then the "
                   "server knows it too, and the RpcError that rises says DEADLINE_EXCEEDED") from None
    except Exception as error:
        if isinstance(error.__cause__ or error.__context__, grpc.RpcError):
            raise Fail(f"nickname_of(stub, {user_id}) raised {type(error).__name__}: {str(error)[:80]} "
                       "in place of the RpcError", RERAISE_HINT) from None
        raise


def expect_rpc_error(function: Callable, stub, user_id: int, code: grpc.StatusCode, what: str, hint: str,
                     asked: list[int] | None = None) -> None:
    """`function(stub, user_id)` must let an RpcError with `code` rise. With `asked`, the ids the server behind `stub`
    was asked: an error that came from elsewhere is told so."""
    try:
        got = call(function, stub, user_id)
    except grpc.RpcError as error:
        if error.code() == code:
            return
        if asked is not None and user_id not in asked:
            raise Fail(f"for {what}, nickname_of raised {describe_rpc_error(error)[:80]}, yet it never asked that "
                       "server", OWN_STUB_HINT) from None
        raise Fail(f"for {what}, nickname_of raised {describe_rpc_error(error)[:80]}; expected {code.name}",
                   hint) from None
    if isinstance(got, str) and got.endswith(RENAMED):  # what the checker's first server said, earlier: kept
        raise Fail(f"for {what}, nickname_of gave {got!r}, which another server gave earlier", CACHE_HINT)
    if isinstance(got, str) and got in NICKNAMES:  # from a server that cannot give one: another stub was asked
        raise Fail(f"for {what}, nickname_of gave {got!r}: that came from another server", OWN_STUB_HINT)
    raise Fail(f"for {what}, nickname_of gave {got!r}; expected its {code.name} to rise", hint)


def renamed(seed, folder: str) -> users.UserDirectory:
    """A directory of the users in `seed`, each nickname ending in RENAMED (its seed file written to `folder`)."""
    users_here = list(seed_users(seed).values())
    for user in users_here:
        user.nickname += RENAMED
    return users.UserDirectory(seed=write_seed(users_here, folder))


@contextlib.contextmanager
def gone() -> Iterator[users_pb2_grpc.UserManagerStub]:
    """A stub to a server that has stopped: nothing listens at its address any more."""
    workers = ThreadPoolExecutor(max_workers=1, thread_name_prefix="checker-4.3-gone")
    server = grpc.server(workers, options=[("grpc.so_reuseport", 0)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    server.stop(grace=None).wait()
    workers.shutdown(wait=False)
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield users_pb2_grpc.UserManagerStub(channel)


@contextlib.contextmanager
def black_hole() -> Iterator[users_pb2_grpc.UserManagerStub]:
    """A stub to a port that takes connections and never answers, not even HTTP/2's hello (a host that
    hangs): only a deadline of the caller's own ends a call. Its calls are cancelled when the block ends."""
    with socket.create_server(("127.0.0.1", 0)) as listener, \
            grpc.insecure_channel(f"127.0.0.1:{listener.getsockname()[1]}") as channel:
        yield users_pb2_grpc.UserManagerStub(channel)


def ends_within(function: Callable, stub, user_id: int, seconds: float) -> bool:
    """Whether function(stub, user_id) returns or raises within `seconds` (it runs on a thread of its own)."""
    done = threading.Event()

    def run():
        try:
            function(stub, user_id)
        except BaseException:  # only when it ends matters here
            pass
        finally:
            done.set()

    threading.Thread(target=run, name="checker-4.3-black-hole", daemon=True).start()
    return done.wait(seconds)


def check_nickname_of(function: Callable) -> CheckResult:
    """Exercise 4.3: `function` is the learner's nickname_of(stub, user_id)."""
    released = threading.Event()
    known = seed_users(users.DEFAULT_SEED)
    silent_servicer = SilentUserManager(users.UserDirectory(seed=users.DEFAULT_SEED), released)
    with (tempfile.TemporaryDirectory(prefix="workshop-4.3-") as folder,
          serving(counting := CountingUserManager(renamed(users.DEFAULT_SEED, folder))) as stub,
          serving(silent_servicer) as silent,
          serving(refuser := RefusingUserManager(users.UserDirectory(seed=users.DEFAULT_SEED))) as refusing,
          gone() as stopped):
        for user_id, nickname in EXTRA_USERS.items():
            counting.directory.add(users_pb2.User(id=user_id, nickname=nickname + RENAMED, user_type=users_pb2.
                                                  USER_TYPE_GUEST, mail_address=f"user{user_id}@example.com"))

        def found():
            for user_id in (*FOUND_IDS, *EXTRA_USERS):
                got = call(function, stub, user_id)
                expected = (EXTRA_USERS.get(user_id) or known[user_id].nickname) + RENAMED
                if user_id in known and got == known[user_id].nickname:
                    raise Fail(f"nickname_of(stub, {user_id}) gave {got!r}, the nickname of another server; "
                               f"the stub it was given answers {expected!r}",
                               OWN_STUB_HINT)
                if got != expected:
                    raise Fail(f"nickname_of(stub, {user_id}) gave {got!r}; expected {expected!r}",
                               "ask for the id as it is given (an int64 holds it whole: no int32, no float on the "
                               "way) and return reply.user.nickname as it came, not tidied"
                               if user_id in EXTRA_USERS else
                               "return reply.user.nickname, from the reply of stub.GetUser")
            asked = [sorted(known)[n % len(known)] for n in range(AT_ONCE_CALLS)]
            with ThreadPoolExecutor(AT_ONCE_THREADS, thread_name_prefix="checker-4.3-caller") as threads:
                answers = list(threads.map(lambda user_id: call(function, stub, user_id), asked))
            for user_id, got in zip(asked, answers, strict=True):
                if got != known[user_id].nickname + RENAMED:
                    raise Fail(f"called from {AT_ONCE_THREADS} threads at once, nickname_of(stub, {user_id}) gave "
                               f"{got!r}; alone it gives {known[user_id].nickname + RENAMED!r}",
                               "keep each call's request and reply to that call: build the UserRequest inside the "
                               "function, on every call (a default argument, a global or an attribute is one object "
                               "that every call shares)")

        def unknown():
            hint = "catch grpc.RpcError; when error.code() == grpc.StatusCode.NOT_FOUND, return None"
            del counting.asked[:]
            try:
                got = call(function, stub, UNKNOWN_ID)
            except grpc.RpcError as error:
                raise Fail(f"nickname_of(stub, {UNKNOWN_ID}) let {describe_rpc_error(error)} rise; expected None",
                           hint) from None
            if got is not None:
                raise Fail(f"nickname_of(stub, {UNKNOWN_ID}) gave {got!r}; expected None", hint)
            newcomer = users_pb2.User(id=UNKNOWN_ID, nickname="newcomer" + RENAMED, mail_address="new@example.com",
                                      user_type=users_pb2.USER_TYPE_GUEST)
            if UNKNOWN_ID not in counting.asked:
                return  # another stub was asked: the found case says so
            counting.directory.add(newcomer)
            del counting.asked[:]
            if call(function, stub, UNKNOWN_ID) is None and UNKNOWN_ID not in counting.asked:
                raise Fail(f"nickname_of(stub, {UNKNOWN_ID}) gave None, then the server stored {newcomer.nickname!r} "
                           f"with that id, and nickname_of(stub, {UNKNOWN_ID}) still gave None without asking it",
                           CACHE_HINT)

        def other_errors():
            hint = ("after the NOT_FOUND check, `raise`: every other failure is for the caller to handle (and let "
                    "nothing swallow it after: a `return` in a `finally:` block cancels the exception)")
            for wrong_id in (0, -5):
                del counting.asked[:]
                try:
                    got = call(function, stub, wrong_id)
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.INVALID_ARGUMENT and counting.asked and (
                            wrong_id not in counting.asked):
                        raise Fail(f"nickname_of(stub, {wrong_id}) asked the server for id {counting.asked[-1]}, "
                                   f"not {wrong_id}", AS_GIVEN_HINT.format(wrong_id=wrong_id)) from None
                    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                        continue
                    raise Fail(f"nickname_of(stub, {wrong_id}) raised {describe_rpc_error(error)}; expected the "
                               f"INVALID_ARGUMENT of GetUser({wrong_id})", hint) from None
                if wrong_id not in counting.asked:
                    hint = AS_GIVEN_HINT.format(wrong_id=wrong_id)
                raise Fail(f"nickname_of(stub, {wrong_id}) gave {got!r}, so its caller cannot tell a wrong id from "
                           "a user's answer", hint)

        def refused_with_every_code():
            for number, code in enumerate(REFUSED_WITH):
                del refuser.asked[:]
                expect_rpc_error(function, refusing, number, code, f"a server that refuses with {code.name}",
                                 "return None only when error.code() is grpc.StatusCode.NOT_FOUND, and `raise` "
                                 f"every other code: {code.name} is a failure the caller must hear of. (This server "
                                 "words every refusal as a missing user's: only the code tells them apart)",
                                 asked=refuser.asked)

        def server_gone():
            try:
                call(function, stopped, 1)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise Fail(f"for a server that is gone, nickname_of raised {describe_rpc_error(error)[:80]}; "
                               "expected UNAVAILABLE, at once", "leave wait_for_ready out: it makes the call wait for "
                               "a server that is down until its deadline, so the caller hears DEADLINE_EXCEEDED "
                               "(too slow) in place of UNAVAILABLE (gone)") from None
            except Fail:
                pass  # the case below says what is wrong
            expect_rpc_error(function, stopped, 1, grpc.StatusCode.UNAVAILABLE, "a server that is gone",
                             "return None only for NOT_FOUND; `raise` every other error: a server that is gone "
                             "is not a missing user")

        def deadline():
            hint = "pass timeout=1 to stub.GetUser: the caller decides how long it can wait"
            started = time.monotonic()
            try:
                expect_rpc_error(function, silent, 1, grpc.StatusCode.DEADLINE_EXCEEDED, "a server that does not "
                                 "answer", "return None only for NOT_FOUND; `raise` every other error, "
                                 "DEADLINE_EXCEEDED too: the caller must know the answer is missing")
                problem = None
            except Fail as failure:
                problem = failure
            waited = time.monotonic() - started
            if waited > GIVES_UP_BY:
                raise Fail(f"it waited {waited:.0f} s for a server that did not answer; expected about 1 s", hint)
            if problem:
                raise problem
            if waited < GIVES_UP_AFTER:
                raise Fail(f"it gave up after {waited:.2f} s; expected about 1 s, time for a busy server to answer",
                           hint)
            if len(silent_servicer.deadlines) > 1:
                raise Fail(f"the server that does not answer was called {len(silent_servicer.deadlines)} times, and "
                           f"nickname_of took {waited:.1f} s", "call GetUser once, with timeout=1: a retry after "
                           "DEADLINE_EXCEEDED makes the caller wait a second more each time, past the second it "
                           "allowed; let the error rise, and the caller decides whether to try again")
            remaining = silent_servicer.deadlines[-1] if silent_servicer.deadlines else None
            if remaining is None:
                raise Fail("it gave up in time, but the call carried no deadline: the server would go on working "
                           "for a caller that is gone", hint)
            # What was left when the call came, plus the time it took to come: the deadline as the caller set it,
            # however slowly a busy laptop carried the call to the server.
            carried = remaining + (silent_servicer.arrivals[-1] - started)
            if not CARRIED_AT_LEAST <= carried <= CARRIED_AT_MOST:
                raise Fail(f"the call carried a deadline of {carried:.2f} s; the exercise asks for 1 s", hint)
            with black_hole() as hanging:
                if not ends_within(function, hanging, 1, GIVES_UP_BY):
                    raise Fail(f"against a host that takes the connection and never answers, it still waited after "
                               f"{GIVES_UP_BY:g} s (a server that answers did end it: it read the deadline you sent)",
                               "give the call its own deadline, stub.GetUser(request, timeout=1): a grpc-timeout "
                               "header of your own only asks the server to stop, and a server that hangs never reads "
                               "it; the timeout is kept by your side of the call")

        try:
            return run_checks("Exercise 4.3 · a careful caller", [
                (RULES["found"], found),
                (RULES["unknown"], unknown),
                (RULES["other errors"], lambda: (other_errors(), refused_with_every_code())),
                (RULES["gone"], server_gone),
                (RULES["deadline"], deadline),
            ])
        finally:
            released.set()
