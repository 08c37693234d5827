"""The reference user directory: the four gRPC modes over a SQLite store.

Errors are gRPC status codes with messages a learner can act on, never error fields in the
reply. SQLite (standard library) makes concurrent AddUser calls safe and keeps the store intact
when the process is killed. The store is in memory unless USERS_DB names a file.
"""
from __future__ import annotations

import json
import os
import sqlite3
import threading

import grpc

from workshop import DATA
from workshop.protos import users_pb2, users_pb2_grpc

MAX_NICKNAME = 32
UserType = users_pb2.UserType


class AlreadyExists(Exception):
    """The id or nickname of a new user is taken."""


class UserDirectory:
    """Users in one SQLite database, seeded from data/users.json when it is empty."""

    def __init__(self, path: str = ":memory:"):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()  # one connection, one statement at a time
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, nickname TEXT NOT NULL UNIQUE,"
                " mail_address TEXT NOT NULL, user_type INTEGER NOT NULL)")
            if self._db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0:
                seed = json.loads((DATA / "users.json").read_text())
                self._db.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", [
                    (u["id"], u["nickname"], u["mail_address"], UserType.Value(u["user_type"])) for u in seed])

    @staticmethod
    def _user(row) -> users_pb2.User | None:
        return users_pb2.User(id=row[0], nickname=row[1], mail_address=row[2], user_type=row[3]) if row else None

    def get(self, user_id: int) -> users_pb2.User | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return self._user(row)

    def add(self, user: users_pb2.User) -> users_pb2.User:
        """Store `user` (id 0: the next free id) and return it as stored."""
        with self._lock:
            try:
                cursor = self._db.execute("INSERT INTO users VALUES (?, ?, ?, ?)", (
                    user.id or None, user.nickname, user.mail_address, user.user_type))
            except sqlite3.IntegrityError:
                raise AlreadyExists(self._conflict(user)) from None
            row = self._db.execute("SELECT * FROM users WHERE id = ?", (cursor.lastrowid,)).fetchone()
        return self._user(row)

    def _conflict(self, user) -> str:
        by_id = self._db.execute("SELECT nickname FROM users WHERE id = ?", (user.id,)).fetchone()
        if user.id and by_id:
            return f"a user with id {user.id} already exists ({by_id[0]})"
        owner = self._db.execute("SELECT id FROM users WHERE nickname = ?", (user.nickname,)).fetchone()
        return f"the nickname {user.nickname!r} is taken (by user {owner[0]})"

    def of_type(self, user_type: int) -> list[users_pb2.User]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM users WHERE user_type = ? ORDER BY id", (user_type,)).fetchall()
        return [self._user(row) for row in rows]


def problem_with_new_user(user: users_pb2.User) -> str | None:
    """Why `user` cannot be added, in words a learner understands; None if it can."""
    if user.id < 0:
        return f"id must be positive, or 0 to let the server choose one; got {user.id}"
    if not user.nickname.strip():
        return f"nickname is empty; give the user a name of 1 to {MAX_NICKNAME} characters"
    if len(user.nickname) > MAX_NICKNAME:
        return f"nickname is {len(user.nickname)} characters long; the limit is {MAX_NICKNAME}"
    if "@" not in user.mail_address:
        return f"mail_address {user.mail_address!r} is not an e-mail address (it has no '@')"
    if user.user_type not in UserType.values() or user.user_type == UserType.USER_TYPE_UNSPECIFIED:
        return "user_type is not set; choose USER_TYPE_NORMAL, ADMINISTRATOR, GUEST or DISABLED"
    return None


class UserManager(users_pb2_grpc.UserManagerServicer):
    """The UserManager service from protos/users.proto."""

    def __init__(self, directory: UserDirectory):
        self.directory = directory

    def _find(self, user_id: int, context) -> users_pb2.User:
        if user_id <= 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"id must be a positive number; got {user_id}")
        user = self.directory.get(user_id)
        if user is None:
            context.abort(grpc.StatusCode.NOT_FOUND, f"no user has id {user_id}")
        return user

    def GetUser(self, request, context):
        return users_pb2.UserResponse(user=self._find(request.id, context))

    def AddUser(self, request, context):
        problem = problem_with_new_user(request)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        try:
            return users_pb2.UserResponse(user=self.directory.add(request))
        except AlreadyExists as conflict:
            context.abort(grpc.StatusCode.ALREADY_EXISTS, str(conflict))

    def CountAlreadyUsers(self, request_iterator, context):
        found = {request.id for request in request_iterator if self.directory.get(request.id)}
        return users_pb2.UserCountResponse(count=len(found))

    def GetUsersByType(self, request, context):
        if request.user_type == UserType.USER_TYPE_UNSPECIFIED:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "user_type is not set; choose which type to list")
        for user in self.directory.of_type(request.user_type):
            if not context.is_active():  # the client went away: stop producing
                return
            yield users_pb2.UserResponse(user=user)

    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:  # each answer leaves before the next id is read
            yield users_pb2.UserResponse(user=self._find(request.id, context))


def add_to_server(server) -> None:
    directory = UserDirectory(os.environ.get("USERS_DB", ":memory:"))
    users_pb2_grpc.add_UserManagerServicer_to_server(UserManager(directory), server)
