%%writefile my_users_server.py
"""My user directory: the UserManager service of protos/users.proto, with the users in memory."""
import json
import threading

import grpc
from google.protobuf import json_format

from workshop import DATA
from workshop.protos import users_pb2, users_pb2_grpc


class UserDirectory:
    """The users by id, seeded from data/users.json. Every method holds the lock while it uses `_users`."""

    def __init__(self):
        self._lock = threading.Lock()
        seed = json.loads((DATA / "users.json").read_text())
        users = [json_format.ParseDict(entry, users_pb2.User()) for entry in seed]  # dicts → User messages
        self._users = {user.id: user for user in users}

    def get(self, user_id):
        """The user with this id, or None."""
        with self._lock:
            return self._users.get(user_id)


class UserManager(users_pb2_grpc.UserManagerServicer):
    """The service. Methods not written here answer UNIMPLEMENTED (the generated base class does)."""

    def __init__(self, directory):
        self.directory = directory

    def GetUser(self, request, context):
        if request.id <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"id must be a positive number; got {request.id}")
        user = self.directory.get(request.id)
        if user is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {request.id}")
        return users_pb2.UserResponse(user=user)


def add_to_server(server):
    """What server_runner calls: register the service (the runner adds health, reflection, a port)."""
    users_pb2_grpc.add_UserManagerServicer_to_server(UserManager(UserDirectory()), server)
