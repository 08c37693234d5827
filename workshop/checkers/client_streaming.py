"""Checker for notebook 06: the learner's CountAlreadyUsers (client streaming).

Each case streams ids to the learner's server and compares the one answer with what the
reference server (workshop.servers.users) answers: how many DISTINCT ids belong to existing
users. Unknown ids are not errors; they just do not count.
"""
from __future__ import annotations

import time

import grpc

from workshop.checkers.support import CheckResult, Fail, run_checks
from workshop.checkers.unary import ensure_running, users_stub
from workshop.protos import users_pb2

CALL_TIMEOUT = 5.0
PAUSE = 0.3  # seconds between two ids in the case that checks the server waits for the end

# The seed users have ids 1 to 6; nobody has 999.
CASES = [
    # label, ids streamed, seconds between two ids, expected count, hint when the count is wrong
    ("ids 1, 2, 3 → 3", [1, 2, 3], 0, 3,
     "count the ids for which self.directory.get(request.id) finds a user"),
    ("ids 5, then 6 after a pause → 2 (the answer waits for the last id)", [5, 6], PAUSE, 2,
     "keep reading until request_iterator ends (the client is done); answer only after the loop"),
    ("ids 1, 999, 2 → 2 (nobody has id 999)", [1, 999, 2], 0, 2,
     "an unknown id is not an error and does not count: check that directory.get() found a user"),
    ("ids 1, 1, 2, 1 → 2 (each user counted once)", [1, 1, 2, 1], 0, 2,
     "count distinct users: collect the ids you found in a set, and answer the set's size"),
    ("ids 1 to 1000 → 6 (all six users, once each)", list(range(1, 1001)), 0, 6,
     "read the whole request_iterator (a for loop), then return one UserCountResponse"),
    ("no ids at all → 0", [], 0, 0,
     "an empty stream is a valid question; its answer is UserCountResponse(count=0)"),
]


def _requests(ids, pause: float = 0.0):
    for number, user_id in enumerate(ids):
        if pause and number:
            time.sleep(pause)
        yield users_pb2.UserRequest(id=user_id)


def _count(stub, ids, expected: int, hint: str, pause: float = 0.0) -> None:
    try:
        reply = stub.CountAlreadyUsers(_requests(ids, pause), timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
            raise Fail(f"the call failed with {error.code().name}: {error.details()}; expected count={expected}",
                       "CountAlreadyUsers answers a number, even for unknown ids: "
                       "skip them instead of aborting") from None
        if error.code() == grpc.StatusCode.INTERNAL:  # the method returned something that is not the message
            raise Fail(f"the call failed with {error.code().name}: {error.details()}",
                       "return a message, users_pb2.UserCountResponse(count=...), not a bare number") from None
        raise
    if reply.count != expected:
        raise Fail(f"got count={reply.count}; expected {expected}", hint)


def check_count_already_users(server) -> CheckResult:
    """Exercise 6.1: `server` is the RunningServer of my_users_server.py (or its address)."""
    with users_stub(server) as stub:

        def case(ids, pause, expected, hint):
            def run():
                ensure_running(server)
                _count(stub, ids, expected, hint, pause)
            return run

        cases = [(label, case(ids, pause, expected, hint)) for label, ids, pause, expected, hint in CASES]
        return run_checks("Exercise 6.1 · CountAlreadyUsers", cases)
