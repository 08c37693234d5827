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

from workshop.checkers import interceptor_cases, support, users_cases
from workshop.checkers.interceptor_cases import FourModes
from workshop.checkers.support import Fail
from workshop.protos import users_pb2

HEADER = "x-request-id"
LONGEST = 64
RULES = {  # Exercise 11.1: each rule is one case; a wrong-answer test breaks each on its own
    "refused": f"a call without {HEADER} → INVALID_ARGUMENT, whose message names {HEADER}, in all four modes "
               "(a stream that sends nothing too), on every service but health (reflection too)",
    "never runs": "a refused call never reaches the servicer: an AddUser without an id adds no one",
    "bad ids": f"an empty id, or one longer than {LONGEST} characters, is refused too, and the refusal repeats no "
               f"part of it (its message, or metadata sent back); an id of exactly {LONGEST} is served, or of one, "
               "of any characters (spaces, spaces alone, @, a comma, digits alone)",
    "passes on": "a call with an id is served as without the interceptor: every mode, errors too, the same id "
                 "twice too, and ping-pong still answers each id before the next is sent",
    "logs": "each call passed on is logged once: a line of its own with its whole method (/users.v1.UserManager/"
            f"GetUser) and its whole id as it came, capitals and spaces too, {LONGEST} characters too (one that ends "
            "in an error too); the same id twice, two lines",
    "health": "health checks, which carry no id, go through: Check and Watch answer SERVING, List as the health "
              "service does (UNIMPLEMENTED in grpcio 1.85); a Check with an id too long for other calls too",
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
LOG_HINT = (f"print one line for each call you pass on, with handler_call_details.method and its whole {HEADER}: "
            "print(f\"{handler_call_details.method} {HEADER}={request_id}\") lands in the server's log")
AFTER_HINT = ("log in intercept_service itself, before you return the handler: a line printed by the servicer, or "
              "after it answered, is never printed for a call that ends in an error, or fails before it runs")
ONCE_HINT = "log each call once, in intercept_service, not once per message or response"
CARRIED_HINT = (f"the call did carry {HEADER}, of 1 to {LONGEST} characters: read it among all the pairs "
                "(dict(handler_call_details.invocation_metadata).get(HEADER, \"\"): keys arrive in lowercase), and "
                "refuse only an id that is empty or too long, whatever characters it holds (dots, colons, "
                "underscores too; spaces alone too: never strip it)")
OTHER_KEY_HINT = (f"only {HEADER} counts: a fallback to another header lets through calls that never carried the id "
                  "this service asks for")
TRAILER_ECHO_HINT = ("nothing of the id goes back to the caller, in the message or in metadata (initial or trailing), "
                     "changed or not: an id of any length would come back (and metadata past 8 KB fails the call)")
BOUNDARY_HINT = f"1 to {LONGEST} characters includes {LONGEST}: refuse only len(request_id) > LONGEST"
HEALTH_ONLY_HINT = ("only the health service goes through without an id: let through methods that start with "
                    "/grpc.health., not every /grpc. service (reflection needs an id like every other)")
ECHO_HINT_SAME = ("the refusal changed with the id sent: say what is wrong and what is allowed, in words of your "
                  "own, and nothing of the id (not part of it, not changed): an id may be of any length")
NONE_HINT = ("a call with an id answered UNIMPLEMENTED: intercept_service returned None, which tells grpc there "
             "is no such method. Return the handler that continuation(handler_call_details) gave")
ONE_LINE_HINT = "end each call's log line with a newline (print does): one line per call"
OTHER_KEYS = ("request-id", "x-correlation-id", "x-request-ids", "x-request-id-bin")  # no x-request-id
ANY_IDS = ("req_7.b:c/d=e+f", "x@y~#%!", "a b", "12345", " Spaced id ", "7", "   ", "a,b;c")  # of any kind: served
LONGEST_LOGGED = "Longest-".ljust(LONGEST, "y")  # the logs case's id of LONGEST characters: logged whole
SAME_ID_HINT = ("an id names a call for the log; it need not be new: serve every call that carries one, the same "
                "id again too (keep nothing of one call for the next)")
CUT_HINT = f"log the id whole, as it came: an id may be up to {LONGEST} characters"
REFUSED_IDS = ("a" * (LONGEST + 1), "b" * 500)  # too long, both: their refusals must not differ
# Around the id the checker sends other metadata too, as real clients do: a reader of one pair only misses it.
BEFORE, AFTER = ("x-client", "checker"), ("x-trace", "on")


_numbers = itertools.count(1)  # the ids the checker sends: check-1-…, check-2-…, (restarted by each check)


def _with_id(request_id: str | None = None) -> tuple:
    """Metadata that holds `request_id`, or the next of the checker's ids (40 characters: a log must keep it whole)."""
    if request_id is None:
        request_id = f"Check-{next(_numbers)}-".ljust(40, "z")  # a capital too: a log keeps the id as it came
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
            raise Fail(f"a call that carried {HEADER}={request_id!r} was refused: {(error.details() or '')[:60]!r}",
                       BOUNDARY_HINT if len(request_id) == LONGEST else CARRIED_HINT) from None
        if error.code() in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN) and "failed" in (error.details() or ""):
            raise Fail(f"a call that carried {HEADER}={request_id} ended {support.describe_rpc_error(error)[:60]}",
                       PASS_ON_HINT + " (an error of the servicer reaches the caller as it was)") from None
        raise


def _refusal(call, what: str, answered_hint: str = LOOK_UP_HINT, expected=grpc.StatusCode.INVALID_ARGUMENT) -> str:
    """The details of the refusal (`expected`; None: any) that `call` must end with; a Fail naming `what` otherwise."""
    return interceptor_cases.refusal(call, what, expected=expected, answered_hint=answered_hint, code_hint=CODE_HINT)


def check_request_ids(server) -> support.CheckResult:
    """Exercise 11.1: `server` is the learner's running server (server_runner.start("my_request_ids.py"))."""
    global _numbers
    _numbers = itertools.count(1)  # the same ids in every run: a notebook's stored output does not change
    with users_cases.seeded(server, SEED) as (target, _):
        def refused():
            with users_cases.users_stub(target) as stub:
                for what, call in FourModes(stub, _served).each_mode(None).items():
                    details = _refusal(call, f"{what} without {HEADER}")
                    if HEADER not in details.lower():
                        raise Fail(f"{what} without {HEADER} was refused with {details[:60]!r}, which does not "
                                   f"name {HEADER}", NAMES_HINT)
                interceptor_cases.refused_while_waiting(stub, (BEFORE, AFTER), f"without {HEADER}",
                                                        grpc.StatusCode.INVALID_ARGUMENT, LOOK_UP_HINT)
                for key in OTHER_KEYS:
                    value = b"check-under-another-key" if key.endswith("-bin") else "check-under-another-key"
                    _refusal(lambda key=key, value=value: FourModes(stub).unary((BEFORE, (key, value), AFTER)),
                             f"GetUser with an id under {key} (and none under {HEADER})", OTHER_KEY_HINT)
            for version in interceptor_cases.REFLECTION_VERSIONS:
                _refusal(interceptor_cases.reflection_listing(target, version=version),
                         f"server reflection ({version}) without {HEADER}", HEALTH_ONLY_HINT)

        def never_runs():
            with users_cases.users_stub(target) as stub:
                _refusal(lambda: stub.AddUser(NEWCOMER, timeout=support.TIMEOUT), f"AddUser without {HEADER}",
                         expected=None)  # whatever the code (the refused case judges it): did the servicer run?
                try:
                    FourModes(stub, _served).unary(_with_id(), user_id=NEWCOMER.id)
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.NOT_FOUND:
                        return
                    raise
                raise Fail(f"AddUser without {HEADER} was refused, but {NEWCOMER.nickname} was added all the same: "
                           "the servicer ran", RAN_HINT)

        def bad_ids():
            with users_cases.users_stub(target) as stub:
                FourModes(stub, _served).unary(_with_id())  # an id as any other: a misread one is named as such
                FourModes(stub, _served).unary(_with_id("k" * LONGEST))  # the longest id allowed is served
                for any_id in ANY_IDS:  # an id is any characters
                    FourModes(stub, _served).unary(_with_id(any_id))
                refusals = []
                for what, request_id in (("an empty id", ""), *((f"an id of {len(each)} characters", each)
                                                               for each in REFUSED_IDS)):
                    details = _refusal(lambda request_id=request_id: FourModes(stub, _served).unary(
                        _with_id(request_id)), f"GetUser with {what}", BAD_ID_HINT)
                    if request_id and request_id[:8] in details:
                        raise Fail(f"GetUser with {what} was refused with a message that repeats it", ECHO_HINT)
                    if HEADER not in details.lower():
                        raise Fail(f"GetUser with {what} was refused with {details[:60]!r}, which does not name "
                                   f"{HEADER}", NAMES_HINT)
                    refusals.append(re.sub(r"\d+", "N", details))  # a length said in numbers is no echo
                if refusals[1] != refusals[2]:
                    raise Fail(f"ids of {LONGEST + 1} a's and of 500 b's were refused with different words: "
                               f"{refusals[1][:40]!r} and {refusals[2][:40]!r}", ECHO_HINT_SAME)
                try:
                    FourModes(stub).unary(_with_id(REFUSED_IDS[1]))
                    returned = ()
                except grpc.RpcError as error:
                    returned = (*(error.initial_metadata() or ()), *(error.trailing_metadata() or ()))
                if any(REFUSED_IDS[1][:8] in str(value).lower() for _, value in returned):
                    raise Fail("GetUser with an id of 500 characters was refused with the id in its metadata",
                               TRAILER_ECHO_HINT)

        def passes_on():
            with users_cases.users_stub(target) as stub:
                modes = FourModes(stub, _served)
                welcome = _with_id()
                got = {"GetUser": modes.unary(_with_id()).user.nickname,
                       "GetUsersByType": modes.server_stream(_with_id()),
                       "CountAlreadyUsers": modes.client_stream(_with_id(), [1, 2, 99]),
                       "AddUser": _served(lambda: stub.AddUser(WELCOME, metadata=welcome, timeout=support.TIMEOUT),
                                          welcome).user.nickname}
                again = _with_id()
                for time_ in ("first", "second"):  # the same id twice: both served
                    try:
                        modes.unary(again)
                    except grpc.RpcError as error:
                        raise Fail(f"GetUser with {HEADER}={_id_of(again)} was served, then the {time_} call with "
                                   f"the same id ended {support.describe_rpc_error(error)[:60]}", SAME_ID_HINT
                                   if time_ == "second" else PASS_ON_HINT) from None
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
                names = interceptor_cases.conversation(stub, _with_id(), PASS_ON_HINT, PING_PONG_HINT)
                if names != ["ana", "ben"]:
                    raise Fail(f"GetUsersByIds with an id answered {names}; expected ['ana', 'ben']", PASS_ON_HINT)

        def logs():
            with users_cases.users_stub(target) as stub, target.channel() as stub_channel:
                modes = FourModes(stub, _served)
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
                for what, method, call, request_id in (  # request_id None: the next of the checker's ids
                        ("GetUser", "GetUser", modes.unary, None),
                        ("GetUsersByType", "GetUsersByType", modes.server_stream, None),
                        ("CountAlreadyUsers", "CountAlreadyUsers", lambda md: modes.client_stream(md, [1, 2]), None),
                        ("GetUsersByIds", "GetUsersByIds", lambda md: modes.bidirectional(md, [1, 2]), None),
                        ("GetUser of id 99 (NOT_FOUND)", "GetUser", not_found, None),
                        ("GetUser of bytes that are no request (INTERNAL)", "GetUser", undecodable, None),
                        ("GetUser with spaces around its id", "GetUser", modes.unary, " Spaced id 9 "),
                        (f"GetUser with an id of {LONGEST} characters", "GetUser", modes.unary, LONGEST_LOGGED),
                        ("GetUser with the id of the GetUser before", "GetUser", modes.unary, LONGEST_LOGGED)):
                    metadata = _with_id(request_id)
                    try:
                        call(metadata)
                    except Fail:
                        if len(_id_of(metadata)) == LONGEST:  # refused: the bad ids' case names it
                            continue
                        raise
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
                if not found and any(request_id.strip()[:16] in line for line in log):
                    raise Fail(f"the {what} call with {HEADER}={request_id} was logged with its id cut short",
                               CUT_HINT)
                if not found:
                    # only calls that ended in an error went unlogged: the line is printed too late
                    too_late = all(found_of_one for label, found_of_one in lines.items() if "(" not in label)
                    raise Fail(f"the {what} call with {HEADER}={request_id} left no line with its id in the "
                               "server's log", AFTER_HINT if "(" in what and too_late else LOG_HINT)
                calls = sum(other == request_id for _, other in sent.values())  # the same id twice: two lines
                if len(found) != calls:
                    raise Fail(f"the {what} call with {HEADER}={request_id} was logged {len(found)} time(s)"
                               + (f", for {calls} calls that carried it" if calls > 1 else ""),
                               ONCE_HINT if len(found) > calls else "log every call you pass on, each time: the "
                               "same id may come again, and each call needs its line")
                if f"/users.v1.UserManager/{method}" not in found[0]:
                    raise Fail(f"the {what} call was logged as {found[0][:80]!r}, without its whole method "
                               f"(/users.v1.UserManager/{method}: the service tells one GetUser from another)",
                               LOG_HINT)
                if any(other in found[0] for _, other in sent.values() if other != request_id):
                    raise Fail("the calls were logged on one line together", ONE_LINE_HINT)

        def health():
            interceptor_cases.health_is_served(target, "an id", stale=(f"an id of {len(REFUSED_IDS[1])} characters",
                                                                       (BEFORE, (HEADER, REFUSED_IDS[1]), AFTER)))

        cases = {"refused": refused, "never runs": never_runs, "bad ids": bad_ids, "passes on": passes_on,
                 "logs": logs, "health": health}
        return support.run_checks("Exercise 11.1 · request ids", [(RULES[name], case) for name, case in cases.items()],
                                  target=target)
