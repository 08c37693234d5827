"""Explore a running server with nothing but its reflection service: no .proto, no generated code.

grpcio-reflection's client side does the asking: a ProtoReflectionDescriptorDatabase fetches, on
demand, the files that define what the server serves, and a DescriptorPool of its own turns them
into descriptors. From a method's descriptor come its path and its two message types; protobuf's
message_factory makes classes for them, json_format turns dicts into requests and replies into
dicts. That is what grpcurl and evans do in a terminal, in a few lines of Python.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

import grpc
from google.protobuf import descriptor, descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

Request = dict | str  # a request as a dict, or as its JSON text


def message_class(message: descriptor.Descriptor):
    return message_factory.GetMessageClass(message)


def as_message(request: Request, message: descriptor.Descriptor):
    """The request, a dict or JSON text in protobuf's JSON mapping, as a message of type `message`."""
    fields = json.loads(request) if isinstance(request, str) else request
    return json_format.ParseDict(fields, message_class(message)())


def as_dict(reply) -> dict:
    """A reply as a dict, with the .proto's own field names and every field shown, defaults too."""
    return json_format.MessageToDict(reply, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True)


class Explorer:
    """What a server serves, found by reflection, and calls to any of its methods."""

    def __init__(self, channel: grpc.Channel):
        self.channel = channel
        self.database = ProtoReflectionDescriptorDatabase(channel)
        self.pool = descriptor_pool.DescriptorPool(self.database)

    def services(self) -> list[str]:
        """The full names of the services the server says it serves."""
        return sorted(self.database.get_services())

    def service(self, name: str) -> descriptor.ServiceDescriptor:
        return self.pool.FindServiceByName(name)

    def method(self, name: str) -> descriptor.MethodDescriptor:
        """A method by its full name: "users.v1.UserManager.GetUser" or "/users.v1.UserManager/GetUser"."""
        service, _, method = name.strip("/").replace("/", ".").rpartition(".")
        if not service:
            raise KeyError(f"name the method with its service: 'package.Service.{method}' (one of "
                           f"{', '.join(self.services())})")
        methods = self.service(service).methods_by_name
        if method not in methods:
            raise KeyError(f"{service} has no method {method!r}; it has {', '.join(methods)}")
        return methods[method]

    def message(self, name: str) -> descriptor.Descriptor:
        return self.pool.FindMessageTypeByName(name)

    def call(self, method: str, request: Request | Iterable[Request], timeout: float = 5.0, metadata=()):
        """Call `method` with `request` (for a client stream: a list of requests, each checked before the call).

        Returns the reply as a dict; for a server stream, an iterator of dicts, read as the replies come.
        """
        found = self.method(method)
        path = f"/{found.containing_service.full_name}/{found.name}"
        reply_class = message_class(found.output_type)
        kind = {(False, False): self.channel.unary_unary, (False, True): self.channel.unary_stream,
                (True, False): self.channel.stream_unary, (True, True): self.channel.stream_stream}[
            (found.client_streaming, found.server_streaming)]
        callable_ = kind(path, request_serializer=lambda message: message.SerializeToString(),
                         response_deserializer=reply_class.FromString)
        if found.client_streaming:  # converted before the call: grpc would hide a mistake in one of them
            if isinstance(request, (dict, str)):
                raise TypeError(f"{found.name} takes a stream of requests: give a list of them")
            sent = iter([as_message(each, found.input_type) for each in request])
        else:
            sent = as_message(request, found.input_type)
        replies = callable_(sent, timeout=timeout, metadata=metadata)
        if found.server_streaming:
            return _dicts(replies)
        return as_dict(replies)


def _dicts(replies) -> Iterator[dict]:
    for reply in replies:
        yield as_dict(reply)
