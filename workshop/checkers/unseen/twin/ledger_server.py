"""A server module for server_runner: the twin stockroom.v2.Ledger, whose one method is Tally."""
from google.protobuf import empty_pb2

from workshop.checkers.unseen.twin import ledger_pb2, ledger_pb2_grpc

# Its methods take and give only Empty, so ledger_pb2_grpc does not import ledger_pb2, whose descriptors reflection
# serves: named here, they are in the pool.
SERVICE = ledger_pb2.DESCRIPTOR.services_by_name["Ledger"].full_name


class Ledger(ledger_pb2_grpc.LedgerServicer):
    def Tally(self, request, context):
        return empty_pb2.Empty()


def add_to_server(server):
    ledger_pb2_grpc.add_LedgerServicer_to_server(Ledger(), server)
