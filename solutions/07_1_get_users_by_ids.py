%%writefile my_users_server.py
"""My user directory: the UserManager service of protos/users.proto, with the users in memory."""
import json
import threading

import grpc
from google.protobuf import json_format

from workshop import DATA
from workshop.protos import users_pb2, users_pb2_grpc


class AlreadyExists(Exception):
    """A new user's id or nickname is taken."""


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

    def add(self, user):
        """Store a copy of `user` (id 0: the next free id) and return it; AlreadyExists if taken."""
        with self._lock:
            same_id = self._users.get(user.id)
            if same_id is not None:
                raise AlreadyExists(f"a user with id {user.id} already exists ({same_id.nickname})")
            owner = next((u for u in self._users.values() if u.nickname == user.nickname), None)
            if owner is not None:
                raise AlreadyExists(f"the nickname {user.nickname!r} is taken (by user {owner.id})")
            stored = users_pb2.User()
            stored.CopyFrom(user)
            if stored.id == 0:
                stored.id = max(self._users, default=0) + 1
            self._users[stored.id] = stored
            return stored

    def all(self):
        """A copy of the list of users, made under the lock: safe to loop over while others add."""
        with self._lock:
            return list(self._users.values())


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

    def AddUser(self, request, context):
        problem = problem_with(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            stored = self.directory.add(request)
        except AlreadyExists as taken:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(taken))
        return users_pb2.UserResponse(user=stored)

    def GetUsersByType(self, request, context):
        if request.user_type == users_pb2.USER_TYPE_UNSPECIFIED:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "user_type is not set; choose which type to list")
        matches = [user for user in self.directory.all() if user.user_type == request.user_type]
        for user in sorted(matches, key=lambda user: user.id):
            if not context.is_active():  # the client is gone: stop producing
                return
            yield users_pb2.UserResponse(user=user)

    def CountAlreadyUsers(self, request_iterator, context):
        found = set()  # a set: an id sent twice is still one user
        for request in request_iterator:  # each turn waits for the client's next id
            if self.directory.get(request.id) is not None:
                found.add(request.id)
        return users_pb2.UserCountResponse(count=len(found))  # one answer, once the client is done

    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:  # waits for the next id; ends when the client is done
            user = self.directory.get(request.id)
            if user is None:
                context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {request.id}")
            yield users_pb2.UserResponse(user=user)  # sent now, before the next id is read


def problem_with(user):
    """Why `user` cannot be added, in words the caller can act on; None if it can."""
    if user.id < 0:
        return f"id must be positive, or 0 to let the server choose; got {user.id}"
    if not user.nickname.strip():
        return "nickname is empty"
    if "@" not in user.mail_address:
        return f"mail_address {user.mail_address!r} has no '@'"
    if user.user_type == users_pb2.USER_TYPE_UNSPECIFIED:
        return "user_type is not set; choose NORMAL, ADMINISTRATOR, GUEST or DISABLED"
    return None


def add_to_server(server):
    """What server_runner calls: register the service (the runner adds health, reflection, a port)."""
    users_pb2_grpc.add_UserManagerServicer_to_server(UserManager(UserDirectory()), server)
