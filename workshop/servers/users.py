"""The reference user directory: the four gRPC modes over a SQLite store.

Errors are gRPC status codes with messages a learner can act on, never error fields in the
reply. SQLite (standard library) makes concurrent AddUser calls safe and keeps the store intact
when the process is killed. The store is in memory unless USERS_DB names a file.

The rules live here once, for this server and for the learner's (Exercises 4.1 to 7.1):
`problem_with_id`, `problem_with_new_user` and `problem_with_user_type` say what is refused and
why, `no_user_with` says an id is unknown, and the limits are the constants below, documented
in protos/users.proto. No message quotes more than a short prefix of what the caller sent.
A learner's module subclasses `UserManager`, writes one method, and serves it with
`add_to_server(server, ItsUserManager)`.
"""
from __future__ import annotations

import json
import math
import os
import sqlite3
import sys
import threading
import time
from pathlib import Path

import grpc
from google.protobuf import json_format

from workshop import DATA
from workshop.protos import users_pb2, users_pb2_grpc

MAX_NICKNAME = 32  # characters
MAX_MAIL_ADDRESS = 254  # characters: the longest address that mail servers carry (RFC 5321)
QUOTED = 40  # characters of a caller's text that an error message quotes, at most
DEFAULT_SEED = DATA / "users.json"
UserType = users_pb2.UserType
USER_TYPES = [name for name in UserType.keys() if UserType.Value(name) != UserType.USER_TYPE_UNSPECIFIED]


class AlreadyExists(Exception):
    """The id or nickname of a new user is taken."""


# ---------------------------------------------------------------- the rules and their messages


def quoted(text: str) -> str:
    """`text` in quotes for an error message: whole if short, else its first characters and its length."""
    if len(text) <= QUOTED:
        return repr(text)
    return f"{text[:QUOTED]!r}... ({len(text):,} characters)"


def problem_with_id(user_id: int) -> str | None:
    """Why no user can have `user_id` (GetUser, GetUsersByIds); None if one may."""
    if user_id <= 0:
        return f"id must be a positive number; got {user_id}"
    return None


def no_user_with(user_id: int) -> str:
    """The NOT_FOUND message for an id that no user has."""
    return f"no user has id {user_id}"


def problem_with_user_type(user_type: int) -> str | None:
    """Why `user_type` names no type of user (unset, or a number the contract does not define)."""
    choose = "choose " + ", ".join(USER_TYPES[:-1]) + " or " + USER_TYPES[-1]
    if user_type == UserType.USER_TYPE_UNSPECIFIED:
        return f"user_type is not set; {choose}"
    if user_type not in UserType.values():
        return f"{user_type} is not a user type; {choose}"
    return None


def problem_with_new_user(user: users_pb2.User) -> str | None:
    """Why AddUser must refuse `user`, naming the field; None if it can be stored."""
    if user.id < 0:
        return f"id must be positive, or 0 to let the server choose one; got {user.id}"
    if not user.nickname.strip():
        return f"nickname is empty; give the user a name of 1 to {MAX_NICKNAME} characters"
    if len(user.nickname) > MAX_NICKNAME:
        return f"nickname is {len(user.nickname):,} characters long; the limit is {MAX_NICKNAME}"
    if len(user.mail_address) > MAX_MAIL_ADDRESS:
        return f"mail_address is {len(user.mail_address):,} characters long; the limit is {MAX_MAIL_ADDRESS}"
    name, at, domain = user.mail_address.rpartition("@")
    if not (at and name and domain):
        return f"mail_address {quoted(user.mail_address)} is not an address of the form name@domain"
    return problem_with_user_type(user.user_type)


# ---------------------------------------------------------------- the store


def load_seed(path: str | Path) -> list[users_pb2.User]:
    """The users in a seed file: a JSON list like data/users.json (user_type by name or number)."""
    try:
        entries = json.loads(Path(path).read_text())
        return [json_format.ParseDict(entry, users_pb2.User()) for entry in entries]
    except (OSError, ValueError, TypeError, json_format.ParseError) as error:
        raise ValueError(f"cannot read the users seed {path}: {error}") from None


class UserDirectory:
    """Users in one SQLite database, seeded when it is empty.

    The seed is the JSON file `seed`, else the one env USERS_SEED names, else data/users.json.
    It is taken as it is, unchecked: checkers use that to plant users that AddUser would refuse.
    `add` stores what it is given; callers check it with `problem_with_new_user` first.
    """

    def __init__(self, path: str = ":memory:", seed: str | Path | None = None):
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()  # one connection, one statement at a time
        with self._lock:
            if path != ":memory:":
                self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, nickname TEXT NOT NULL UNIQUE,"
                " mail_address TEXT NOT NULL, user_type INTEGER NOT NULL)")
            if self._db.execute("SELECT COUNT(*) FROM users").fetchone()[0] == 0:
                users = load_seed(seed or os.environ.get("USERS_SEED") or DEFAULT_SEED)
                self._db.executemany("INSERT INTO users VALUES (?, ?, ?, ?)", [
                    (u.id, u.nickname, u.mail_address, u.user_type) for u in users])

    @staticmethod
    def _user(row) -> users_pb2.User | None:
        return users_pb2.User(id=row[0], nickname=row[1], mail_address=row[2], user_type=row[3]) if row else None

    def get(self, user_id: int) -> users_pb2.User | None:
        """The user with this id, or None."""
        with self._lock:
            row = self._db.execute("SELECT * FROM users WHERE id = ?", (user_id,)).fetchone()
        return self._user(row)

    def add(self, user: users_pb2.User) -> users_pb2.User:
        """Store `user` (id 0: the next free id) and return it as stored; AlreadyExists if taken."""
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
            return f"a user with id {user.id} already exists ({quoted(by_id[0])})"
        owner = self._db.execute("SELECT id FROM users WHERE nickname = ?", (user.nickname,)).fetchone()
        return f"the nickname {quoted(user.nickname)} is taken (by user {owner[0]})"

    def of_type(self, user_type: int) -> list[users_pb2.User]:
        """Every user of `user_type`, in id order."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM users WHERE user_type = ? ORDER BY id", (user_type,)).fetchall()
        return [self._user(row) for row in rows]


LOOKUP_NOTE = "directory: of_type("  # how a noted lookup starts its line in the log


class SlowDirectory(UserDirectory):
    """A directory whose every lookup takes `seconds` longer, like a database far away: notebook 09
    shows with it what one blocking call does to an event loop, and its checker makes lookups slow.

    With a `tick`, each lookup ends on the next multiple of `tick` seconds of the process's clock:
    lookups begun together end at the same moment, so calls that share what they should not (state
    on self) surely run into each other."""

    def __init__(self, path: str = ":memory:", seconds: float = 0.0, tick: float = 0.0, noted: bool = False):
        super().__init__(path)
        self.seconds, self.tick, self.noted = seconds, tick, noted  # noted: each lookup gets a line in the log

    def _wait(self) -> None:
        end = time.monotonic() + self.seconds
        if self.tick:
            end = math.ceil(end / self.tick) * self.tick
        time.sleep(max(0.0, end - time.monotonic()))

    def get(self, user_id: int) -> users_pb2.User | None:
        self._wait()
        return super().get(user_id)

    def of_type(self, user_type: int) -> list[users_pb2.User]:
        if self.noted:
            print(f"{LOOKUP_NOTE}{user_type})", file=sys.stderr, flush=True)
        self._wait()
        return super().of_type(user_type)


def directory_from_env() -> UserDirectory:
    """The directory a server module gets from server_runner's environment: USERS_DB (a SQLite file;
    memory by default), USERS_SEED (its first users), USERS_LOOKUP_SECONDS (each lookup that much slower),
    USERS_LOOKUP_TICK (slow lookups end on a multiple of it: see SlowDirectory), USERS_LOOKUP_NOTED
    (a slow directory writes a line to the server's log for each of_type it is asked)."""
    path = os.environ.get("USERS_DB", ":memory:")
    seconds = float(os.environ.get("USERS_LOOKUP_SECONDS") or 0)
    tick = float(os.environ.get("USERS_LOOKUP_TICK") or 0)
    noted = os.environ.get("USERS_LOOKUP_NOTED") == "1"
    return SlowDirectory(path, seconds, tick, noted) if seconds > 0 else UserDirectory(path)


# ---------------------------------------------------------------- the service


class UserManager(users_pb2_grpc.UserManagerServicer):
    """The UserManager service from protos/users.proto."""

    def __init__(self, directory: UserDirectory):
        self.directory = directory

    def _find(self, user_id: int, context) -> users_pb2.User:
        problem = problem_with_id(user_id)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        user = self.directory.get(user_id)
        if user is None:
            context.abort(grpc.StatusCode.NOT_FOUND, no_user_with(user_id))
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
        found = set()  # only ids of existing users: memory does not grow with the stream
        for request in request_iterator:
            if request.id not in found and self.directory.get(request.id):
                found.add(request.id)
        return users_pb2.UserCountResponse(count=len(found))

    def GetUsersByType(self, request, context):
        problem = problem_with_user_type(request.user_type)
        if problem:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, problem)
        for user in self.directory.of_type(request.user_type):
            if not context.is_active():  # the client went away: stop producing
                return
            yield users_pb2.UserResponse(user=user)

    def GetUsersByIds(self, request_iterator, context):
        for request in request_iterator:  # each answer leaves before the next id is read
            yield users_pb2.UserResponse(user=self._find(request.id, context))


def add_to_server(server, servicer_class: type[UserManager] = UserManager) -> None:
    """What server_runner calls: the directory its environment asks for, served by `servicer_class`."""
    users_pb2_grpc.add_UserManagerServicer_to_server(servicer_class(directory_from_env()), server)
