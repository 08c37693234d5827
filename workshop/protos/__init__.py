"""Python modules generated from the contracts in protos/ (users_pb2, chat_pb2, ...).

Importing this package regenerates them first if a contract changed since the last time,
so `from workshop.protos import users_pb2, users_pb2_grpc` always matches protos/. grpclib's
stubs (users_grpc, chat_grpc, ...) are generated too, for notebook 09.
Everything in this folder except this file is generated and ignored by git.
"""
from pathlib import Path

from workshop import PROTOS
from workshop.codegen import generate

generate(PROTOS, Path(__file__).parent, __name__, grpclib=True)
