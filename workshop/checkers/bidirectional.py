"""Checker for notebook 07: the learner's GetUsersByIds (bidirectional, ping-pong).

The key case is a conversation: the checker sends id 1 and does not send id 2 until the answer
for id 1 has arrived. A server that answers each request as it comes passes at once; a server
that first collects every request (the source article's version) never answers, because the
client never finishes, so the case reports it after a short wait instead of hanging.
"""
from __future__ import annotations

import queue
import threading

import grpc

from workshop.checkers.support import CheckResult, Fail, describe_rpc_error, run_checks
from workshop.checkers.unary import ensure_running, users_stub
from workshop.protos import users_pb2

CALL_TIMEOUT = 5.0  # the whole call, in the cases that send every id at once
ANSWER_WAIT = 2.0  # how long the conversation waits for one answer before it gives up
_END = object()  # the stream ended OK
WRAP_HINT = "yield users_pb2.UserResponse(user=user): the User goes inside a UserResponse"


class _Conversation:
    """One GetUsersByIds call whose requests the checker sends one at a time, when it chooses."""

    def __init__(self, stub):
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._answers: queue.SimpleQueue = queue.SimpleQueue()
        self.call = stub.GetUsersByIds(iter(self._requests.get, None), timeout=CALL_TIMEOUT * 2)
        threading.Thread(target=self._read, name="checker-conversation", daemon=True).start()

    def _read(self):
        try:
            for reply in self.call:
                self._answers.put(reply)
            self._answers.put(_END)
        except grpc.RpcError as error:
            self._answers.put(error)

    def send(self, user_id: int) -> None:
        self._requests.put(users_pb2.UserRequest(id=user_id))

    def finish(self) -> None:
        """Half-close: tell the server no more ids will come."""
        self._requests.put(None)

    def next_answer(self):
        """The next reply, _END when the stream ended OK, or None if nothing came within ANSWER_WAIT.
        A stream that ended with an error raises that error."""
        try:
            item = self._answers.get(timeout=ANSWER_WAIT)
        except queue.Empty:
            return None
        if isinstance(item, grpc.RpcError):
            raise _explained(item)
        return item

    def close(self):
        self.call.cancel()
        self._requests.put(None)  # releases gRPC's thread, which may be waiting for a next request


def _names(replies) -> str:
    return ", ".join(reply.user.nickname or "(empty user)" for reply in replies) or "no answers"


def _wrapped(replies) -> None:
    """Fails when an answer carries no user: most often the User itself was yielded."""
    empty = sum(not reply.HasField("user") for reply in replies)
    if empty:
        raise Fail(f"{empty} of {len(replies)} answers carried no user", WRAP_HINT)


def _explained(error: grpc.RpcError) -> BaseException:
    if error.code() == grpc.StatusCode.INTERNAL:  # what the server yielded could not be sent as a UserResponse
        return Fail(f"the call failed with {describe_rpc_error(error)}", WRAP_HINT)
    return error


def _ping_pong(stub):
    conversation = _Conversation(stub)
    try:
        for user_id, name in ((1, "alice"), (2, "bob")):
            conversation.send(user_id)
            reply = conversation.next_answer()
            if reply is None:
                raise Fail(f"no answer to id {user_id} within {ANSWER_WAIT:g} s, while the client waited for "
                           f"it before sending the next id",
                           "answer inside the loop: `for request in request_iterator:` look the user up and "
                           "`yield` at once; do not collect every request before answering")
            if reply is _END:
                raise Fail(f"the stream ended after id {user_id} with no answer",
                           "yield one UserResponse for each request")
            _wrapped([reply])
            if reply.user.nickname != name:
                raise Fail(f"id {user_id} → got {_names([reply])}; expected {name}",
                           "answer with users_pb2.UserResponse(user=self.directory.get(request.id))")
        conversation.finish()
        end = conversation.next_answer()
        if end is None:
            raise Fail("the client finished sending, but the stream did not end",
                       "return when request_iterator ends (the loop ends by itself)")
        if end is not _END:
            raise Fail(f"after the last id, the server sent one more answer ({_names([end])})",
                       "send one answer per request, no more")
    finally:
        conversation.close()


def _all_at_once(stub, ids):
    requests = iter([users_pb2.UserRequest(id=user_id) for user_id in ids])
    replies = []
    try:
        for reply in stub.GetUsersByIds(requests, timeout=CALL_TIMEOUT):
            replies.append(reply)
    except grpc.RpcError as error:
        return replies, error
    return replies, None


def _answers(stub, ids, names, hint):
    def case():
        replies, error = _all_at_once(stub, ids)
        if error is not None and error.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise _explained(error)
        _wrapped(replies)
        if error is not None:
            raise Fail(f"got {_names(replies)}, then {describe_rpc_error(error)}; expected {', '.join(names)}", hint)
        if [reply.user.nickname for reply in replies] != names:
            raise Fail(f"got {_names(replies)}; expected {', '.join(names) or 'no answers'}", hint)
    return case


def _unknown_id(stub):
    replies, error = _all_at_once(stub, [2, 999, 3])
    if error is not None and error.code() in (grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAVAILABLE,
                                              grpc.StatusCode.UNKNOWN, grpc.StatusCode.DEADLINE_EXCEEDED,
                                              grpc.StatusCode.INTERNAL):
        raise _explained(error)
    _wrapped(replies)
    got = _names(replies)
    hint = 'call context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {request.id}") when get() finds nobody'
    if error is None:
        raise Fail(f"got {got} and the stream ended OK; expected bob, then NOT_FOUND", hint)
    if error.code() != grpc.StatusCode.NOT_FOUND:
        raise Fail(f"got {got}, then {describe_rpc_error(error)}; expected bob, then NOT_FOUND", hint)
    if got != "bob":
        raise Fail(f"got {got} before NOT_FOUND; expected bob only",
                   "answer bob as soon as id 2 arrives, and end the stream at id 999 (carol is never reached)")
    if "999" not in (error.details() or ""):
        raise Fail(f"NOT_FOUND said {error.details()!r}, which does not name the id",
                   "name the id in the message, e.g. \"no user has id 999\": the client sent several ids "
                   "and needs to know which one failed")


def check_get_users_by_ids(server) -> CheckResult:
    """Exercise 7.1: `server` is the RunningServer of my_users_server.py (or its address)."""
    with users_stub(server) as stub:

        def running(case):
            def run():
                ensure_running(server)
                case()
            return run

        cases = [
            ("ids 3, 1, 2 → carol, alice, bob, in that order",
             _answers(stub, [3, 1, 2], ["carol", "alice", "bob"],
                      "yield one UserResponse per request, in the order the ids arrive")),
            ("id 1 answered before id 2 is sent (ping-pong)", lambda: _ping_pong(stub)),
            ("ids 4, 4 → dave, dave (one answer per request)",
             _answers(stub, [4, 4], ["dave", "dave"], "answer every request, even an id asked before")),
            ("ids 2, 999, 3 → bob, then NOT_FOUND naming 999", lambda: _unknown_id(stub)),
            ("no ids → no answers, the stream ends OK",
             _answers(stub, [], [], "when the client sends nothing, the loop never runs: just return")),
        ]
        return run_checks("Exercise 7.1 · GetUsersByIds", [(label, running(case)) for label, case in cases])
