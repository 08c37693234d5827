"""Checkers for notebook 05 (server streaming): the learner's GetUsersByType, over a real channel.

The checker reads whole streams, checks types and order, and cancels a stream midway. Users it
adds (through the learner's AddUser) get ids and names unique to each run, so it can run again.
"""
from __future__ import annotations

import grpc

from workshop.checkers.support import CheckResult, Fail, expect_status, run_checks
from workshop.checkers.unary import TIMEOUT, ensure_running, run_tag, seed_users, unused_id, users_stub
from workshop.protos import users_pb2

UserType = users_pb2.UserType


def check_get_users_by_type(server) -> CheckResult:
    """Exercise 5.1: GetUsersByType streams the users of one type, by id, and handles cancellation."""
    seeds = seed_users()
    tag = run_tag()

    with users_stub(server) as stub:

        def stream(user_type):
            ensure_running(server)
            return stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=user_type), timeout=TIMEOUT)

        def listed(user_type):
            replies = list(stream(user_type))
            if not all(reply.HasField("user") for reply in replies):
                raise Fail("a message came with no user in it",
                           "yield users_pb2.UserResponse(user=user), not the User itself")
            wrong = [r.user for r in replies if r.user.user_type != user_type]
            if wrong:
                raise Fail(f"{wrong[0].nickname} came too, and is {UserType.Name(wrong[0].user_type)}",
                           "yield only the users whose user_type equals request.user_type")
            return [r.user for r in replies]

        def streams_seeded(user_type):
            expected = [u.nickname for u in sorted(seeds.values(), key=lambda u: u.id) if u.user_type == user_type]

            def case():
                got = [u.nickname for u in listed(user_type) if u.id in seeds]
                if got != expected:
                    raise Fail(f"got {', '.join(got) or 'no users'}; expected {', '.join(expected)}",
                               "yield users_pb2.UserResponse(user=user) for each matching user, ordered by id")
            return case

        def ordered_by_id():
            high = unused_id()
            low = high - 1
            for user_id in (high, low):  # stored in this order: a dict would list `high` first
                nickname = f"guest{user_id % 1000}_{tag}"
                try:
                    stub.AddUser(users_pb2.User(id=user_id, nickname=nickname, mail_address=f"{nickname}@example.com",
                                                user_type=users_pb2.USER_TYPE_GUEST), timeout=TIMEOUT)
                except grpc.RpcError as error:
                    raise Fail(f"this case first adds two guests with AddUser, which failed with "
                               f"{error.code().name}: {error.details()}",
                               "AddUser is in your module too (exercise 4.2): make it work again") from None
            ids = [u.id for u in listed(users_pb2.USER_TYPE_GUEST)]
            if low not in ids or high not in ids:
                raise Fail("two guests just added with AddUser are missing from the stream",
                           "list the users the directory holds now, not a copy made at start-up")
            if ids != sorted(ids):
                raise Fail(f"ids came in this order: {', '.join(map(str, ids))}",
                           "sort before streaming: sorted(users, key=lambda user: user.id)")

        def unspecified():
            expect_status(lambda: list(stream(users_pb2.USER_TYPE_UNSPECIFIED)), grpc.StatusCode.INVALID_ARGUMENT,
                          "USER_TYPE_UNSPECIFIED means nobody chose a type: end the call with "
                          "context.abort(grpc.StatusCode.INVALID_ARGUMENT, ...) before yielding anything")

        def cancel_midway():
            call = stream(users_pb2.USER_TYPE_NORMAL)
            if next(call, None) is None:
                raise Fail("the NORMAL stream ended before its first user",
                           "yield users_pb2.UserResponse(user=user) for each matching user")
            call.cancel()
            if call.code() != grpc.StatusCode.CANCELLED:
                raise Fail(f"after call.cancel() the call says {call.code().name}")
            reply = list(stream(users_pb2.USER_TYPE_ADMINISTRATOR))
            if not reply:
                raise Fail("after a cancelled stream, the next call streamed nothing",
                           "look at the end of your server's log: server.logs()")

        return run_checks("Exercise 5.1 · GetUsersByType", [
            ("NORMAL → bob, carol, erin", streams_seeded(users_pb2.USER_TYPE_NORMAL)),
            ("ADMINISTRATOR → alice", streams_seeded(users_pb2.USER_TYPE_ADMINISTRATOR)),
            ("users added later are in id order too", ordered_by_id),
            ("UNSPECIFIED → INVALID_ARGUMENT", unspecified),
            ("after a cancel, the server still answers the next call", cancel_midway),
        ])
