"""Checker for notebook 06: the learner's CountAlreadyUsers (client streaming, Exercise 6.1).

Each case streams ids to a fresh copy of the learner's module, whose directory holds the seeded
users and nothing else, and compares the one answer with the count the rules ask for: how many
DISTINCT ids belong to existing users. tests/test_checkers_client_streaming.py breaks each rule
on its own.
"""
from __future__ import annotations

import time

import grpc

from workshop.checkers.support import TIMEOUT, CheckResult, Fail, run_checks
from workshop.checkers.users_cases import seed_users, seeded, users_stub
from workshop.protos import users_pb2

PAUSE = 0.3  # seconds the client waits before its last id, in the case that checks the answer waits

# A fresh copy of data/users.json's users (ids 1 to 6), so that a server given by address, which
# holds those too, reads the same; nobody has id 404.
SEED = seed_users().values()

RULES = [  # Exercise 6.1, one case each: (rule, ids streamed, pause before the last id, hint)
    ("counts existing users: ids 2, 3, 5 → 3", [2, 3, 5], 0,
     "count the ids for which self.directory.get(request.id) finds a user"),
    ("an id sent again counts once: ids 2, 3, 2, 2 → 2", [2, 3, 2, 2], 0,
     "count distinct users: collect the ids you found in a set, and answer the set's size"),
    ("an unknown id counts nothing and is no error: ids 2, 404, 3 → 2", [2, 404, 3], 0,
     "check that self.directory.get() found a user before you count the id"),
    ("an empty stream is a question too: no ids → 0", [], 0,
     "a client may send no id at all; answer UserCountResponse(count=0), not an error"),
    ("the answer waits until the client is done: ids 2, 3, 5, a pause, 6 → 4", [2, 3, 5, 6], PAUSE,
     "keep reading until request_iterator ends (the client is done), and answer only after the loop"),
]


def expected_count(ids, users) -> int:
    return len(set(ids) & set(users))


def _requests(ids, pause: float):
    for number, user_id in enumerate(ids):
        if pause and number == len(ids) - 1:
            time.sleep(pause)
        yield users_pb2.UserRequest(id=user_id)


def check_count_already_users(server) -> CheckResult:
    """Exercise 6.1: `server` is the running server of my_count_users.py (or an address)."""
    with seeded(server, SEED) as (target, users), users_stub(target) as stub:

        def case(ids, pause, hint):
            def run():
                expected = expected_count(ids, users)
                try:
                    reply = stub.CountAlreadyUsers(_requests(ids, pause), timeout=TIMEOUT)
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.INTERNAL:  # the method returned no message
                        raise Fail(f"the call failed with INTERNAL: {error.details()}",
                                   "return a message, users_pb2.UserCountResponse(count=...), "
                                   "not a bare number") from None
                    if error.code() in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT):
                        raise Fail(f"the call failed with {error.code().name}: {error.details()[:80]}; "
                                   f"expected count={expected}", hint) from None
                    raise
                if reply.count != expected:
                    raise Fail(f"got count={reply.count}; expected {expected}", hint)
            return run

        return run_checks("Exercise 6.1 · CountAlreadyUsers",
                          [(rule, case(ids, pause, hint)) for rule, ids, pause, hint in RULES], target=target)
