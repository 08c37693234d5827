"""Checker for Exercise 4.3 (optional, notebook 04): a careful caller of GetUser.

The learner writes a client function, `nickname_of(stub, user_id)`. The checker hands it stubs to
two servers it runs in this process: the kit's reference service over data/users.json, and one
whose GetUser does not answer for a while. Its rules are written down below, one case each;
tests/test_checkers_unary.py breaks each rule on its own.
"""
from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import grpc

from workshop.checkers.support import CheckResult, Fail, describe_rpc_error, run_checks
from workshop.checkers.users_cases import seed_users
from workshop.protos import users_pb2_grpc
from workshop.servers import users

RULES = {  # Exercise 4.3: each rule is one case; a wrong-answer test breaks each on its own
    "found": "an existing id → its nickname",
    "unknown": "an unknown id → None: NOT_FOUND is an answer, not a failure",
    "other errors": "any other failure rises as the RpcError: INVALID_ARGUMENT for id 0 is not 'no such user'",
    "deadline": "a server that does not answer → it gives up after about a second",
}
FOUND_IDS = (3, 6)  # users of data/users.json the notebook does not show
UNKNOWN_ID = 2718
SILENCE = 4.0  # seconds the silent server holds a call before it answers
GIVES_UP_BY = 2.5  # seconds: a deadline of 1 s, with time to spare on a busy laptop


class SilentUserManager(users.UserManager):
    """The reference service, but GetUser answers only after SILENCE seconds (or when released)."""

    def __init__(self, directory: users.UserDirectory, released: threading.Event):
        super().__init__(directory)
        self.released = released

    def GetUser(self, request, context):
        self.released.wait(SILENCE)
        return super().GetUser(request, context)


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
        return function(stub, user_id)
    except NotImplementedError:
        raise Fail("not done yet: nickname_of still raises NotImplementedError",
                   "write nickname_of in the exercise cell, run that cell, then run the checker again") from None


def check_nickname_of(function: Callable) -> CheckResult:
    """Exercise 4.3: `function` is the learner's nickname_of(stub, user_id)."""
    released = threading.Event()
    known = seed_users(users.DEFAULT_SEED)
    with (serving(users.UserManager(users.UserDirectory(seed=users.DEFAULT_SEED))) as stub,
          serving(SilentUserManager(users.UserDirectory(seed=users.DEFAULT_SEED), released)) as silent):

        def found():
            for user_id in FOUND_IDS:
                got = call(function, stub, user_id)
                if got != known[user_id].nickname:
                    raise Fail(f"nickname_of(stub, {user_id}) gave {got!r}; expected {known[user_id].nickname!r}",
                               "return reply.user.nickname, from the reply of stub.GetUser")

        def unknown():
            hint = "catch grpc.RpcError; when error.code() == grpc.StatusCode.NOT_FOUND, return None"
            try:
                got = call(function, stub, UNKNOWN_ID)
            except grpc.RpcError as error:
                raise Fail(f"nickname_of(stub, {UNKNOWN_ID}) let {describe_rpc_error(error)} rise; expected None",
                           hint) from None
            if got is not None:
                raise Fail(f"nickname_of(stub, {UNKNOWN_ID}) gave {got!r}; expected None", hint)

        def other_errors():
            hint = "after the NOT_FOUND check, `raise`: every other failure is for the caller to handle"
            try:
                got = call(function, stub, 0)
            except grpc.RpcError as error:
                if error.code() == grpc.StatusCode.INVALID_ARGUMENT:
                    return
                raise Fail(f"nickname_of(stub, 0) raised {describe_rpc_error(error)}; expected the INVALID_ARGUMENT "
                           "of GetUser(0)", hint) from None
            raise Fail(f"nickname_of(stub, 0) gave {got!r}, so its caller cannot tell a wrong id from a missing user",
                       hint)

        def deadline():
            started = time.monotonic()
            with contextlib.suppress(grpc.RpcError):
                call(function, silent, 1)
            waited = time.monotonic() - started
            if waited > GIVES_UP_BY:
                raise Fail(f"it waited {waited:.0f} s for a server that did not answer; expected about 1 s",
                           "pass timeout=1 to stub.GetUser: the caller decides how long it can wait")

        try:
            return run_checks("Exercise 4.3 · a careful caller", [
                (RULES["found"], found),
                (RULES["unknown"], unknown),
                (RULES["other errors"], other_errors),
                (RULES["deadline"], deadline),
            ])
        finally:
            released.set()
