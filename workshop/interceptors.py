"""Interceptors' chores, for a call of any of gRPC's four kinds: wrap a handler, refuse with one, add metadata.

A grpc.ServerInterceptor gets the method's handler from `continuation(details)` and returns the
handler grpc will run. The handler is one of four kinds (a single request or a stream of them; a
single response or a stream), and a handler the interceptor builds must be of the same kind, or
grpc reads the call wrongly: a unary handler given to a client stream with no messages answers
UNIMPLEMENTED ("requires exactly one request message"). These helpers build it with grpc's public
constructors, keeping the method's own serializers.
"""
from __future__ import annotations

import collections
from collections.abc import Callable

import grpc

_KINDS = {  # (request_streaming, response_streaming): (the handler's behaviour attribute, its constructor)
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


def kind_of(handler: grpc.RpcMethodHandler) -> str:
    """'unary_unary', 'unary_stream', 'stream_unary' or 'stream_stream'."""
    return _KINDS[(handler.request_streaming, handler.response_streaming)][0]


def wrapped(handler: grpc.RpcMethodHandler | None, wrap: Callable[[Callable], Callable]):
    """A handler of `handler`'s kind whose behaviour is `wrap(behaviour)`; None (no such method) stays None.

    `behaviour` takes (request, context) or (request_iterator, context), and returns the response or
    an iterator of responses, as the servicer's method does.
    """
    if handler is None:
        return None
    attribute, constructor = _KINDS[(handler.request_streaming, handler.response_streaming)]
    return constructor(wrap(getattr(handler, attribute)), request_deserializer=handler.request_deserializer,
                       response_serializer=handler.response_serializer)


def refusing(handler: grpc.RpcMethodHandler | None, code: grpc.StatusCode, details: str):
    """A handler of `handler`'s kind that ends every call with `code` and `details`; the servicer never runs."""
    def refuse(_request_or_iterator, context):
        context.abort(code, details)

    return wrapped(handler, lambda _behaviour: refuse)


def refusing_async(handler: grpc.RpcMethodHandler | None, code: grpc.StatusCode, details: str):
    """refusing() for a grpc.aio server: its handlers' behaviours are coroutines (streams too)."""
    async def refuse(_request_or_iterator, context):
        await context.abort(code, details)

    return wrapped(handler, lambda _behaviour: refuse)


class _CallDetails(collections.namedtuple("_CallDetails", ("method", "timeout", "metadata", "credentials",
                                                           "wait_for_ready", "compression")),
                   grpc.ClientCallDetails):
    """grpc.ClientCallDetails is an interface; grpc's own examples fill it with a namedtuple like this one."""


def with_metadata(details: grpc.ClientCallDetails, *pairs: tuple[str, str]) -> grpc.ClientCallDetails:
    """For a client interceptor: the call's details with `pairs` added to its metadata."""
    return _CallDetails(details.method, details.timeout, [*(details.metadata or ()), *pairs], details.credentials,
                        details.wait_for_ready, details.compression)
