%%writefile my_aio_users_by_type.py
"""Exercise 9.1: GetUsersByType on grpc.aio, over the kit's directory, whose lookups block."""
import asyncio

import grpc

from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers import users

ASYNCIO = True  # server_runner serves this module with grpc.aio: every call on one event loop


class UserManager(users_pb2_grpc.UserManagerServicer):
    def __init__(self, directory):
        self.directory = directory  # the kit's: of_type(user_type) blocks until it has the list

    async def GetUsersByType(self, request, context):
        if problem := users.problem_with_user_type(request.user_type):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)  # a coroutine: awaited, it ends the call
        found = await asyncio.to_thread(self.directory.of_type, request.user_type)  # the loop goes on meanwhile
        for user in found:
            yield users_pb2.UserResponse(user=user)


def add_to_server(server):
    users_pb2_grpc.add_UserManagerServicer_to_server(UserManager(users.directory_from_env()), server)
