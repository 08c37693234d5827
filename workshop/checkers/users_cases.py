"""What the checkers of the users exercises (notebooks 04 to 07) share, and only that.

A users checker judges the learner's module on a directory of its own: `seeded(server, users)`
starts a fresh copy of the learner's module whose directory holds exactly `users`, so no earlier
call (an AddUser of another checker, a learner's experiment) can change a verdict. Cases then
talk to it through `users_stub(target)`.
"""
from __future__ import annotations

import contextlib
import json
import queue
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import grpc
from google.protobuf import json_format, text_format

from workshop.checkers import support
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers.users import DEFAULT_SEED, load_seed


def seed_users(path: str | Path = DEFAULT_SEED) -> dict[int, users_pb2.User]:
    """The users a directory seeded from `path` starts with (by default data/users.json), by id."""
    return {user.id: user for user in load_seed(path)}


def write_seed(users: Iterable[users_pb2.User], folder: str | Path) -> Path:
    """A seed file holding `users`, written to `folder`, for env USERS_SEED."""
    path = Path(folder) / "users-seed.json"
    entries = [json_format.MessageToDict(user, preserving_proto_field_name=True) for user in users]
    path.write_text(json.dumps(entries, indent=1))
    return path


def one_line(message) -> str:
    """A message on one line, for a ✗ line: 'id: 4 nickname: "dave" ...'."""
    return text_format.MessageToString(message, as_one_line=True) or "an empty message"


@contextlib.contextmanager
def users_stub(server) -> Iterator[users_pb2_grpc.UserManagerStub]:
    """A UserManager stub on a channel of its own to `server` (a Target, a running server or an address)."""
    with support.target(server).channel() as channel:
        yield users_pb2_grpc.UserManagerStub(channel)


HEALTH_HINT = ("health checks carry no metadata of yours: the runner (like a load balancer) asks "
               "/grpc.health.v1.Health/Check before anything else, so let calls whose method starts with "
               "/grpc.health. through unchanged")


class _NotStarting(support.Target):
    """A module that does not start now: every case reads why, instead of a traceback."""

    def __init__(self, address: str, error: Exception):
        super().__init__(address)
        self.error = error

    def ensure_running(self) -> None:
        summary = getattr(self.error, "summary", "")
        if "refused its health check" in summary:  # it runs, and an interceptor of its turns the probe away
            raise support.Fail(f"your module does not start as it is now: {summary.split('. An interceptor')[0]}",
                               HEALTH_HINT)
        last = str(self.error).strip().splitlines()[-1:] or [""]
        raise support.Fail(f"your module does not start as it is now ({last[0][:120]})",
                           "fix the cell, run it again, then start your server again and read server.logs()")


@contextlib.contextmanager
def seeded(server, users: Iterable[users_pb2.User], env: dict | None = None,
           ) -> Iterator[tuple[support.Target, dict[int, users_pb2.User]]]:
    """A fresh copy of the learner's module over a directory that holds `users` (and `env`, such as
    USERS_LOOKUP_SECONDS), and those users by id.

    A server the kit cannot restart (given by address, or a reference server by name) is used as
    it is, with data/users.json's users; a stopped one too, so every case says it is not running.
    """
    import server_runner

    base = support.target(server)
    users = list(users)
    try:
        base.ensure_running()
    except server_runner.ServerNotRunningError:
        yield base, seed_users()
        return
    with tempfile.TemporaryDirectory(prefix="workshop-seed-") as folder, contextlib.ExitStack() as stack:
        try:
            fresh = stack.enter_context(base.fresh(env={**(env or {}), "USERS_SEED": str(write_seed(users, folder))}))
        except server_runner.ServerStartError as error:
            fresh = _NotStarting(base.address, error)
        yield fresh, ({user.id: user for user in users} if fresh is not base else seed_users())



def check_on_own_seed(title: str, server, seed: Iterable[users_pb2.User], rules: dict,
                      deadline: float = support.CASE_DEADLINE) -> support.CheckResult:
    """Run `rules` ({label: case(target)}) on a fresh copy of the learner's module over `seed`.

    For checkers whose cases only work on their own users (an order that only this seed shows, a
    stream longer than a flow-control window): a server the kit does not run from the learner's
    module (one started by hand, given by its address) fails every case with a hint, instead of
    being judged on users the cases do not expect.
    """
    import functools

    seed = list(seed)
    with seeded(server, seed) as (target, users):
        own = users.keys() == {user.id for user in seed}
        cases = [(label, functools.partial(case if own else _not_restartable, target)) for label, case in rules.items()]
        return support.run_checks(title, cases, deadline=deadline, target=target)


def _not_restartable(target) -> None:
    raise support.Fail("the checker could not start its own copy of your module",
                       "start your module with server_runner.start(\"my_....py\") and pass the server it returns")


ANSWER_WAIT = 2.0  # seconds a conversation waits for one answer before it gives up
END = object()  # what a conversation's next_answer gives when the stream ended OK


class Conversation:
    """One GetUsersByIds call whose requests a checker sends one at a time, when it chooses (ping-pong)."""

    def __init__(self, stub, metadata=None):
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self.call = stub.GetUsersByIds(iter(self._requests.get, None), metadata=metadata,
                                       timeout=support.CASE_DEADLINE)
        threading.Thread(target=self._read, name="checker-conversation", daemon=True).start()

    def _read(self):
        try:
            for reply in self.call:
                self._answers.put(reply)
            self._answers.put(END)
        except grpc.RpcError as error:
            self._answers.put(error)

    def send(self, user_id: int) -> None:
        self._requests.put(users_pb2.UserRequest(id=user_id))

    def finish(self) -> None:
        """Half-close: tell the server no more ids will come."""
        self._requests.put(None)

    def next_answer(self, wait: float = ANSWER_WAIT):
        """The next reply, END when the stream ended OK, or None if nothing came within `wait` seconds.
        A stream that ended with an error raises that error."""
        try:
            item = self._answers.get(timeout=wait)
        except queue.Empty:
            return None
        if isinstance(item, grpc.RpcError):
            raise item
        return item

    def close(self):
        self.call.cancel()
        self._requests.put(None)  # releases gRPC's thread, which may be waiting for a next request
