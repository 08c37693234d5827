"""What the checkers of server interceptors share (11.1's request ids, 13.1's tokens): one call of each of
the four modes with the metadata a case chooses, a refusal judged by its code and by what grpc made of the
handler the interceptor returned, ping-pong through the interceptor, and the health checks it must let by.
"""
from __future__ import annotations

from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from workshop.checkers import support, users_cases
from workshop.checkers.support import Fail
from workshop.protos import users_pb2

NORMAL = users_pb2.USER_TYPE_NORMAL
KIND_HINT = ("a refusal must be a handler of the method's own kind: a unary one, given a stream with no messages, "
             "answers UNIMPLEMENTED (\"requires exactly one request message\"). refusing(handler, code, message) "
             "builds one of the right kind")
NO_HANDLER_HINT = ("UNIMPLEMENTED: returning None, or refusing(None, ...), tells grpc there is no such method; "
                   "refuse with refusing(handler, code, \"...\"), the handler from continuation(handler_call_details)")
WATCH_HINT = ("every method of the health service goes through: Check, Watch and List (client-side health checking, "
              "and load balancers, use Watch); let through whatever starts with /grpc.health.")
LIST_ANSWERS = (grpc.StatusCode.UNIMPLEMENTED,)  # grpcio's health service has no List yet: it answers this, unrefused


def _as_it_is(call: Callable, _metadata):
    return call()


class FourModes:
    """One call of each mode on `stub`, with the metadata given; `served(call, metadata)` makes each one (a
    checker's own, to name a refusal of a call that should have been served)."""

    def __init__(self, stub, served: Callable = _as_it_is):
        self.stub, self.served = stub, served

    def unary(self, metadata, user_id: int = 1):
        return self.served(lambda: self.stub.GetUser(users_pb2.UserRequest(id=user_id), metadata=metadata,
                                                     timeout=support.TIMEOUT), metadata)

    def server_stream(self, metadata):
        return self.served(lambda: [reply.user.nickname for reply in self.stub.GetUsersByType(
            users_pb2.UserTypeRequest(user_type=NORMAL), metadata=metadata, timeout=support.TIMEOUT)], metadata)

    def client_stream(self, metadata, ids=()):
        return self.served(lambda: self.stub.CountAlreadyUsers(iter([users_pb2.UserRequest(id=i) for i in ids]),
                                                               metadata=metadata, timeout=support.TIMEOUT).count,
                           metadata)

    def bidirectional(self, metadata, ids=()):
        return self.served(lambda: [reply.user.nickname for reply in self.stub.GetUsersByIds(
            iter([users_pb2.UserRequest(id=i) for i in ids]), metadata=metadata, timeout=support.TIMEOUT)], metadata)

    def each_mode(self, metadata) -> dict:
        """The four modes, each a call that sends nothing a handler of another kind could take for one request."""
        return {"GetUser (unary)": lambda: self.unary(metadata),
                "GetUsersByType (server stream)": lambda: self.server_stream(metadata),
                "CountAlreadyUsers (client stream, no ids)": lambda: self.client_stream(metadata),
                "GetUsersByIds (bidirectional, no ids)": lambda: self.bidirectional(metadata)}


def refusal(call, what: str, *, expected: grpc.StatusCode | None, answered_hint: str, code_hint: str,
            wrong_code_hints: dict | None = None) -> str:
    """The details of the refusal (`expected`; None: any) that `call` must end with; a Fail naming `what` otherwise.
    `wrong_code_hints` gives the hint for a code that is a refusal, but the wrong one ({code: hint})."""
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
        raise Fail(f"{what} got {support.describe_rpc_error(error)}; expected {expected.name}",
                   (wrong_code_hints or {}).get(code, code_hint)) from None
    raise Fail(f"{what} was answered ({' '.join(str(reply).split())[:40] or 'OK'}): nothing refused it",
               EMPTY_STREAM_HINT if reply == [] else answered_hint)


WAITS_HINT = ("the refusal waited for the client's requests: refuse with refusing(handler, ...), which ends the call "
              "at once, before any request is read (a client may wait for an answer before it sends anything)")
EMPTY_STREAM_HINT = ("the stream ended OK with nothing in it, which says \"no results\": a refusal ends it with a "
                     "status, refusing(handler, code, message) (or context.abort)")


def refused_while_waiting(stub, metadata, what: str, expected: grpc.StatusCode, code_hint: str) -> None:
    """GetUsersByIds with `metadata`, whose client opens the stream and waits, sending nothing yet: `expected` must
    end it at once (a refusal that reads even one request first waits for ever)."""
    talk = users_cases.Conversation(stub, metadata)
    try:
        try:
            got = talk.next_answer()
        except grpc.RpcError as error:
            got = error
    finally:
        talk.close()
    if got is None:
        raise Fail(f"GetUsersByIds {what}, whose client opened the stream and waited before sending, got no refusal "
                   f"within {users_cases.ANSWER_WAIT:g} s", WAITS_HINT)
    if not isinstance(got, grpc.RpcError) or got.code() != expected:
        shown = support.describe_rpc_error(got) if isinstance(got, grpc.RpcError) else "an answer"
        raise Fail(f"GetUsersByIds {what}, nothing sent yet, got {shown}; expected {expected.name}",
                   code_hint if isinstance(got, grpc.RpcError) else "a refused call sends no response before its "
                   "status: return refusing(handler, ...), which answers nothing")


REFLECTION_VERSIONS = ("v1alpha", "v1")  # the kit's servers answer both: grpcurl asks v1 first


def reflection_listing(target, metadata=None, version: str = "v1alpha") -> Callable[[], list]:
    """A call that lists the target's services by reflection (`version`: v1 is v1alpha's protocol under another
    name, so v1alpha's messages serve for both), with `metadata`: to be refused, or served."""
    def listing():
        with target.channel() as channel:
            info = channel.stream_stream(f"/grpc.reflection.{version}.ServerReflection/ServerReflectionInfo",
                                         request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
                                         response_deserializer=reflection_pb2.ServerReflectionResponse.FromString)
            questions = iter([reflection_pb2.ServerReflectionRequest(list_services="")])
            return list(info(questions, metadata=metadata, timeout=support.TIMEOUT))
    return listing


def conversation(stub, metadata, pass_on_hint: str, ping_pong_hint: str) -> list[str]:
    """Ping-pong: id 1, wait for its answer, then id 2. The names answered; a Fail if an answer never came."""
    talk = users_cases.Conversation(stub, metadata)
    names = []
    try:
        for user_id in (1, 2):
            talk.send(user_id)
            try:
                got = talk.next_answer()
            except grpc.RpcError as error:
                raise Fail(f"GetUsersByIds ended with {support.describe_rpc_error(error)}", pass_on_hint) from None
            if got is None:
                raise Fail(f"GetUsersByIds: no answer to id {user_id} within {users_cases.ANSWER_WAIT:g} s, while the "
                           "client waited for it before sending the next", ping_pong_hint)
            if got is users_cases.END:
                raise Fail("GetUsersByIds ended with no answer", pass_on_hint)
            names.append(got.user.nickname)
    finally:
        talk.close()
    return names


def health_is_served(target, carries: str, stale: tuple[str, tuple] | None = None) -> None:
    """Check and Watch, with no metadata at all, answer SERVING, and List what the health service answers;
    `carries` names what they lack, for the Fail.
    With `stale`, (what it is, metadata a health check may carry: a token of no use, say), Check answers too."""
    with target.channel() as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=support.TIMEOUT)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            raise Fail(f"the health check answered {reply.status}", users_cases.HEALTH_HINT)
        if stale is not None:
            try:
                stub.Check(health_pb2.HealthCheckRequest(), metadata=stale[1], timeout=support.TIMEOUT)
            except grpc.RpcError as error:
                raise Fail(f"a health check that carried {stale[0]} got "
                           f"{support.describe_rpc_error(error)[:60]}", "health checks go through unchanged, "
                           "whatever metadata they carry: let /grpc.health. through before you look at any") from None
        watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=support.TIMEOUT)
        try:
            first = next(watch)
        except grpc.RpcError as error:
            raise Fail(f"a health Watch without {carries} got {support.describe_rpc_error(error)}",
                       WATCH_HINT) from None
        finally:
            watch.cancel()
        if first.status != health_pb2.HealthCheckResponse.SERVING:
            raise Fail(f"a health Watch answered {first.status}", WATCH_HINT)
        try:
            stub.List(health_pb2.HealthListRequest(), timeout=support.TIMEOUT)  # answered OK, once grpcio has it
        except grpc.RpcError as error:
            if error.code() not in LIST_ANSWERS:
                raise Fail(f"a health List without {carries} got {support.describe_rpc_error(error)[:70]} (the "
                           "health service itself answers UNIMPLEMENTED)", WATCH_HINT) from None
