"""Checker for Exercise 11.1 (notebook 11): a server interceptor that wants a request id on every call.

The learner's module serves the kit's users service behind `RequestIds`, listed in INTERCEPTORS.
The checker judges a fresh copy over users of its own (users_cases.seeded) by what a client sees
in each of the four modes, and by the copy's log. Its rules are below, one case each;
tests/test_checkers_interceptors.py breaks each on its own.
"""
from __future__ import annotations

import itertools
import re
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from workshop.checkers import support, users_cases
from workshop.checkers.support import Fail
from workshop.protos import users_pb2

HEADER = "x-request-id"
LONGEST = 64
RULES = {  # Exercise 11.1: each rule is one case; a wrong-answer test breaks each on its own
    "refused": f"a call without {HEADER} → INVALID_ARGUMENT, whose message names {HEADER}, in all four modes "
               "(a stream that sends nothing too), on every service but health (reflection too)",
    "never runs": "a refused call never reaches the servicer: an AddUser without an id adds no one",
    "bad ids": f"an empty id, or one longer than {LONGEST} characters, is refused too, and the refusal repeats no "
               f"part of it; an id of exactly {LONGEST} is served",
    "passes on": "a call with an id is served as without the interceptor: every mode, errors too, and ping-pong "
                 "still answers each id before the next is sent",
    "logs": "each call passed on is logged once: a line of its own with its whole method (/users.v1.UserManager/"
            "GetUser) and its whole id (one that ends in an error too)",
    "health": "health checks, which carry no id, are answered SERVING: Check, and Watch",
}
NORMAL = users_pb2.USER_TYPE_NORMAL
SEED = [users_pb2.User(id=user_id, nickname=name, mail_address=f"{name}@example.com", user_type=kind)
        for user_id, name, kind in [(1, "ana", NORMAL), (2, "ben", NORMAL), (5, "cy", users_pb2.USER_TYPE_GUEST)]]
GUEST = users_pb2.USER_TYPE_GUEST  # the users the cases add: never in the NORMAL stream another case reads
NEWCOMER = users_pb2.User(id=40, nickname="dee", mail_address="dee@example.com", user_type=GUEST)
WELCOME = users_pb2.User(id=41, nickname="eve", mail_address="eve@example.com", user_type=GUEST)
LOG_WAIT = 2.0  # seconds for a logged line to reach the server's log

LOOK_UP_HINT = (f"in intercept_service, read {HEADER} from handler_call_details.invocation_metadata "
                "(pairs: dict(...).get(HEADER, \"\")) and, when it is missing, return refusing(handler, "
                "grpc.StatusCode.INVALID_ARGUMENT, \"...\") instead of the handler")
KIND_HINT = ("a refusal must be a handler of the method's own kind: a unary one, given a stream with no messages, "
             "answers UNIMPLEMENTED (\"requires exactly one request message\"). refusing(handler, code, message) "
             "builds one of the right kind")
CODE_HINT = "the request is what is wrong: refuse with grpc.StatusCode.INVALID_ARGUMENT"
NAMES_HINT = f"say what is missing: the message must name {HEADER}, so the caller knows what to add"
RAN_HINT = ("return the refusing handler instead of the servicer's: the servicer's behaviour must not be called "
            "for a call you refuse (refusing(...) never calls it)")
BAD_ID_HINT = f"an id that is empty or longer than {LONGEST} characters is as good as none: refuse it the same way"
ECHO_HINT = ("never put what the caller sent into the refusal: an id of any length would come back (and metadata "
             f"past 8 KB fails the call); say what is allowed instead (1 to {LONGEST} characters)")
PASS_ON_HINT = ("for a call with an id, return the handler that continuation(handler_call_details) gave, unchanged: "
                "do not read, collect or replace its requests or responses")
PING_PONG_HINT = ("the stream was collected before the first answer: an interceptor must not read the request "
                  "stream (list(request_iterator)); return the handler as continuation gave it")
LOG_HINT = (f"print one line for each call you pass on, with handler_call_details.method and its {HEADER}: "
            "print(f\"{handler_call_details.method} {HEADER}={request_id}\") lands in the server's log")
AFTER_HINT = ("log in intercept_service itself, before you return the handler: a line printed by the servicer, or "
              "after it answered, is never printed for a call that ends in an error, or fails before it runs")
ONCE_HINT = "log each call once, in intercept_service, not once per message or response"
CARRIED_HINT = (f"the call did carry {HEADER}: metadata keys arrive in lowercase, as pairs; look for the key among "
                "all of them: dict(handler_call_details.invocation_metadata).get(HEADER, \"\")")
BOUNDARY_HINT = f"1 to {LONGEST} characters includes {LONGEST}: refuse only len(request_id) > LONGEST"
HEALTH_ONLY_HINT = ("only the health service goes through without an id: let through methods that start with "
                    "/grpc.health., not every /grpc. service (reflection needs an id like every other)")
ECHO_HINT_SAME = ("the refusal changed with the id sent: say what is wrong and what is allowed, in words of your "
                  "own, and nothing of the id (not part of it, not changed): an id may be of any length")
NONE_HINT = ("a call with an id answered UNIMPLEMENTED: intercept_service returned None, which tells grpc there "
             "is no such method. Return the handler that continuation(handler_call_details) gave")
NO_HANDLER_HINT = ("UNIMPLEMENTED: returning None, or refusing(None, ...), tells grpc there is no such method; "
                   "refuse with refusing(handler, grpc.StatusCode.INVALID_ARGUMENT, \"...\"), the handler from "
                   "continuation(handler_call_details)")
ONE_LINE_HINT = "end each call's log line with a newline (print does): one line per call"
WATCH_HINT = ("every method of the health service goes through: Check and Watch (client-side health checking, and "
              "load balancers, use Watch); let through whatever starts with /grpc.health.")
REFUSED_IDS = ("a" * (LONGEST + 1), "b" * 500)  # too long, both: their refusals must not differ
# Around the id the checker sends other metadata too, as real clients do: a reader of one pair only misses it.
BEFORE, AFTER = ("x-client", "checker"), ("x-trace", "on")


_numbers = itertools.count(1)  # the ids the checker sends: check-1-…, check-2-…, (restarted by each check)


def _with_id(request_id: str | None = None) -> tuple:
    """Metadata that holds `request_id`, or the next of the checker's ids (40 characters: a log must keep it whole)."""
    if request_id is None:
        request_id = f"check-{next(_numbers)}-".ljust(40, "z")
    return (BEFORE, (HEADER, request_id), AFTER)


def _id_of(metadata) -> str:
    return dict(metadata or ()).get(HEADER, "")


def _served(call, metadata):
    """`call()`, whose metadata holds a good id; a refusal of it is a Fail that says it carried one."""
    try:
        return call()
    except grpc.RpcError as error:
        request_id = _id_of(metadata)
        if error.code() == grpc.StatusCode.UNIMPLEMENTED and request_id:
            raise Fail(f"a call that carried {HEADER}={request_id} answered UNIMPLEMENTED", NONE_HINT) from None
        if error.code() == grpc.StatusCode.INVALID_ARGUMENT and 1 <= len(request_id) <= LONGEST:
            raise Fail(f"a call that carried {HEADER}={request_id} was refused: {(error.details() or '')[:60]!r}",
                       BOUNDARY_HINT if len(request_id) == LONGEST else CARRIED_HINT) from None
        raise


class _Calls:
    """One call of each mode, on a channel to `target`, with `metadata`."""

    def __init__(self, stub):
        self.stub = stub

    def unary(self, metadata, user_id: int = 1):
        return _served(lambda: self.stub.GetUser(users_pb2.UserRequest(id=user_id), metadata=metadata,
                                                 timeout=support.TIMEOUT), metadata)

    def server_stream(self, metadata):
        return _served(lambda: [reply.user.nickname for reply in self.stub.GetUsersByType(
            users_pb2.UserTypeRequest(user_type=NORMAL), metadata=metadata, timeout=support.TIMEOUT)], metadata)

    def client_stream(self, metadata, ids=()):
        return _served(lambda: self.stub.CountAlreadyUsers(iter([users_pb2.UserRequest(id=i) for i in ids]),
                                                           metadata=metadata, timeout=support.TIMEOUT).count, metadata)

    def bidirectional(self, metadata, ids=()):
        return _served(lambda: [reply.user.nickname for reply in self.stub.GetUsersByIds(
            iter([users_pb2.UserRequest(id=i) for i in ids]), metadata=metadata, timeout=support.TIMEOUT)], metadata)

    def each_mode(self, metadata) -> dict:
        """The four modes, each a call that sends nothing a handler of another kind could take for one request."""
        return {"GetUser (unary)": lambda: self.unary(metadata),
                "GetUsersByType (server stream)": lambda: self.server_stream(metadata),
                "CountAlreadyUsers (client stream, no ids)": lambda: self.client_stream(metadata),
                "GetUsersByIds (bidirectional, no ids)": lambda: self.bidirectional(metadata)}


def _refusal(call, what: str, answered_hint: str = LOOK_UP_HINT, expected=grpc.StatusCode.INVALID_ARGUMENT) -> str:
    """The details of the refusal (`expected`; None: any) that `call` must end with; a Fail naming `what` otherwise."""
    try:
        reply = call()
    except grpc.RpcError as error:
        code, details = error.code(), error.details() or ""
        if code == expected or (expected is None and code not in support.INFRASTRUCTURE_CODES):
            return details
        if code == grpc.StatusCode.UNIMPLEMENTED and "exactly one request" in details:
            raise Fail(f"{what} got UNIMPLEMENTED ({details[:60]!r}) instead of a refusal", KIND_HINT) from None
        if code == grpc.StatusCode.UNIMPLEMENTED:
            raise Fail(f"{what} got UNIMPLEMENTED instead of a refusal", NO_HANDLER_HINT) from None
        if code in support.INFRASTRUCTURE_CODES - {grpc.StatusCode.UNIMPLEMENTED}:
            raise  # UNKNOWN: the interceptor raised; the target's guard names its line
        raise Fail(f"{what} got {support.describe_rpc_error(error)}; expected INVALID_ARGUMENT", CODE_HINT) from None
    raise Fail(f"{what} was answered ({' '.join(str(reply).split())[:40] or 'OK'}): nothing refused it", answered_hint)


def _conversation(stub, metadata) -> list[str]:
    """Ping-pong: id 1, wait for its answer, then id 2. The names answered; a Fail if an answer never came."""
    conversation = users_cases.Conversation(stub, metadata)
    names = []
    try:
        for user_id in (1, 2):
            conversation.send(user_id)
            try:
                got = conversation.next_answer()
            except grpc.RpcError as error:
                raise Fail(f"GetUsersByIds with an id ended with {support.describe_rpc_error(error)}",
                           PASS_ON_HINT) from None
            if got is None:
                raise Fail(f"GetUsersByIds with an id: no answer to id {user_id} within "
                           f"{users_cases.ANSWER_WAIT:g} s, while the client waited for it before sending the next",
                           PING_PONG_HINT)
            if got is users_cases.END:
                raise Fail("GetUsersByIds with an id ended with no answer", PASS_ON_HINT)
            names.append(got.user.nickname)
    finally:
        conversation.close()
    return names


def check_request_ids(server) -> support.CheckResult:
    """Exercise 11.1: `server` is the learner's running server (server_runner.start("my_request_ids.py"))."""
    global _numbers
    _numbers = itertools.count(1)  # the same ids in every run: a notebook's stored output does not change
    with users_cases.seeded(server, SEED) as (target, _):
        def refused():
            with users_cases.users_stub(target) as stub:
                for what, call in _Calls(stub).each_mode(None).items():
                    details = _refusal(call, f"{what} without {HEADER}")
                    if HEADER not in details.lower():
                        raise Fail(f"{what} without {HEADER} was refused with {details[:60]!r}, which does not "
                                   f"name {HEADER}", NAMES_HINT)
            with target.channel() as channel:
                reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
                listing = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
                _refusal(lambda: list(reflection.ServerReflectionInfo(listing, timeout=support.TIMEOUT)),
                         f"server reflection without {HEADER}", HEALTH_ONLY_HINT)

        def never_runs():
            with users_cases.users_stub(target) as stub:
                _refusal(lambda: stub.AddUser(NEWCOMER, timeout=support.TIMEOUT), f"AddUser without {HEADER}",
                         expected=None)  # whatever the code (the refused case judges it): did the servicer run?
                try:
                    _Calls(stub).unary(_with_id(), user_id=NEWCOMER.id)
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.NOT_FOUND:
                        return
                    raise
                raise Fail(f"AddUser without {HEADER} was refused, but {NEWCOMER.nickname} was added all the same: "
                           "the servicer ran", RAN_HINT)

        def bad_ids():
            with users_cases.users_stub(target) as stub:
                _Calls(stub).unary(_with_id())  # an id as any other: a misread one is named as such
                _Calls(stub).unary(_with_id("k" * LONGEST))  # the longest id allowed is served
                refusals = []
                for what, request_id in (("an empty id", ""), *((f"an id of {len(each)} characters", each)
                                                               for each in REFUSED_IDS)):
                    details = _refusal(lambda request_id=request_id: _Calls(stub).unary(_with_id(request_id)),
                                       f"GetUser with {what}", BAD_ID_HINT)
                    if request_id and request_id[:8] in details:
                        raise Fail(f"GetUser with {what} was refused with a message that repeats it", ECHO_HINT)
                    if HEADER not in details.lower():
                        raise Fail(f"GetUser with {what} was refused with {details[:60]!r}, which does not name "
                                   f"{HEADER}", NAMES_HINT)
                    refusals.append(re.sub(r"\d+", "N", details))  # a length said in numbers is no echo
                if refusals[1] != refusals[2]:
                    raise Fail(f"ids of {LONGEST + 1} a's and of 500 b's were refused with different words: "
                               f"{refusals[1][:40]!r} and {refusals[2][:40]!r}", ECHO_HINT_SAME)

        def passes_on():
            with users_cases.users_stub(target) as stub:
                modes = _Calls(stub)
                welcome = _with_id()
                got = {"GetUser": modes.unary(_with_id()).user.nickname,
                       "GetUsersByType": modes.server_stream(_with_id()),
                       "CountAlreadyUsers": modes.client_stream(_with_id(), [1, 2, 99]),
                       "AddUser": _served(lambda: stub.AddUser(WELCOME, metadata=welcome, timeout=support.TIMEOUT),
                                          welcome).user.nickname}
                expected = {"GetUser": "ana", "GetUsersByType": ["ana", "ben"], "CountAlreadyUsers": 2,
                            "AddUser": WELCOME.nickname}
                wrong = {method: answer for method, answer in got.items() if answer != expected[method]}
                if wrong:
                    method = next(iter(wrong))
                    raise Fail(f"with an id, {method} answered {wrong[method]!r}; expected {expected[method]!r}",
                               PASS_ON_HINT)
                support.expect_status(lambda: modes.unary(_with_id(), user_id=99), grpc.StatusCode.NOT_FOUND,
                                      "a call with an id must reach the servicer, and its errors the caller: "
                                      "return the handler unchanged")
                names = _conversation(stub, _with_id())
                if names != ["ana", "ben"]:
                    raise Fail(f"GetUsersByIds with an id answered {names}; expected ['ana', 'ben']", PASS_ON_HINT)

        def logs():
            with users_cases.users_stub(target) as stub, target.channel() as stub_channel:
                modes = _Calls(stub)
                sent = {}  # what was called: (its method, the id it carried)

                def not_found(metadata):
                    try:
                        modes.unary(metadata, user_id=99)
                    except grpc.RpcError as error:
                        if error.code() != grpc.StatusCode.NOT_FOUND:
                            raise
                def undecodable(metadata):
                    raw = stub_channel.unary_unary("/users.v1.UserManager/GetUser")
                    try:
                        raw(b"\xff\xff\xff", metadata=metadata, timeout=support.TIMEOUT)
                    except grpc.RpcError as error:
                        if error.code() != grpc.StatusCode.INTERNAL:
                            raise
                for what, method, call in (
                        ("GetUser", "GetUser", modes.unary), ("GetUsersByType", "GetUsersByType", modes.server_stream),
                        ("CountAlreadyUsers", "CountAlreadyUsers", lambda md: modes.client_stream(md, [1, 2])),
                        ("GetUsersByIds", "GetUsersByIds", lambda md: modes.bidirectional(md, [1, 2])),
                        ("GetUser of id 99 (NOT_FOUND)", "GetUser", not_found),
                        ("GetUser of bytes that are no request (INTERNAL)", "GetUser", undecodable)):
                    metadata = _with_id()
                    call(metadata)
                    sent[what] = (method, _id_of(metadata))
            deadline = time.monotonic() + LOG_WAIT
            while True:
                log = target.handle.logs(lines=400).splitlines() if target.handle else []
                lines = {what: [line for line in log if re.search(rf"{re.escape(request_id)}(?![\w-])", line)]
                         for what, (_, request_id) in sent.items()}
                if all(lines.values()) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            for what, found in lines.items():
                method, request_id = sent[what]
                if not found:
                    # only calls that ended in an error went unlogged: the line is printed too late
                    too_late = all(found_of_one for label, found_of_one in lines.items() if "(" not in label)
                    raise Fail(f"the {what} call with {HEADER}={request_id} left no line with its id in the "
                               "server's log", AFTER_HINT if "(" in what and too_late else LOG_HINT)
                if len(found) > 1:
                    raise Fail(f"the {what} call with {HEADER}={request_id} was logged {len(found)} times", ONCE_HINT)
                if f"/users.v1.UserManager/{method}" not in found[0]:
                    raise Fail(f"the {what} call was logged as {found[0][:80]!r}, without its whole method "
                               f"(/users.v1.UserManager/{method}: the service tells one GetUser from another)",
                               LOG_HINT)
                if any(other in found[0] for _, other in sent.values() if other != request_id):
                    raise Fail("the calls were logged on one line together", ONE_LINE_HINT)

        def health():
            with target.channel() as channel:
                stub = health_pb2_grpc.HealthStub(channel)
                reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=support.TIMEOUT)
                if reply.status != health_pb2.HealthCheckResponse.SERVING:
                    raise Fail(f"the health check answered {reply.status}", users_cases.HEALTH_HINT)
                watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=support.TIMEOUT)
                try:
                    first = next(watch)
                except grpc.RpcError as error:
                    raise Fail(f"a health Watch without an id got {support.describe_rpc_error(error)}",
                               WATCH_HINT) from None
                finally:
                    watch.cancel()
                if first.status != health_pb2.HealthCheckResponse.SERVING:
                    raise Fail(f"a health Watch answered {first.status}", WATCH_HINT)

        cases = {"refused": refused, "never runs": never_runs, "bad ids": bad_ids, "passes on": passes_on,
                 "logs": logs, "health": health}
        return support.run_checks("Exercise 11.1 · request ids", [(RULES[name], case) for name, case in cases.items()],
                                  target=target)
