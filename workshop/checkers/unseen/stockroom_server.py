"""A server module for server_runner: the stockroom contract's services but Retired, Stock and v2.Admin.

The explorer checker (12.1) only lists their methods; a call still gets a well-formed answer, if a small one.
"""
from google.protobuf import empty_pb2

from workshop.checkers.unseen import stockroom_pb2, stockroom_pb2_grpc


class Stockroom(stockroom_pb2_grpc.StockroomServicer):
    def Find(self, request, context):
        return stockroom_pb2.Shelf.Slot(row=1, column=1)

    def Restock(self, request_iterator, context):
        return stockroom_pb2.Receipt(items=sum(item.count for item in request_iterator))

    def Shelves(self, request, context):
        yield stockroom_pb2.Shelf(aisle="A")

    def Sort(self, request_iterator, context):
        yield from sorted(request_iterator, key=lambda item: item.sku)

    def Count(self, request, context):
        return stockroom_pb2.Receipt(items=0)

    def Audit(self, request, context):
        yield request

    def Clear(self, request, context):
        return empty_pb2.Empty()

    def Peek(self, request, context):
        return stockroom_pb2.Shelf.Slot.Bin(label="empty")

    def Locate(self, request, context):
        return stockroom_pb2.Shelf.Slot(row=2, column=2)


class StockroomAdmin(stockroom_pb2_grpc.StockroomAdminServicer):
    def Reset(self, request, context):
        return stockroom_pb2.Receipt(items=0)


class Admin(stockroom_pb2_grpc.AdminServicer):
    def Audit(self, request, context):
        return stockroom_pb2.Receipt(items=0)


class Ledger(stockroom_pb2_grpc.LedgerServicer):
    def Find(self, request, context):
        return stockroom_pb2.Item(sku="none")

    def Close(self, request, context):
        return empty_pb2.Empty()


def add_to_server(server):
    stockroom_pb2_grpc.add_StockroomServicer_to_server(Stockroom(), server)
    stockroom_pb2_grpc.add_LedgerServicer_to_server(Ledger(), server)
    stockroom_pb2_grpc.add_StockroomAdminServicer_to_server(StockroomAdmin(), server)
    stockroom_pb2_grpc.add_AdminServicer_to_server(Admin(), server)
    stockroom_pb2_grpc.add_VoidServicer_to_server(stockroom_pb2_grpc.VoidServicer(), server)  # no methods
    # Retired, Stock and v2.Admin are not served
