"""A server module for server_runner: the twin stockroom, whose stockroom.v2.Ledger has one method, Tally.

It serves what the first stockroom server serves, under the same names and from a file of the same name
(workshop/checkers/unseen/stockroom.proto): a method table cached by service name, file or service list would
give the first server's Ledger here. Its code claims that file's name, so it is loaded under a name of its own,
and its handlers are built from the descriptors (grpc's generated servicers would import the first server's).
"""
import importlib.util

import grpc
from google.protobuf import message_factory

from workshop.checkers.unseen import twin

SERVED = ("Stockroom", "Ledger", "StockroomAdmin", "Admin", "Void")  # as the first server: not Retired, not Stock


def _contract():
    spec = importlib.util.spec_from_file_location("twin_stockroom_pb2", twin.HERE / "stockroom_pb2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.DESCRIPTOR


def _handler(method):
    """A handler for `method` that answers an empty reply (one for a stream), whatever it is sent."""
    request, reply = (message_factory.GetMessageClass(kind) for kind in (method.input_type, method.output_type))
    kind = {(False, False): grpc.unary_unary_rpc_method_handler, (True, False): grpc.stream_unary_rpc_method_handler,
            (False, True): grpc.unary_stream_rpc_method_handler, (True, True): grpc.stream_stream_rpc_method_handler}
    if method.client_streaming:
        def answer(requests, context):
            for _ in requests:
                pass
            return reply() if not method.server_streaming else iter([reply()])
    else:
        def answer(request_, context):
            return reply() if not method.server_streaming else iter([reply()])
    return kind[method.client_streaming, method.server_streaming](
        answer, request_deserializer=request.FromString, response_serializer=reply.SerializeToString)


def add_to_server(server):
    contract = _contract()
    for name in SERVED:
        service = contract.services_by_name[name]
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
            service.full_name, {method.name: _handler(method) for method in service.methods}),))
