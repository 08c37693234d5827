"""Checker for Exercise 4.3 (optional, notebook 04): a careful caller of GetUser.

The learner writes a client function, `nickname_of(stub, user_id)`. The checker hands it stubs to
servers it runs in this process: the kit's reference service over data/users.json with nicknames
of its own (so a function that opens its own channel reads other nicknames), a second one with
other nicknames again, one whose GetUser does not answer for a while, and one that has stopped.
Its rules are written down below, one case each; tests/test_checkers_unary.py breaks each rule on its own.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import inspect
import itertools
import socket
import sys
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
CROWD = 3  # calls from threads at once to the server that does not answer: one at a time, they would take 3 s
RULES = {  # Exercise 4.3: each rule is one case; a wrong-answer test breaks each on its own
    "found": "an existing id → its nickname, asked through the stub it is given (a new stub to another server, "
             "too, each time); called from 32 threads at once, 400 times, three times over, for known and unknown ids, "
             "each call gets its own answer",
    "unknown": "an unknown id → None, asked once: NOT_FOUND is an answer, not a failure, whatever its message says; "
               "once a user has that id, its nickname",
    "other errors": "any other failure rises as the RpcError, asked once (asking again never helps): "
                    "INVALID_ARGUMENT for ids 0 and -5 is not 'no such user', "
                    f"and a server that refuses with each of the {len(REFUSED_WITH)} other codes is heard each time",
    "gone": "a server that is gone → its UNAVAILABLE rises",
    "deadline": "a server that does not answer → after about a second, its DEADLINE_EXCEEDED rises; the call "
                "itself carries that 1 s deadline",
    "threads": f"calls from several threads wait for no one: {CROWD} at once to a server that does not answer each "
               "end after about a second, and a call to one that answers, made meanwhile, comes back at once",
}
FOUND_IDS = (3, 6)  # users of data/users.json the notebook does not show
# Users only the checker's first server has: ids past 32 bits and past a float's 53, a nickname with a space first
# (an id squeezed into another type, or a nickname tidied, shows)
EXTRA_USERS = {5_000_000_001: "zed", 2**53 + 1: " big Ben"}
SHORT_DEADLINE_HINT = "pass timeout=1 to stub.GetUser: the caller decides how long it can wait"
# a request shared by calls (a default argument, a global) mixes them up: a few calls of a crowd, at 1 µs switches
AT_ONCE_THREADS, AT_ONCE_CALLS, AT_ONCE_ROUNDS = 32, 400, 3
AT_ONCE_UNKNOWN_IDS, AT_ONCE_UNKNOWN_EVERY = (404, 9999), 4  # every 4th call of the crowd: an id nobody has (→ None)
SWITCH_INTERVAL = 1e-6  # seconds between thread switches while the crowd runs (Python's own: 5 ms, where few mix)
RENAMED = "_of_the_checker"  # added to their nicknames here: only the stub it is given sees these
SECOND = "_of_the_second"  # added to theirs by the second server, to which the found case makes new stubs
STUB_TURNS = 6  # new stubs, to the first server and the second in turn: CPython gives a new one a freed one's id()
MEANWHILE = 0.2  # seconds after the crowd's calls went out that the call to a server that answers is made
UNKNOWN_ID = 2718
NOT_FOUND_IN_OTHER_WORDS = "user {} does not exist"  # the NOT_FOUND message of a server other than the kit's
NOT_FOUND_WORDS_HINT = ("NOT_FOUND is the answer, whatever its words: test error.code() alone. error.details() is for "
                        "people to read, and each server words it its own way ('no user has id 2718', 'user 2718 "
                        "does not exist')")
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
                 "max(user_id, 0)), makes a wrong id look like another answer, another id's error or an error of "
                 "your own")
OWN_STUB_HINT = ("call GetUser on the stub nickname_of is given, its parameter `stub`: not on the notebook's stub, "
                 "nor on a channel of your own")
NEW_STUB_HINT = ("ask the stub you are given, on every call: something kept from an earlier call (a nickname kept "
                 "by id, or stub.GetUser kept in a dict keyed by id(stub)) answers from the server an earlier stub "
                 "led to. Python gives a new object the id() of one that is gone: an id() names an object only while "
                 "it lives")
ASKED_AGAIN_HINT = ("call GetUser once and let the error rise: a refusal is an answer too, and asking again gets the "
                    "same one, later (retrying INVALID_ARGUMENT never helps). The caller decides whether to try again")
LOCK_HINT = ("let calls from several threads run at once: a lock or semaphore held around the call (a threading.Lock "
             "or BoundedSemaphore of the module's) makes each caller wait for calls before it, a second each when "
             "the server does not answer. A grpc stub may be used from many threads at once: it needs no lock, and "
             "no limit of yours")


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


class OtherWordsUserManager(CountingUserManager):
    """The reference service, but its NOT_FOUND says so in words of its own (NOT_FOUND_IN_OTHER_WORDS)."""

    def GetUser(self, request, context):
        self.asked.append(request.id)
        if request.id > 0 and self.directory.get(request.id) is None:
            context.abort(grpc.StatusCode.NOT_FOUND, NOT_FOUND_IN_OTHER_WORDS.format(request.id))
        return users.UserManager.GetUser(self, request, context)


@contextlib.contextmanager
def switching_often() -> Iterator[None]:
    """Threads of this process take turns every SWITCH_INTERVAL for as long as the block runs: the learner's function
    runs here, and an object its calls share is overwritten between two of its lines in most crowds."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


class RefusingUserManager(CountingUserManager):
    """GetUser(id n) ends with REFUSED_WITH[n], whatever the directory holds; it notes each id asked."""

    def GetUser(self, request, context):
        self.asked.append(request.id)
        context.abort(REFUSED_WITH[request.id % len(REFUSED_WITH)], users.no_user_with(request.id))


@contextlib.contextmanager
def listening(servicer, workers: int = 4) -> Iterator[str]:
    """The address of `servicer`, served in this process on 127.0.0.1 for as long as the block runs."""
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="checker-4.3")
    server = grpc.server(pool, options=[("grpc.so_reuseport", 0)])
    users_pb2_grpc.add_UserManagerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()
        pool.shutdown(wait=False)


@contextlib.contextmanager
def serving(servicer, workers: int = 4) -> Iterator[users_pb2_grpc.UserManagerStub]:
    """A stub to `servicer`, served in this process on 127.0.0.1 for as long as the block runs."""
    with listening(servicer, workers) as address, grpc.insecure_channel(address) as channel:
        yield users_pb2_grpc.UserManagerStub(channel)


class Unusable(Fail):
    """The function cannot be called yet: not written, or an `async def`. Every case says so."""


def call(function: Callable, stub, user_id: int):
    """`function(stub, user_id)`; the shipped skeleton's NotImplementedError reads as "not done yet"."""
    try:
        got = function(stub, user_id)
        if inspect.iscoroutine(got):
            got.close()  # never awaited: nothing ran
            raise Unusable(f"nickname_of(stub, {user_id}) gave a coroutine: it is an `async def`",
                       "write a plain `def`: stub.GetUser(...) waits for its answer itself; `await` is for grpc.aio's "
                       "stubs (notebook 09), and an async def called without it runs nothing")
        return got
    except NotImplementedError:
        raise Unusable("not done yet: nickname_of still raises NotImplementedError",
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
    except (TimeoutError, asyncio.TimeoutError, concurrent.futures.TimeoutError) as error:  # one class from 3.11 on
        said = f": {str(error)[:60]}" if str(error) else ", with no message"
        raise Fail(f"nickname_of(stub, {user_id}) raised {type(error).__name__}{said}: something of yours stopped "
                   "waiting (asyncio.wait_for, a future's result(timeout=...)), but the call itself carried no "
                   "deadline", "pass timeout=1 to stub.GetUser itself: then the call ends on its own, the server "
                   "knows the deadline too, and the RpcError that rises says DEADLINE_EXCEEDED") from None
    except Exception as error:
        if isinstance(error.__cause__ or error.__context__, grpc.RpcError):
            said = f": {str(error)[:80]}" if str(error) else ", with no message,"
            raise Fail(f"nickname_of(stub, {user_id}) raised {type(error).__name__}{said} in place of the RpcError",
                       RERAISE_HINT) from None
        raise


def expect_rpc_error(function: Callable, stub, user_id: int, code: grpc.StatusCode, what: str, hint: str,
                     asked: list[int] | None = None) -> None:
    """`function(stub, user_id)` must let an RpcError with `code` rise. With `asked`, the ids the server behind `stub`
    was asked: an error that came from elsewhere is told so."""
    try:
        got = call(function, stub, user_id)
    except grpc.RpcError as error:
        if error.code() == code:
            if asked is not None and (times := asked.count(user_id)) > 1:
                raise Fail(f"for {what}, nickname_of let {code.name} rise after asking {times} times",
                           ASKED_AGAIN_HINT) from None
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


def crowd_ids(known_ids: list[int], unknown_ids: list[int]) -> list[int]:
    """The AT_ONCE_CALLS ids of the crowd: the known ones in turn, with one of `unknown_ids` every few calls."""
    known_turns, unknown_turns = itertools.cycle(known_ids), itertools.cycle(unknown_ids)
    return [next(unknown_turns) if unknown_ids and n % AT_ONCE_UNKNOWN_EVERY == AT_ONCE_UNKNOWN_EVERY - 1
            else next(known_turns) for n in range(AT_ONCE_CALLS)]


def renamed(seed, folder: str, suffix: str = RENAMED) -> users.UserDirectory:
    """A directory of the users in `seed`, each nickname ending in `suffix` (its seed file written to `folder`)."""
    users_here = list(seed_users(seed).values())
    for user in users_here:
        user.nickname += suffix
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
          listening(counting := CountingUserManager(renamed(users.DEFAULT_SEED, folder)),
                    workers=AT_ONCE_THREADS) as first_address,
          grpc.insecure_channel(first_address) as first_channel,
          listening(second := CountingUserManager(renamed(users.DEFAULT_SEED, folder, SECOND))) as second_address,
          grpc.insecure_channel(second_address) as second_channel,
          serving(silent_servicer) as silent,
          serving(SilentUserManager(users.UserDirectory(seed=users.DEFAULT_SEED), released),
                  workers=2 * CROWD + 2) as hush,
          serving(refuser := RefusingUserManager(users.UserDirectory(seed=users.DEFAULT_SEED))) as refusing,
          serving(OtherWordsUserManager(users.UserDirectory(seed=users.DEFAULT_SEED))) as other_words,
          gone() as stopped):
        stub = users_pb2_grpc.UserManagerStub(first_channel)
        for user_id, nickname in EXTRA_USERS.items():
            counting.directory.add(users_pb2.User(id=user_id, nickname=nickname + RENAMED, user_type=users_pb2.
                                                  USER_TYPE_GUEST, mail_address=f"user{user_id}@example.com"))

        def found():
            try:
                found_each()
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                    raise
                raise Fail("nickname_of let DEADLINE_EXCEEDED rise from a server that answers each call in about a "
                           f"millisecond (from {AT_ONCE_THREADS} threads at once, on a busy machine, a few take "
                           "longer)", SHORT_DEADLINE_HINT) from None

        def found_each():
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
            alone = {user_id: known[user_id].nickname + RENAMED for user_id in sorted(known)}
            alone |= unknown_alone()
            asked = crowd_ids(sorted(known), [user_id for user_id in AT_ONCE_UNKNOWN_IDS if user_id in alone])
            for _ in range(AT_ONCE_ROUNDS):
                at_once(asked, alone)
            new_stubs()

        def at_once(asked: list[int], alone: dict[int, object]):
            """`asked` from AT_ONCE_THREADS threads at once: each call must give what its id gives alone."""
            threads = ThreadPoolExecutor(AT_ONCE_THREADS, thread_name_prefix="checker-4.3-caller")
            try:
                with switching_often():
                    answers = list(threads.map(lambda user_id: call(function, stub, user_id), asked))
            finally:  # after a failure, the calls not begun are not made: each might wait out a deadline
                threads.shutdown(cancel_futures=True)
            for user_id, got in zip(asked, answers, strict=True):
                if got != alone[user_id]:
                    raise Fail(f"called from {AT_ONCE_THREADS} threads at once, nickname_of(stub, {user_id}) gave "
                               f"{got!r}; alone it gives {alone[user_id]!r}",
                               "keep each call's request and reply to that call: build the UserRequest inside the "
                               "function, on every call (a default argument, a global or an attribute is one object "
                               "that every call shares)")

        def unknown_alone() -> dict[int, object]:
            """What the function gives for each of AT_ONCE_UNKNOWN_IDS alone (None, if right); nothing when one of them
            raises: what it should give is the unknown case's business, and the crowd is of known ids alone."""
            try:
                return {user_id: call(function, stub, user_id) for user_id in AT_ONCE_UNKNOWN_IDS}
            except Unusable:
                raise
            except Exception:
                return {}

        def new_stubs():
            """A new stub each turn, to the first server and the second in turn, each dropped before the next."""
            user_id = FOUND_IDS[0]
            for turn in range(STUB_TURNS):
                servicer, channel, suffix = ((counting, first_channel, RENAMED) if turn % 2 else
                                             (second, second_channel, SECOND))
                del servicer.asked[:]
                got = call(function, users_pb2_grpc.UserManagerStub(channel), user_id)  # the stub is gone after it
                expected = known[user_id].nickname + suffix
                if got != expected and user_id not in servicer.asked:
                    raise Fail(f"a new stub to another server, then nickname_of(stub, {user_id}) gave {got!r}, and "
                               f"that server was not asked; it answers {expected!r}", NEW_STUB_HINT)

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
            if (times := counting.asked.count(UNKNOWN_ID)) > 1:
                raise Fail(f"nickname_of(stub, {UNKNOWN_ID}) gave None, after asking the server {times} times",
                           "NOT_FOUND is an answer: return None at once. Asked again, the server answers the same, "
                           "later")
            unknown_in_other_words()
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

        def unknown_in_other_words():
            """NOT_FOUND is the answer whatever its message: a server that words it otherwise gets None too."""
            words = NOT_FOUND_IN_OTHER_WORDS.format(UNKNOWN_ID)
            try:
                got = call(function, other_words, UNKNOWN_ID)
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.NOT_FOUND:
                    raise
                raise Fail(f"for a server whose NOT_FOUND says {words!r}, nickname_of(stub, {UNKNOWN_ID}) let "
                           "NOT_FOUND rise; expected None", NOT_FOUND_WORDS_HINT) from None
            if got is not None:
                raise Fail(f"for a server whose NOT_FOUND says {words!r}, nickname_of(stub, {UNKNOWN_ID}) gave "
                           f"{got!r}; expected None", NOT_FOUND_WORDS_HINT)

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
                    if error.code() == grpc.StatusCode.INVALID_ARGUMENT and counting.asked.count(wrong_id) > 1:
                        raise Fail(f"nickname_of(stub, {wrong_id}) let INVALID_ARGUMENT rise after asking the server "
                                   f"{counting.asked.count(wrong_id)} times", ASKED_AGAIN_HINT) from None
                    if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                        continue
                    raise Fail(f"nickname_of(stub, {wrong_id}) raised {describe_rpc_error(error)}; expected the "
                               f"INVALID_ARGUMENT of GetUser({wrong_id})", hint) from None
                except Fail:
                    raise
                except Exception as error:  # an error of its own, for an id it did not ask about
                    if wrong_id in counting.asked:
                        raise
                    said = f": {str(error)[:60]}" if str(error) else ""
                    raise Fail(f"nickname_of(stub, {wrong_id}) raised {type(error).__name__}{said}, without asking "
                               "the server", AS_GIVEN_HINT.format(wrong_id=wrong_id)) from None
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
            hint = SHORT_DEADLINE_HINT
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

        def threads():
            """CROWD calls at once to a server that does not answer, and meanwhile one to a server that does: how long
            each takes. Judged only when the first to end gave up after about a second (else the deadline case says
            why: a call alone would do the same)."""
            try:
                call(function, stub, FOUND_IDS[0])
            except Unusable:
                raise
            except Exception:  # what it answers is the found case's business
                pass
            ended: list[float] = []

            def hang():
                with contextlib.suppress(BaseException):  # only when it ends matters here
                    function(hush, 1)
                ended.append(time.monotonic() - started)

            crowd = [threading.Thread(target=hang, name="checker-4.3-crowd", daemon=True) for _ in range(CROWD)]
            started = time.monotonic()
            for thread in crowd:
                thread.start()
            time.sleep(MEANWHILE)
            with contextlib.suppress(BaseException):  # what it answers is the found case's business
                function(stub, FOUND_IDS[0])
            answered = time.monotonic() - started
            for thread in crowd:
                thread.join(max(0.0, started + GIVES_UP_BY - time.monotonic()))
            ends = sorted(ended)
            if not ends or not GIVES_UP_AFTER <= ends[0] <= GIVES_UP_BY:
                return
            if len(ends) < CROWD:
                raise Fail(f"{CROWD} calls from threads at once to a server that does not answer: the first ended "
                           f"after {ends[0]:.1f} s, and {CROWD - len(ends)} still waited after {GIVES_UP_BY:g} s",
                           LOCK_HINT)
            if answered > ends[0]:
                raise Fail(f"a call to a server that answers, made while {CROWD} calls to one that does not waited, "
                           f"came back only after {answered - MEANWHILE:.1f} s, once one of those had ended",
                           LOCK_HINT)

        try:
            return run_checks("Exercise 4.3 · a careful caller", [
                (RULES["found"], found),
                (RULES["unknown"], unknown),
                (RULES["other errors"], lambda: (other_errors(), refused_with_every_code())),
                (RULES["gone"], server_gone),
                (RULES["deadline"], deadline),
                (RULES["threads"], threads),
            ])
        finally:
            released.set()
