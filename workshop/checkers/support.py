"""What every checker stands on: the target, the cases, the verdict, and how an error reads.

A checker never shows a traceback, whatever the learner's code does: an exception, a wrong type,
a method that is not written yet (UNIMPLEMENTED) or a call that hangs (every case runs under a
deadline) all become one ✗ line that says what happened and what to try. Whether the learner's
server still runs is asked here, once before every case, not by each checker.

With WORKSHOP_STRICT_CHECKS=1 (the test suite's "solved" run) a failing check raises, so a
solution that stops passing fails the tests.
"""
from __future__ import annotations

import contextlib
import os
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from workshop.runner.registry import tail

TIMEOUT = 5.0  # seconds: the deadline of every call a checker makes
CASE_DEADLINE = 2 * TIMEOUT  # a case may make a call or two; past this it is reported as hanging

# Codes that say "the server, or the method, is not there", not "the method answered wrongly":
# expect_status passes them on, and the framework explains them in words (see _explain).
# How grpc words an exception a servicer raised (sync unary, sync streaming, asyncio): any other UNKNOWN
# was sent by the servicer itself.
RAISED_PREFIXES = ("Exception calling application", "Exception iterating", "Exception deserializing",
                   "Unexpected <class", "Internal Server Error")  # the last: grpclib's
# How grpc words an UNAVAILABLE of its own (no connection, or one lost); any other words came from a method
TRANSPORT_WORDS = ("failed to connect", "Socket closed", "Connection reset", "GOAWAY", "Broken pipe",
                   "backends failing", "Connection refused", "keepalive", "Endpoint closing")
# grpcio's words for an `async def` streaming method on a server of threads, and what to do about it
ASYNC_GENERATOR_WORDS = "'async_generator' object is not an iterator"
ASYNC_GENERATOR_HINT = ("your method is an `async def` with `yield`: an async generator, which a server of threads "
                        "(grpc.server, as server_runner starts) cannot run, as it calls next() on what the method "
                        "returns. Write a plain `def` with `yield` for each response, and no await; async def belongs "
                        "in a grpc.aio server (ASYNCIO = True, notebook 09)")
INFRASTRUCTURE_CODES = frozenset({grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE,
                                  grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNKNOWN})


class Fail(Exception):
    """Raised by a case: `got` says what happened, `hint` what to try."""

    def __init__(self, got: str, hint: str = ""):
        super().__init__(got)
        self.got, self.hint = got, hint


@dataclass
class CaseResult:
    label: str
    passed: bool
    got: str = ""
    hint: str = ""

    def lines(self, show_hint: bool = True) -> list[str]:
        if self.passed:
            return [f"  ✓ {self.label}"]
        lines = [f"  ✗ {self.label} → {self.got}"]
        return lines + ([f"      hint: {self.hint}"] if self.hint and show_hint else [])


@dataclass
class CheckResult:
    """What a checker found; shown in a notebook as the table of cases."""

    title: str
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def passed(self) -> int:
        return sum(case.passed for case in self.cases)

    @property
    def all_passed(self) -> bool:
        return bool(self.cases) and self.passed == len(self.cases)

    def __repr__(self) -> str:
        lines, hints_shown = [self.title], set()
        for case in self.cases:  # a hint is shown once, under the first case that needs it
            lines += case.lines(show_hint=case.hint not in hints_shown)
            hints_shown.add(case.hint)
        verdict = f"{self.passed} of {len(self.cases)} passed"
        if self.all_passed:
            verdict += " 🎉"
        return "\n".join(lines + [verdict])

    def __getitem__(self, label: str) -> CaseResult:
        return next(case for case in self.cases if case.label == label)


def describe_rpc_error(error: grpc.RpcError) -> str:
    """'NOT_FOUND: no user has id 9' from an RpcError, however it was raised."""
    try:
        return f"{error.code().name}: {error.details()}"
    except Exception:  # an RpcError that is not a call (a learner raised it by hand)
        return f"a grpc.RpcError without a status ({error!r})"


def _explain(error: BaseException) -> Fail:
    from server_runner import ServerNotRunningError

    if isinstance(error, Fail):
        return error
    if isinstance(error, ServerNotRunningError):
        return Fail("your server is not running", str(error).split("\n")[0])
    if isinstance(error, grpc.RpcError):
        code = getattr(error, "code", lambda: None)()
        if code == grpc.StatusCode.UNIMPLEMENTED:
            return Fail("not done yet: the method still answers UNIMPLEMENTED",
                        "write the method in the exercise cell, run that cell again, then run the checker again")
        if code == grpc.StatusCode.UNAVAILABLE:
            return Fail(f"the server did not answer ({describe_rpc_error(error)})",
                        "is your server running? start it with server_runner.start(...) and check its .logs()")
        if code == grpc.StatusCode.UNKNOWN and not (error.details() or "").startswith(RAISED_PREFIXES):
            return Fail(f"the call ended UNKNOWN with your server's own words ({describe_rpc_error(error)})",
                        "if it was context.abort: its first argument is a grpc.StatusCode, such as grpc.StatusCode."
                        "NOT_FOUND; a string ('NOT_FOUND') or a number becomes UNKNOWN")
        if code == grpc.StatusCode.UNKNOWN:
            return Fail(f"your server raised an exception ({describe_rpc_error(error)})",
                        "look at the end of your server's log: server.logs()")
        if code == grpc.StatusCode.DEADLINE_EXCEEDED:
            return Fail("no answer before the deadline", "does your method return (or yield) for this input, and "
                        f"soon? Something that waits (a time.sleep, a lock, a loop that does not end) runs past the "
                        f"checker's deadline ({TIMEOUT:g} s)")
        if code == grpc.StatusCode.INTERNAL and "serialize response" in (error.details() or ""):
            return Fail(f"the call failed with {describe_rpc_error(error)}",
                        "your method returned something that is not its response message: None, where a `return` "
                        "is missing, or a message of another type; or a coroutine (an `async def` in a server of "
                        "threads) or a generator (a `yield` in a unary method). Write a plain def that returns the "
                        "reply the rpc declares")
        return Fail(f"the call failed with {describe_rpc_error(error)}")
    if not str(error):  # nothing to read: say so, and where to look
        return Fail(f"your code raised {type(error).__name__}, with no message",
                    "it says no more than its name: run the same call in a cell of your own, and the traceback shows "
                    "the line that raised it; fix; run the cell again")
    return Fail(f"your code raised {type(error).__name__}: {error}", "read the message; fix; run the cell again")


def _run_case(case: Callable[[], object], deadline: float,
              late_hint: Callable[[], str | None] | None = None) -> tuple[bool, Fail | None]:
    outcome: list = []

    def attempt():
        try:
            case()
            outcome.append(None)
        except BaseException as error:  # a checker reports every failure, never raises
            outcome.append(_explain(error))

    worker = threading.Thread(target=attempt, daemon=True, name="checker-case")
    worker.start()
    worker.join(deadline)
    if not outcome:
        return False, Fail(f"no answer within {deadline:g} s", (late_hint and late_hint()) or
                           "something never returns: a loop that does not end, or a call without a timeout?")
    return outcome[0] is None, outcome[0]


def run_checks(title: str, cases: list[tuple[str, Callable[[], object]]],
               deadline: float = CASE_DEADLINE, target: Target | None = None) -> CheckResult:
    """Run each (label, case) pair; a case passes when it returns and fails when it raises.

    With a `target`, each case first makes sure its server still runs: a server that crashed
    or was stopped fails the case with "your server is not running" and how to start it. A case
    may carry a `late_hint`: called if the case runs past its deadline, it may say why.
    """
    result = CheckResult(title)
    for label, case in cases:
        late_hint = getattr(case, "late_hint", None)
        if target is not None:
            case = target.guarded(case)
        passed, failure = _run_case(case, deadline, late_hint)
        result.cases.append(CaseResult(label, passed, *(failure.got, failure.hint) if failure else ()))
    if os.environ.get("WORKSHOP_STRICT_CHECKS") == "1" and not result.all_passed:
        raise AssertionError(f"a checker failed in strict mode:\n{result!r}")
    return result


def expect_status(call: Callable[[], object], code: grpc.StatusCode, hint: str) -> str:
    """Make `call`, which must fail with `code`; return its details. Fails with `hint` otherwise."""
    try:
        reply = call()
    except grpc.RpcError as error:
        if error.code() == code:
            return error.details() or ""
        if error.code() in INFRASTRUCTURE_CODES:
            raise
        raise Fail(f"got {describe_rpc_error(error)}; expected {code.name}", hint) from None
    shown = textwrap.shorten(str(reply), width=100, placeholder=" …") or "an empty reply"  # whole words
    raise Fail(f"got OK with {shown}; expected {code.name}", hint)


@dataclass
class Target:
    """The server a checker talks to: its address and, when the kit runs it, its registry entry.

    The entry (see server_runner) gives the server's PID, for measuring what it costs, and its
    worker count, for cases that must know how many calls it can hold at once.
    """

    address: str
    handle: object | None = None  # a server_runner.RunningServer, when the checker has one

    @property
    def entry(self):
        """The server's registry entry, or None for a server the kit does not run."""
        if self.handle is not None:
            return self.handle.entry
        import server_runner

        return next((e for e in server_runner.list_servers() if e.address == self.address), None)

    @property
    def pid(self) -> int | None:
        entry = self.entry
        return entry.pid if entry else None

    @property
    def workers(self) -> int | None:
        """The thread pool's size; None for a grpc.aio server (no pool) or one the kit does not run."""
        entry = self.entry
        return entry.workers if entry else None

    @property
    def module(self) -> str | None:
        """The path of the learner's module the kit serves, for a fresh copy and its log; None for a
        reference server or one the kit does not run (given by its address or not)."""
        entry = self.entry
        return entry.target if entry and entry.target.endswith(".py") else None

    def ensure_running(self) -> None:
        """Raise ServerNotRunningError (reported as "your server is not running") if it stopped."""
        if self.handle is not None:
            self.handle.ensure_running()

    def guarded(self, case: Callable[[], object]) -> Callable[[], object]:
        """`case`, after making sure the server runs; an exception the server raised is named with its line."""
        def run():
            self.ensure_running()
            try:
                return case()
            except grpc.RpcError as error:
                raised = self.last_exception() if _code_of(error) == grpc.StatusCode.UNKNOWN else None
                if raised:
                    raise Fail(f"your server raised {raised}", _fix(raised)) from None
                if (_code_of(error) == grpc.StatusCode.UNAVAILABLE and self.handle is not None
                        and not any(words in (error.details() or "") for words in TRANSPORT_WORDS)):
                    self.ensure_running()  # stopped or crashed: says so; still running: the method chose the code
                    raise Fail(f"the call ended {describe_rpc_error(error)[:100]}, and your server is running: "
                               "your method answered UNAVAILABLE", "UNAVAILABLE tells a caller 'the server cannot "
                               "be reached now, try again': the library's code for a server that is down. Answer "
                               "with the code the exercise asks for") from None
                raise
        return run

    def last_exception(self) -> str | None:
        """'KeyError: 'x' (my_get_user.py, line 7, in GetUser)' from the end of the server's log, or None.

        The runner sends what grpc logs about a handler's exception, traceback included, to the log.
        """
        module, entry = self.module, self.entry
        if module is None or not entry.log:
            return None
        lines = tail(Path(entry.log), 80).splitlines()
        starts = [number for number, line in enumerate(lines) if line.startswith("Traceback")]
        if not starts:
            return None
        block = lines[starts[-1] + 1:]
        frames = [line for line in block if line.startswith("  File ")]
        ending = next((line for line in block if line and not line.startswith(" ")), "")
        name = Path(module).name
        own = [frame for frame in frames if f"{name}\"" in frame]
        if not ending:
            return None
        if not own:
            return ending[:160]
        where = own[-1].split('", ', 1)[1]  # 'line 7, in GetUser'
        return f"{ending[:160]} ({name}, {where})"

    def channel(self) -> grpc.Channel:
        return grpc.insecure_channel(self.address)

    @contextlib.contextmanager
    def fresh(self, env: dict | None = None) -> Iterator[Target]:
        """A new server from the same module, with `env`, so that no earlier call can change a
        verdict; stopped afterwards. A server the kit does not run is used as it is."""
        if self.module is None:
            yield self
            return
        import server_runner

        self.ensure_running()
        with server_runner.start(self.module, env=env) as server:
            yield Target(server.address, server)


def load_module(path: str | Path):
    """The module at `path`, imported afresh under a name of its own (the learner may have changed it)."""
    import importlib.util
    import uuid

    path = Path(path)
    spec = importlib.util.spec_from_file_location(f"checked_{path.stem}_{uuid.uuid4().hex[:8]}", path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def _fix(raised: str) -> str:
    """The hint for an exception the learner's server raised."""
    if "'coroutine' object is not" in raised:  # e.g. iterating asyncio.to_thread(...) without await
        return ("a coroutine was used without `await`: `found = await asyncio.to_thread(...)` gives the result; "
                "without `await` you get the coroutine itself, and nothing has run")
    if ASYNC_GENERATOR_WORDS in raised:
        return ASYNC_GENERATOR_HINT
    if "object is not an iterator" in raised:  # grpcio calls next() on what a streaming method returned
        return ("a streaming method hands out its responses one by one: write it as a generator, with `yield` "
                "for each response, not `return` of a list")
    if "Initial metadata no longer allowed" in raised:  # send_initial_metadata after the first yield
        return ("the first yield sent the call's header already (with the first response): send_initial_metadata "
                "comes before any yield. Do what must happen first (in the chat: join, and put the replay into "
                "the inbox), send the header, then yield")
    return "fix that line in the exercise cell, run the cell again, then the checker"


def _code_of(error: grpc.RpcError):
    try:
        return error.code()
    except Exception:  # an RpcError a learner raised by hand has no code
        return None


def target(server) -> Target:
    """A Target from what a learner passes: a running server, the path of a server module, or an address."""
    if isinstance(server, Target):
        return server
    if hasattr(server, "address") and hasattr(server, "ensure_running"):
        return Target(server.address, server)
    if isinstance(server, Path) or (isinstance(server, str) and server.endswith(".py")):
        raise TypeError("pass the running server, e.g. check(server) after server = server_runner.start(...)")
    return Target(str(server))


def with_short_deadline(attempt: Callable[[float], object], what: str, hint: str, deadline: float = 0.4,
                        tries: int = 3):
    """What `attempt(deadline)` returns: a call made with so short a deadline that a server which refuses it, or
    cuts it short, for the little time it has (`if context.time_remaining() < 0.5: abort(...)`) shows it.
    None if every try ran out of time: a loaded machine, which is nothing to judge.

    A DEADLINE_EXCEEDED is the server's refusal, and fails with `hint`, only when it came back well before the
    deadline or with words of the server's own: gRPC's own expiry never comes early, and its words hold "Deadline
    Exceeded". A real expiry is tried again, `tries` times in all. Any other error is raised as it is; what a
    call that ended OK returned (a stream cut short, a count too low) is the caller's to judge.
    """
    import time

    for _ in range(tries):
        started = time.monotonic()
        try:
            return attempt(deadline)
        except grpc.RpcError as error:
            took, words = time.monotonic() - started, error.details() or ""
            if _code_of(error) != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            early = took < 0.75 * deadline
            if early or "Deadline Exceeded" not in words:  # gRPC's own: also "Stream removed (Deadline Exceeded)"
                when = f"after {took:.2f} s, before the deadline had passed" if early else "in your server's words"
                shown = textwrap.shorten(words, width=80, placeholder=" …") or "no message"
                raise Fail(f"{what}, with a deadline of {deadline:g} s → DEADLINE_EXCEEDED {when} ({shown!r}): "
                           "your server refused the call for the little time it had", hint) from None
    return None
