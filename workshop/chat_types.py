"""The words a chat connection and its view share: Mode, State, Status, Message, and the name rule.

They live apart from both so that the view (workshop/chat_pane.py) draws a state without parsing
text, and a test reads one without importing widgets.
"""
from __future__ import annotations

import enum
import reprlib
from typing import NamedTuple

import grpc

from workshop.servers.chat import MAX_NAME  # the room's rules, written once


class State(enum.Enum):
    """Where a connection is. Why it is there (which error, what it waits for) is Status.detail.

    CONNECTING    the first attempt: no server has answered yet
    JOINING       the stream is open, but the server has not said it took us in (its initial metadata)
    CONNECTED     in the room
    DISCONNECTED  the stream ended or the server went away: it waits for the server, then rejoins
    STOPPED       asking again would get the same answer: the server has no chat service (UNIMPLEMENTED),
                  refuses us (UNAUTHENTICATED: no or a wrong password), or is not the secure room we were
                  given (another fingerprint; or secure, and we came without its password and fingerprint)
    CLOSED        close() was called
    """

    CONNECTING = "connecting"
    JOINING = "joining"
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    STOPPED = "stopped"
    CLOSED = "closed"


class Status(NamedTuple):
    """A state and the reason for it; str() gives the line a person reads: 'stopped: UNIMPLEMENTED: …'."""

    state: State
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.state.value}: {self.detail}" if self.detail else self.state.value


class Mode(enum.Enum):
    """How a connection talks to the room."""

    SUBSCRIBE = "subscribe"  # listens on a Subscribe stream, speaks with unary Posts
    CHAT = "chat"  # one bidirectional Chat stream, both ways


class Message(NamedTuple):
    """One note as it arrived; compares equal to a plain (name, text) tuple."""

    name: str
    text: str


def as_mode(mode: Mode | str) -> Mode:
    """`mode` as a Mode ("subscribe" or "chat" are accepted); ValueError names the choices."""
    try:
        return Mode(mode)
    except ValueError:
        choices = ", ".join(repr(m.value) for m in Mode)
        raise ValueError(f"mode must be one of {choices}, not {reprlib.repr(mode)}") from None


def check_name(name: str) -> str:
    """`name` if the room accepts it (the contract's 1 to MAX_NAME characters); ValueError if not."""
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ValueError(f"a name has 1 to {MAX_NAME} characters; got {reprlib.repr(name)}")
    return name


def check_address(address: str) -> str:
    """`address` if it is host:port (a name or IP, then a port number); ValueError with an example if not."""
    host, _, port = str(address).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"an address is host:port, such as 192.168.1.20:50051; got {reprlib.repr(address)}")
    return address


def describe(error: grpc.RpcError) -> str:
    """An RpcError in words: 'INVALID_ARGUMENT: the message is empty…', however it was raised."""
    try:
        code, details = error.code(), error.details()
    except Exception:  # an RpcError that is not a call
        return type(error).__name__
    if code == grpc.StatusCode.UNAVAILABLE:
        return "the server is not reachable (UNAVAILABLE)"
    return f"{code.name}: {details}" if details else code.name
