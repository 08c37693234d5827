"""A users server that fails on request, for the retry checker (Exercise 11.2).

Each call says in its metadata how it should go: `x-fail` (a status code's name), `x-fail-times`
(how many attempts fail before one succeeds), and `x-call` (a name the server counts attempts by).
grpc numbers a call's retries in `grpc-previous-rpc-attempts`, so the server knows which attempt it
sees. It runs inside the checker's process, on 127.0.0.1, and a fresh one for each case: grpc keeps
its retry-throttling tokens per server address, so a case never inherits another case's failures.
"""
from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Iterator
from concurrent import futures

import grpc

from workshop.protos import users_pb2, users_pb2_grpc

ALWAYS = 1_000  # attempts: more than any retry policy makes


class FlakyUsers(users_pb2_grpc.UserManagerServicer):
    """Counts every attempt of every call, and fails the ones its metadata asks for."""

    def __init__(self):
        self.attempts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def _attempt(self, context) -> None:
        metadata = dict(context.invocation_metadata())
        with self._lock:
            self.attempts[metadata.get("x-call", "")] += 1
        if int(metadata.get("grpc-previous-rpc-attempts", "0")) < int(metadata.get("x-fail-times", "0")):
            context.abort(grpc.StatusCode[metadata.get("x-fail", "UNAVAILABLE")], "failed on purpose, by the checker")

    def GetUser(self, request, context):
        self._attempt(context)
        return users_pb2.UserResponse(user=users_pb2.User(id=request.id, nickname="ana"))

    def AddUser(self, request, context):
        self._attempt(context)
        return users_pb2.UserResponse(user=request)

    def GetUsersByType(self, request, context):
        self._attempt(context)
        yield users_pb2.UserResponse(user=users_pb2.User(id=1, nickname="ana", user_type=request.user_type))


@contextlib.contextmanager
def serving() -> Iterator[tuple[str, FlakyUsers]]:
    """A FlakyUsers server on a free port of 127.0.0.1: (its address, its servicer), stopped on leaving."""
    servicer = FlakyUsers()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    users_pb2_grpc.add_UserManagerServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", servicer
    finally:
        server.stop(None)
