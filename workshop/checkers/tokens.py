"""Checker for Exercise 13.1 (notebook 13): a server interceptor that wants a bearer token on every call.

The learner's module serves the kit's users service behind `BearerTokens`, listed in INTERCEPTORS.
The checker judges a fresh copy over users of its own (users_cases.seeded) by what a client sees:
it sends tokens as grpc.access_token_call_credentials does (`authorization: Bearer <token>`), by
hand so that it can also send them wrong, and once through real call credentials. Its rules are
below, one case each; tests/test_checkers_tokens.py breaks each on its own.
"""
from __future__ import annotations

import re
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from workshop import tokens
from workshop.checkers import interceptor_cases, support, users_cases
from workshop.checkers.interceptor_cases import FourModes
from workshop.checkers.support import Fail
from workshop.protos import users_pb2, users_pb2_grpc

HEADER = "authorization"
ALICE, GUEST = (next(token for token, who in tokens.TOKENS.items() if who == name) for name in ("alice", "guest"))
RULES = {  # Exercise 13.1: each rule is one case; a wrong-answer test breaks each on its own
    "no token": f"a call without {HEADER} → UNAUTHENTICATED at once, whose message says what is missing (names "
                f"{HEADER} or a token), in all four modes (a stream that sends nothing too; one whose client waits "
                "for an answer before it sends more), AddUser too (who calls comes first), on every service but health "
                "(reflection too)",
    "bad tokens": "a token nobody holds, one that only starts or ends like a real one, one with something after it "
                  "(a space too), one in other letters' case, one without its Bearer scheme or with another (or two, "
                  "or one with more before it, or '=' after it), an empty one, or a real token under another key "
                  "(x-token, bare or with Bearer) → UNAUTHENTICATED, never PERMISSION_DENIED (AddUser too); the "
                  "refusal says what is wanted and repeats nothing that was sent, nor does the server's log",
    "permission": "a token whose holder may not call the method (the guest's AddUser) → PERMISSION_DENIED, whose "
                  "message names the method and repeats nothing of the token; the guest's reads are served, in every "
                  "mode",
    "never runs": "a refused call never reaches the servicer: an AddUser without a token, or with the guest's, "
                  "adds no one",
    "passes on": "a call with alice's token is served as without the interceptor: every mode, AddUser too, errors "
                 "too (NOT_FOUND), through real call credentials too, and ping-pong answers each id before the next",
    "every call": "each call is judged on its own: after alice's calls were served, the same methods without a "
                  "token, and the guest's AddUser, are still refused; after many refused calls, alice's are served",
    "health": "health checks, which carry no token, go through: Check and Watch answer SERVING, List as the health "
              "service does (UNIMPLEMENTED in grpcio 1.85)",
}
NORMAL, GUEST_TYPE = users_pb2.USER_TYPE_NORMAL, users_pb2.USER_TYPE_GUEST
SEED = [users_pb2.User(id=user_id, nickname=name, mail_address=f"{name}@example.com", user_type=kind)
        for user_id, name, kind in [(1, "ana", NORMAL), (2, "ben", NORMAL), (5, "cy", GUEST_TYPE)]]
NEWCOMER = users_pb2.User(id=40, nickname="dee", mail_address="dee@example.com", user_type=GUEST_TYPE)
SECOND_NEWCOMER = users_pb2.User(id=43, nickname="gus", mail_address="gus@example.com", user_type=GUEST_TYPE)
ASKED_BY_THE_GUEST = users_pb2.User(id=42, nickname="fay", mail_address="fay@example.com", user_type=GUEST_TYPE)
LATE_WELCOME = users_pb2.User(id=44, nickname="hal", mail_address="hal@example.com", user_type=GUEST_TYPE)
SECOND_ASKED_BY_THE_GUEST = users_pb2.User(id=45, nickname="ida", mail_address="ida@example.com",
                                           user_type=GUEST_TYPE)
WELCOME = users_pb2.User(id=41, nickname="eve", mail_address="eve@example.com", user_type=GUEST_TYPE)
# Around the token the checker sends other metadata too, as real clients do: a reader of one pair only misses it.
BEFORE, AFTER = ("x-client", "checker"), ("x-trace", "on")
BAD_TOKENS = {  # what was sent: (the key, its value)
    "a token nobody holds": (HEADER, "Bearer mallory-5e0c9d1b7a"),
    "alice's token and more": (HEADER, f"Bearer {ALICE}x"),
    "the start of alice's token": (HEADER, f"Bearer {ALICE[:-2]}"),
    "alice's token and a word after it": (HEADER, f"Bearer {ALICE} junk"),
    "alice's token after two spaces": (HEADER, f"Bearer  {ALICE}"),
    "alice's token and a space": (HEADER, f"Bearer {ALICE} "),
    "alice's token in capitals": (HEADER, f"Bearer {ALICE.upper()}"),
    "alice's token after 'Bearer:'": (HEADER, f"Bearer:{ALICE}"),
    "alice's token after 'Bearer_'": (HEADER, f"Bearer_{ALICE}"),
    "alice's token as Digest": (HEADER, f"Digest {ALICE}"),
    "alice's token without 'Bearer '": (HEADER, ALICE),
    "alice's token as Basic": (HEADER, f"Basic {ALICE}"),
    "an empty token": (HEADER, "Bearer "),
    "a token of 500 characters": (HEADER, "Bearer " + "z" * 500),
    "alice's token under x-token": ("x-token", ALICE),
    "'Bearer' and alice's token under x-token": ("x-token", f"Bearer {ALICE}"),
    "alice's name for a token": (HEADER, "Bearer alice"),
    "a token that ends as alice's does": (HEADER, f"Bearer mallory-000000{ALICE[-4:]}"),
    "alice's token after 'XBearer '": (HEADER, f"XBearer {ALICE}"),
    "alice's token after 'Basic Bearer '": (HEADER, f"Basic Bearer {ALICE}"),
    "alice's token after 'Bearer Bearer '": (HEADER, f"Bearer Bearer {ALICE}"),
    "alice's token after 'Bearer='": (HEADER, f"Bearer={ALICE}"),
    "alice's token as Token": (HEADER, f"Token {ALICE}"),
    "alice's token after 'Bearer: '": (HEADER, f"Bearer: {ALICE}"),
    "alice's token after 'Bearers '": (HEADER, f"Bearers {ALICE}"),
    "alice's token after 'bearer-token '": (HEADER, f"bearer-token {ALICE}"),
    "alice's token right after 'Bearer'": (HEADER, f"Bearer{ALICE}"),
    "alice's token in angle brackets": (HEADER, f"Bearer <{ALICE}>"),
    "alice's token in quotes": (HEADER, f'Bearer "{ALICE}"'),
    "alice's token and '='": (HEADER, f"Bearer {ALICE}="),
    "alice's token and ',x'": (HEADER, f"Bearer {ALICE},x"),
    "alice's token and ';x'": (HEADER, f"Bearer {ALICE};x"),
    "alice's token percent-encoded": (HEADER, "Bearer %" + f"{ord(ALICE[0]):02X}{ALICE[1:]}"),
    "alice's token under x-authorization": ("x-authorization", f"Bearer {ALICE}"),
    "alice's token under proxy-authorization": ("proxy-authorization", f"Bearer {ALICE}"),
}
SCHEMES = re.compile(r"^(?:(?:X?Bearers?|bearer-token|Basic|Digest|Token)[ :_=]*)+")  # how bad tokens' values start
LOCKED_OUT_AFTER = 120  # refused calls before alice's, on a copy of its own: a lockout of everyone lets none through
SLOW_REFUSAL = 0.2  # seconds: a refusal slower than this (and than a served call, by far) waited on purpose
UNKNOWN_WRITER = "Bearer mallory-5e0c9d1b7a"  # an AddUser with it: who calls is unknown, so UNAUTHENTICATED

MISSING_HINT = (f"in intercept_service, read {HEADER} from handler_call_details.invocation_metadata (pairs: "
                f"dict(...).get(\"{HEADER}\", \"\")); when there is none, or its token is not one who_holds knows, "
                "return refusing(handler, grpc.StatusCode.UNAUTHENTICATED, \"...\") instead of the handler")
UNAUTHENTICATED_HINT = ("who is calling is not known (no token, or none anyone holds): that is UNAUTHENTICATED. "
                        "PERMISSION_DENIED says \"I know who you are, and you may not\"")
NAMES_HINT = f"say what is missing: the message names {HEADER} (or the token), so the caller knows what to add"
WANTED_HINT = (f"say what is wanted, for a token that will not do as for a missing one: the message names {HEADER} or "
               "the token (\"a token this service knows, as 'Bearer <token>'\"), and repeats nothing that was sent")
LOGGED_HINT = ("print nothing of a token: a log is read by more people than the token's holder, and kept longer; "
               "log who called (who_holds gives the name) and what was refused, never the authorization value")
LOG_LINES = 2000  # of the server's log, read for tokens
SLOW_HINT = ("refuse at once: a sleep in intercept_service holds one of the server's threads, so a few callers with "
             "wrong tokens stall everyone else's calls (slowing guessers down is a rate limiter's job, in front of "
             "the server)")
HEALTH_ONLY_HINT = ("only the health service goes through without a token: let through methods that start with "
                    "/grpc.health., not every /grpc. service (reflection tells a stranger your whole contract)")
EXACT_HINT = ("take the token as sent: `scheme, _, token = value.partition(\" \")`, the scheme must be Bearer, and "
              "who_holds(token) must know that exact token (not one that starts, ends or looks like it)")
OTHER_KEY_HINT = (f"look for the token in {HEADER} only, where call credentials put it: a token under another key "
                  "(x-token) is no token, whatever its value")
ECHO_HINT = ("never put what the caller sent into the refusal: a token is a secret, a log or a screen may show the "
             "message, and a token of any length would come back; say what is wanted instead")
DENIED_HINT = ("a token whose holder may not call this method: refusing(handler, grpc.StatusCode.PERMISSION_DENIED, "
               "...) when not may_call(who, handler_call_details.method)")
DENIED_NAMES_HINT = "say what is not allowed: the PERMISSION_DENIED message names the method (AddUser)"
READS_HINT = ("a guest reads like anyone known: may_call(who, method) is False only for a write (AddUser); refuse "
              "those, not every call of the guest's")
RAN_HINT = ("return the refusing handler instead of the servicer's: the servicer's behaviour must not be called "
            "for a call you refuse (refusing(...) never calls it)")
PASS_ON_HINT = ("for a call whose token may make it, return the handler that continuation(handler_call_details) "
                "gave, unchanged: do not read, collect or replace its requests or responses")
PING_PONG_HINT = ("the stream was collected before the first answer: an interceptor must not read the request "
                  "stream (list(request_iterator)); return the handler as continuation gave it")
NONE_HINT = ("a call with alice's token answered UNIMPLEMENTED: intercept_service returned None, which tells grpc "
             "there is no such method. Return the handler that continuation(handler_call_details) gave")
AUTH_FIRST_HINT = ("find out who calls before what they may do: a caller you do not know gets UNAUTHENTICATED, "
                   "whatever the method (may_call(None, ...) says no to a write, but there is nobody to deny yet)")
GUEST_KNOWN_HINT = ("the guest's token was read (their reads are served): a known caller who may not call this "
                    "method gets PERMISSION_DENIED, not UNAUTHENTICATED")
GUEST_UNKNOWN_HINT = ("the guest holds a token who_holds knows, so UNAUTHENTICATED says the token was not read: "
                      "metadata keys arrive in lowercase (\"authorization\"); PERMISSION_DENIED is for a known caller")
NOT_DONE_HINT = ("write intercept_service in the exercise cell, run it and the checker's cell again; a refusal is "
                 "returned: `return refusing(handler, code, message)` (calling refusing without returning it does "
                 "nothing)")
JUDGED_ONCE_HINT = ("judge every call on its own, from its own metadata: nothing an earlier call showed (its method, "
                    "its token, who it was) may let a later one through")
BEFORE_HINT = ("a refused call sends nothing: refusing(handler, ...) ends it at once with its status, before any "
               "response (and before the servicer could run)")
WRONG_CODE_HINTS = {  # a refusal of an unknown caller with another code than UNAUTHENTICATED
    grpc.StatusCode.ALREADY_EXISTS: "ALREADY_EXISTS comes from the servicer: it ran for a call you refused. " + (
        "Return refusing(handler, ...) instead of calling the handler's behaviour"),
    grpc.StatusCode.INVALID_ARGUMENT: ("INVALID_ARGUMENT says the request is wrong (and, with the servicer's words, "
                                       "that the servicer ran): the caller is not known, whatever the header holds, "
                                       "so UNAUTHENTICATED, from refusing(handler, ...), before the servicer"),
}
REFUSED_ALICE_HINT = ("alice's token was refused: the header is `authorization: Bearer <token>` (lowercase key, one "
                      "space), and who_holds(token) gives 'alice' for it; and nothing earlier calls left behind (a "
                      "count of refusals, say) may refuse her")


def _echoes(details: str, sent: str, holder: str = "") -> bool:
    """Whether the refusal repeats 4 characters running of the token in `sent` (an authorization value), beyond the
    scheme and the name of its `holder` (a denial may name who was denied)."""
    secret = SCHEMES.sub("", sent).strip().strip('<>"').removeprefix(f"{holder}-" if holder else "")
    return any(secret[i:i + 4] in details for i in range(len(secret) - 3))


def _carrying(value: str | None, key: str = HEADER) -> tuple:
    """Metadata with `value` under `key` (nothing under it for None), and other pairs around it."""
    return (BEFORE, *(((key, value),) if value is not None else ()), AFTER)


def _alice_served(call, metadata):
    """`call()`, which carries alice's token; a refusal of it is a Fail that says so."""
    try:
        return call()
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.UNIMPLEMENTED and "exactly one request" not in (error.details() or ""):
            raise Fail("a call with alice's token answered UNIMPLEMENTED", NONE_HINT) from None
        if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            sent = dict(metadata or ()).get(HEADER, "")
            who = "the guest's" if GUEST in sent else "alice's"
            raise Fail(f"a call with {who} token was refused: {support.describe_rpc_error(error)[:80]}",
                       READS_HINT if who == "the guest's" else REFUSED_ALICE_HINT) from None
        raise


def _unauthenticated(call, what: str, answered_hint: str) -> str:
    return interceptor_cases.refusal(call, what, expected=grpc.StatusCode.UNAUTHENTICATED, answered_hint=answered_hint,
                                     code_hint=UNAUTHENTICATED_HINT, wrong_code_hints=WRONG_CODE_HINTS)


def _refused_at_once(target, stub) -> None:
    """Three GetUsers without a token take no longer than three health checks, give or take SLOW_REFUSAL (a call
    with alice's token would teach a stateful interceptor something: "every call" judges that, on a copy)."""
    def median(call) -> float:
        took = []
        for _ in range(3):
            started = time.monotonic()
            _refused(call)
            took.append(time.monotonic() - started)
        return sorted(took)[1]
    with target.channel() as channel:
        health = health_pb2_grpc.HealthStub(channel)
        served = median(lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=support.TIMEOUT))
    refused = median(lambda: FourModes(stub).unary(_carrying(None)))
    if refused > SLOW_REFUSAL and refused > 4 * served:
        raise Fail(f"a refusal took {refused:.1f} s, a served call {served:.2f} s", SLOW_HINT)


def _nothing_before_the_refusal(stub) -> None:
    """A GetUsersByType without a token gets its refusal, and not one message before it."""
    replies = []
    try:
        for reply in stub.GetUsersByType(users_pb2.UserTypeRequest(user_type=NORMAL), metadata=_carrying(None),
                                         timeout=support.TIMEOUT):
            replies.append(reply)
    except grpc.RpcError:
        pass
    if replies:
        raise Fail(f"GetUsersByType without {HEADER} sent {len(replies)} message(s) before it ended", BEFORE_HINT)


def _added(stub, user: users_pb2.User) -> bool:
    """Whether `user` is in the directory (asked with alice's token)."""
    try:
        FourModes(stub, _alice_served).unary(_carrying(f"Bearer {ALICE}"), user_id=user.id)
    except grpc.RpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return False
        raise
    return True


def _refused(call) -> bool:
    try:
        call()
    except grpc.RpcError as error:
        return error.code() not in support.INFRASTRUCTURE_CODES
    return False


def _refuses_nothing(target) -> bool:
    """Whether calls with no token, and with a token nobody holds, are both served: the skeleton, as shipped."""
    with users_cases.users_stub(target) as stub:
        modes = FourModes(stub)
        try:
            modes.unary(_carrying(None))
            modes.unary(_carrying(UNKNOWN_WRITER))
        except grpc.RpcError:
            return False
    return True


def check_tokens(server) -> support.CheckResult:
    """Exercise 13.1: `server` is the learner's running server (server_runner.start("my_tokens.py"))."""
    alice, guest = _carrying(f"Bearer {ALICE}"), _carrying(f"Bearer {GUEST}")
    with users_cases.seeded(server, SEED) as (target, _):
        try:
            target.ensure_running()
            untouched = _refuses_nothing(target)
        except Exception:  # a module that does not start, or an interceptor that raises: each case says so
            untouched = False

        def refusing_case(case):
            def run():
                if untouched:
                    raise Fail("not done yet: every call is served, with a token or without (intercept_service "
                               "returns the handler as it is)", NOT_DONE_HINT)
                case()
            return run

        def no_token():
            with users_cases.users_stub(target) as stub:
                _refused_at_once(target, stub)
                for what, call in FourModes(stub).each_mode(_carrying(None)).items():
                    details = _unauthenticated(call, f"{what} without {HEADER}", MISSING_HINT)
                    if HEADER not in details.lower() and "token" not in details.lower():
                        raise Fail(f"{what} without {HEADER} was refused with {details[:60]!r}, which does not say "
                                   "what is missing", NAMES_HINT)
                interceptor_cases.refusal(lambda: stub.AddUser(NEWCOMER, metadata=_carrying(None),
                                                               timeout=support.TIMEOUT),
                                          f"AddUser without {HEADER}", expected=grpc.StatusCode.UNAUTHENTICATED,
                                          answered_hint=MISSING_HINT, code_hint=UNAUTHENTICATED_HINT,
                                          wrong_code_hints={grpc.StatusCode.PERMISSION_DENIED: AUTH_FIRST_HINT})
                interceptor_cases.refused_while_waiting(stub, _carrying(None), f"without {HEADER}",
                                                        grpc.StatusCode.UNAUTHENTICATED, MISSING_HINT)
                _unauthenticated(lambda: list(stub.GetUsersByType(users_pb2.UserTypeRequest(), metadata=_carrying(
                    None), timeout=support.TIMEOUT)), f"GetUsersByType of no type without {HEADER} (the servicer "
                    "would refuse the type)", MISSING_HINT)
                _nothing_before_the_refusal(stub)
            for version in interceptor_cases.REFLECTION_VERSIONS:
                _unauthenticated(interceptor_cases.reflection_listing(target, version=version),
                                 f"server reflection ({version}) without {HEADER}", HEALTH_ONLY_HINT)

        def bad_tokens():
            with users_cases.users_stub(target) as stub:
                modes = FourModes(stub)
                for what, (key, value) in BAD_TOKENS.items():
                    metadata = _carrying(value, key)
                    details = _unauthenticated(lambda metadata=metadata: modes.unary(metadata),
                                               f"GetUser with {what}",
                                               OTHER_KEY_HINT if key != HEADER else EXACT_HINT)
                    if _echoes(details, value):
                        raise Fail(f"GetUser with {what} was refused with a message that repeats what was sent",
                                   ECHO_HINT)
                    if HEADER not in details.lower() and "token" not in details.lower():
                        raise Fail(f"GetUser with {what} was refused with {details[:60]!r}, which does not say "
                                   "what is wanted", WANTED_HINT)
                _unauthenticated(lambda: modes.server_stream(_carrying(f"Bearer {ALICE}x")),
                                 "GetUsersByType with alice's token and more", EXACT_HINT)
                try:
                    modes.unary(_carrying(f"Bearer {ALICE}x"))
                    returned = ()
                except grpc.RpcError as error:
                    returned = (*(error.initial_metadata() or ()), *(error.trailing_metadata() or ()))
                if any(_echoes(str(value), f"Bearer {ALICE}x") for _, value in returned):
                    raise Fail("GetUser with alice's token and more was refused with the token in metadata sent back",
                               ECHO_HINT + " (nor in metadata: initial or trailing)")
                logged = target.handle.logs(LOG_LINES) if target.handle else ""
                if any(secret[i:i + 6] in logged for secret in (ALICE[6:], GUEST[6:]) for i in range(len(secret) - 5)):
                    raise Fail("the server's log holds part of a token that was sent", LOGGED_HINT)
                interceptor_cases.refusal(lambda: stub.AddUser(NEWCOMER, metadata=_carrying(UNKNOWN_WRITER),
                                                               timeout=support.TIMEOUT),
                                          "AddUser with a token nobody holds", expected=grpc.StatusCode.UNAUTHENTICATED,
                                          answered_hint=EXACT_HINT, code_hint=UNAUTHENTICATED_HINT,
                                          wrong_code_hints={grpc.StatusCode.PERMISSION_DENIED: AUTH_FIRST_HINT})

        def permission():
            with users_cases.users_stub(target) as stub:
                details = interceptor_cases.refusal(
                    lambda: stub.AddUser(ASKED_BY_THE_GUEST, metadata=guest, timeout=support.TIMEOUT),
                    "the guest's AddUser", expected=grpc.StatusCode.PERMISSION_DENIED, answered_hint=DENIED_HINT,
                    code_hint=DENIED_HINT, wrong_code_hints={grpc.StatusCode.UNAUTHENTICATED: (
                        GUEST_KNOWN_HINT if not _refused(lambda: FourModes(stub).unary(guest))
                        else GUEST_UNKNOWN_HINT)})
                try:  # a known caller reads the contract too: reflection is no write
                    for version in interceptor_cases.REFLECTION_VERSIONS:
                        interceptor_cases.reflection_listing(target, guest, version)()
                except grpc.RpcError as error:
                    raise Fail(f"the guest's server reflection ({version}) got "
                               f"{support.describe_rpc_error(error)[:60]}", READS_HINT) from None
                if "adduser" not in details.lower():
                    raise Fail(f"the guest's AddUser was refused with {details[:60]!r}, which does not name the "
                               "method", DENIED_NAMES_HINT)
                if _echoes(details, f"Bearer {GUEST}", holder="guest"):
                    raise Fail("the guest's AddUser was refused with a message that repeats the guest's token",
                               ECHO_HINT)
                modes = FourModes(stub, _alice_served)
                got = {"GetUser": modes.unary(guest).user.nickname, "GetUsersByType": modes.server_stream(guest),
                       "CountAlreadyUsers": modes.client_stream(guest, [1, 2, 99]),
                       "GetUsersByIds": modes.bidirectional(guest, [2, 1])}
                expected = {"GetUser": "ana", "GetUsersByType": ["ana", "ben"], "CountAlreadyUsers": 2,
                            "GetUsersByIds": ["ben", "ana"]}
                if got != expected:
                    method = next(name for name in got if got[name] != expected[name])
                    raise Fail(f"with the guest's token, {method} answered {got[method]!r}; expected "
                               f"{expected[method]!r}", PASS_ON_HINT)

        def never_runs():
            with users_cases.users_stub(target) as stub:
                for what, metadata, newcomer in ((f"without {HEADER}", _carrying(None), NEWCOMER),
                                                 ("with the guest's token", guest, SECOND_NEWCOMER)):
                    try:
                        stub.AddUser(newcomer, metadata=metadata, timeout=support.TIMEOUT)
                        continue  # not refused at all: whether it must be, other cases judge
                    except grpc.RpcError as error:
                        if error.code() in support.INFRASTRUCTURE_CODES:
                            continue  # no handler, or an interceptor that raises: other cases name it
                    if _added(stub, newcomer):
                        raise Fail(f"AddUser {what} was refused, but {newcomer.nickname} was added all the same: "
                                   "the servicer ran", RAN_HINT)

        def passes_on():
            with users_cases.users_stub(target) as stub:
                modes = FourModes(stub, _alice_served)
                got = {"GetUser": modes.unary(alice).user.nickname, "GetUsersByType": modes.server_stream(alice),
                       "CountAlreadyUsers": modes.client_stream(alice, [1, 2, 99]),
                       "AddUser": _alice_served(lambda: stub.AddUser(WELCOME, metadata=alice,
                                                                     timeout=support.TIMEOUT), alice).user.nickname}
                expected = {"GetUser": "ana", "GetUsersByType": ["ana", "ben"], "CountAlreadyUsers": 2,
                            "AddUser": WELCOME.nickname}
                if got != expected:
                    method = next(name for name in got if got[name] != expected[name])
                    raise Fail(f"with alice's token, {method} answered {got[method]!r}; expected {expected[method]!r}",
                               PASS_ON_HINT)
                support.expect_status(lambda: modes.unary(alice, user_id=99), grpc.StatusCode.NOT_FOUND,
                                      "a call with a good token must reach the servicer, and its errors the caller: "
                                      "return the handler unchanged")
                names = interceptor_cases.conversation(stub, alice, PASS_ON_HINT, PING_PONG_HINT)
                if names != ["ana", "ben"]:
                    raise Fail(f"GetUsersByIds with alice's token answered {names}; expected ['ana', 'ben']",
                               PASS_ON_HINT)
            credentials = grpc.composite_channel_credentials(grpc.local_channel_credentials(),
                                                             grpc.access_token_call_credentials(ALICE))
            with grpc.secure_channel(target.address, credentials) as channel:
                reply = _alice_served(lambda: users_pb2_grpc.UserManagerStub(channel).GetUser(
                    users_pb2.UserRequest(id=1), timeout=support.TIMEOUT), alice)
                if reply.user.nickname != "ana":
                    raise Fail(f"through grpc.access_token_call_credentials, GetUser(1) answered "
                               f"{users_cases.one_line(reply)}", PASS_ON_HINT)

        def every_call():  # on a copy of its own: what earlier cases were served must not let these through
            with users_cases.seeded(server, SEED) as (fresh, _), users_cases.users_stub(fresh) as stub:
                def calls() -> dict:
                    without = FourModes(stub).each_mode(_carrying(None))
                    looks_like = {f"GetUser with {what}": (lambda value=value: FourModes(stub).unary(_carrying(value)))
                                  for what, value in (("the start of alice's token", f"Bearer {ALICE[:-2]}"),
                                                      ("alice's token and more", f"Bearer {ALICE}x"),
                                                      ("a token that ends as alice's does",
                                                       f"Bearer mallory-000000{ALICE[-4:]}"))}
                    return {**{f"{what} without {HEADER}": call for what, call in without.items()}, **looks_like,
                            "the guest's AddUser": lambda: stub.AddUser(SECOND_ASKED_BY_THE_GUEST, metadata=guest,
                                                                       timeout=support.TIMEOUT)}

                refused_before = [what for what, call in calls().items() if _refused(call)]  # what to see again
                for _ in range(LOCKED_OUT_AFTER):
                    _refused(lambda: FourModes(stub).unary(_carrying(UNKNOWN_WRITER)))
                try:
                    FourModes(stub).unary(alice)
                except grpc.RpcError as error:
                    if error.code() in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
                        raise Fail(f"after {LOCKED_OUT_AFTER} calls with a token nobody holds, a GetUser with "
                                   f"alice's token was refused: {support.describe_rpc_error(error)[:60]}",
                                   JUDGED_ONCE_HINT) from None
                modes = FourModes(stub, _alice_served)
                modes.unary(alice)
                modes.bidirectional(alice, [1])
                _alice_served(lambda: stub.AddUser(LATE_WELCOME, metadata=alice, timeout=support.TIMEOUT), alice)
                for what, call in calls().items():
                    if what in refused_before:  # whether it had to be, and with which code: the cases above judge
                        interceptor_cases.refusal(call, f"after alice's calls, {what}", expected=None,
                                                  answered_hint=JUDGED_ONCE_HINT, code_hint=JUDGED_ONCE_HINT)

        def health():
            interceptor_cases.health_is_served(target, "a token", stale=("a token nobody holds",
                                                                          _carrying("Bearer expired-0a1b2c3d4e")))

        cases = {"no token": refusing_case(no_token), "bad tokens": refusing_case(bad_tokens),
                 "permission": refusing_case(permission), "never runs": refusing_case(never_runs),
                 "passes on": passes_on, "every call": refusing_case(every_call), "health": health}
        return support.run_checks("Exercise 13.1 · bearer tokens",
                                  [(RULES[name], case) for name, case in cases.items()], target=target)
