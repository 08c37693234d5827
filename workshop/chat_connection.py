"""One person's connection to a chat room, without any widgets: join, listen, speak, rejoin.

A ChatPane (workshop/chat_pane.py) draws one; a test or a script uses it as it is:

    room = ChatConnection(server.address, "alice", on_note=print)   # Subscribe to listen, Post to speak
    room.wait_until(lambda c: c.connected)
    room.send("hello")            # None when it went out, else the reason in words
    room.close()

It reads the room's stream on its own thread and tells two listeners what happened: on_note(Message)
for every note, on_status(Status) for every change of state. Both run on that thread, so the
connection catches whatever they raise (a widget that was closed raises, so does a closed channel:
ValueError, not RpcError); an exception there would otherwise end the thread, and the room with it,
in silence. What they raised is kept in `listener_errors`.

Its status is a State (workshop/chat_types.py says what each means) with a separate detail string.
Waiting for a server sleeps in gRPC's channel-ready future (workshop/chat_channel.py: no busy loop),
and a rejoin asks for the notes it may have missed, dropping the ones it already has.
"""
from __future__ import annotations

import atexit
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable

import grpc

from workshop import room as secure_room
from workshop.chat_channel import RoomChannel, secure_room_channel
from workshop.chat_types import Message, Mode, State, Status, as_mode, check_address, check_name, describe
from workshop.protos import chat_pb2, chat_pb2_grpc
from workshop.servers.chat import HISTORY, problem_with_note  # the room's rules, written once

KEPT = 1_000  # notes kept in .messages, and numbered notes remembered to drop a replay's repeats
POST_TIMEOUT = 5.0
FINAL_CODES = {grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED}
REACH_TIMEOUT = 3.0  # seconds between updates of the detail while no server answers
FIRST_RETRY, LAST_RETRY = 0.5, 8.0  # seconds between attempts to rejoin, doubling
MAX_DETAIL = 300  # a server's error text is shown, but never an unbounded one

__all__ = ["ChatConnection", "Message", "Mode", "State", "Status"]


_open: weakref.WeakSet[ChatConnection] = weakref.WeakSet()


class ChatConnection:
    """One name in one room, over one channel, read by one background thread."""

    def __init__(self, address, name: str, *, mode: Mode | str = Mode.SUBSCRIBE, replay: int = 20,
                 password: str | None = None, fingerprint: str | None = None,
                 on_note: Callable[[Message], object] | None = None,
                 on_status: Callable[[Status], object] | None = None):
        """Join the room at `address` (or a RunningServer) as `name`, at once.

        `replay` asks a Subscribe's first join for that many recent notes (the Chat RPC has none).
        A secure room (`server_runner.py room`) needs its `password` and `fingerprint`, as its
        instructor's screen shows them. The listeners are told from the connection's thread,
        starting with the first status.
        """
        self.mode, self.name = as_mode(mode), check_name(name)
        check_secrets(password, fingerprint)
        self._password, self._fingerprint = password, fingerprint
        self.address = check_address(getattr(address, "address", address))
        self.replay = replay
        self.messages: list[Message] = []
        self.listener_errors: deque[str] = deque(maxlen=10)  # what the listeners raised, newest last
        self._on_note, self._on_status = on_note, on_status
        self._status = Status(State.CONNECTING)
        self._changed = threading.Condition()  # notified on every note and every change of state
        self._closed = threading.Event()
        self._seen: set[tuple] = set()
        self._seen_order: deque[tuple] = deque()
        self._call = None
        self._outbox: queue.SimpleQueue | None = None  # the open Chat stream's notes to send
        self._joined_before = False
        self._reached_room = False
        self._listening = True  # until the thread ends
        self._room: RoomChannel | None = None  # a secure room's channel opens once its certificate is checked
        self._stub: chat_pb2_grpc.ChatServerStub | None = None
        self._asked_about_tls = False
        if fingerprint is None:
            self._use(RoomChannel(self.address))
        self.thread = threading.Thread(target=self._receive_forever, name=f"chat-{self.mode.value}", daemon=True)
        _open.add(self)
        self.thread.start()

    def __repr__(self) -> str:
        return f"ChatConnection({self.name!r}, mode={self.mode.value!r}, {self.status})"

    # ------------------------------------------------------------------ what it is doing

    @property
    def status(self) -> Status:
        return self._status

    @property
    def connected(self) -> bool:
        """True while the server has us in the room."""
        return self._status.state is State.CONNECTED

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def wait_until(self, condition: Callable[[ChatConnection], bool], timeout: float = 5.0) -> bool:
        """Wait until `condition(connection)` holds, checked on every note and change of state.

        False on timeout, and at once when the thread has ended (stopped or closed: nothing will change).
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._listening:
                    return False
                self._changed.wait(remaining)
        return True

    # ------------------------------------------------------------------ speaking

    def send(self, text: str) -> str | None:
        """Say `text` in the room. None when it went out; otherwise why not, in words. Never raises."""
        try:
            if self._closed.is_set():
                return "not sent: the connection is closed"
            note = chat_pb2.Note(name=self.name, message=text)
            problem = problem_with_note(note)
            if problem:  # the server would refuse it: say why before a round trip (and a Chat stream's end)
                return f"not sent: {problem}"
            if self.mode is Mode.SUBSCRIBE:
                if self._stub is None:
                    return f"not sent: not connected to the room ({self.status})"
                self._stub.Post(note, timeout=POST_TIMEOUT)
                return None
            # A connection made a moment ago may still be opening its stream: give it the time a Post gets.
            # (Sent while joining, a note waits in the stream until the server reads it.)
            if not self.wait_until(lambda c: c._outbox is not None, POST_TIMEOUT):
                return f"not sent: not connected to the room ({self.status})"
            with self._changed:  # the stream may have ended since: its outbox is then swapped out
                outbox = self._outbox
                if outbox is not None:  # still the current stream's: the put cannot race its end
                    outbox.put(note)
            return None if outbox is not None else "not sent: the stream ended just now; try again"
        except grpc.RpcError as error:
            return f"not sent: {describe(error)}"[:MAX_DETAIL]
        except Exception as error:  # a closed channel raises ValueError; report everything
            return f"not sent: {type(error).__name__}: {error}"[:MAX_DETAIL]

    # ------------------------------------------------------------------ listening (the thread)

    def _receive_forever(self) -> None:
        """Join, read notes until the stream ends, wait, rejoin; until closed or stopped."""
        self._tell(self._on_status, self._status)
        pause = FIRST_RETRY
        while not self._closed.is_set():
            self._reached_room = False
            try:
                if not self._wait_until_reachable():
                    break
                self._read_one_stream()
                if self._closed.is_set():
                    break
                self._set(State.DISCONNECTED, "the server ended the stream; rejoining")
            except grpc.RpcError as error:
                if self._closed.is_set():
                    break
                if error.code() in FINAL_CODES:  # asking again will not change the answer
                    self._set(State.STOPPED, describe(error))
                    break
                self._set(State.DISCONNECTED, f"{describe(error)}; retrying")
            except secure_room.NotTheRoom as error:
                self._set(State.STOPPED, str(error)[:MAX_DETAIL])
                break
            except Exception as error:  # ValueError once the channel is closed, and any bug
                if self._closed.is_set():
                    break
                self._set(State.DISCONNECTED, f"{type(error).__name__}: {error}; retrying")
            finally:
                self._end_stream()
            if self._reached_room:  # this outage starts afresh
                pause = FIRST_RETRY
            if self._closed.wait(pause):  # sleeps; close() wakes it at once
                break
            pause = min(pause * 2, LAST_RETRY)
        with self._changed:
            self._listening = False
            self._changed.notify_all()  # whoever waits: nothing will come now

    def _wait_until_reachable(self) -> bool:
        """Block until a server answers at the address; False if closed meanwhile. NotTheRoom when the
        server is not the room asked for (another fingerprint; secure, and asked without its secrets)."""
        if self._room is None and not self._open_secure_room():
            return False
        while (reached := self._room.wait_until_ready(REACH_TIMEOUT)) is False:
            if self._fingerprint is None and not self._asked_about_tls:
                self._asked_about_tls = True  # a secure room hangs up on a plain channel: say why, once
                if _speaks_tls(self.address):
                    raise secure_room.NotTheRoom(
                        f"the room at {self.address} is a secure one: paste the whole line the instructor shows, "
                        "with its password= and fingerprint=")
            if not self._joined_before:
                self._set(State.CONNECTING, f"no answer from {self.address} yet")
            elif self._status.state is not State.DISCONNECTED:
                self._set(State.DISCONNECTED, "waiting for the server to come back")
        return bool(reached)

    def _open_secure_room(self) -> bool:
        """Fetch and check the room's certificate, then open the channel; False if closed meanwhile."""
        pause = FIRST_RETRY
        while True:
            try:
                channel = secure_room_channel(self.address, self._password, self._fingerprint)
            except OSError:  # no answer yet (an SSLError is a NotTheRoom)
                self._set(State.CONNECTING, f"no answer from {self.address} yet")
                if self._closed.wait(pause):
                    return False
                pause = min(pause * 2, LAST_RETRY)
                continue
            with self._changed:  # close() reads _room under this lock: it closes this channel, or none is kept
                if self._closed.is_set():
                    channel.close()
                    return False
                self._use(channel)
            return True

    def _use(self, channel: RoomChannel) -> None:
        self._room, self._stub = channel, chat_pb2_grpc.ChatServerStub(channel.channel)

    def _open_stream(self):
        if self.mode is Mode.CHAT:
            outbox: queue.SimpleQueue = queue.SimpleQueue()

            def notes_to_send():
                while (note := outbox.get()) is not None:  # sleeps until send() or the stream's end
                    yield note

            call = self._stub.Chat(notes_to_send())
            with self._changed:
                self._outbox = outbox
                self._changed.notify_all()  # send() may be waiting for a stream to speak on
            return call
        if not self._joined_before:
            replay = self.replay
        elif self.messages and not self._seen_order:
            replay = 0  # this server does not number its notes, so a replay could not be de-duplicated
        else:
            replay = HISTORY  # what was said while we were away (the repeats are dropped)
        return self._stub.Subscribe(chat_pb2.SubscribeRequest(name=self.name, replay=max(0, replay)))

    def _read_one_stream(self) -> None:
        call = self._open_stream()
        self._joined_before = True
        with self._changed:
            self._call = call
        if self._closed.is_set():  # close() may have looked before the call was there
            call.cancel()
            return
        self._set(State.JOINING)
        call.initial_metadata()  # blocks until the server says we are in the room, a note comes, or the end
        if call.is_active():  # not ended: really in the room (an error is raised by the loop below)
            self._reached_room = True
            self._set(State.CONNECTED)
        for note in call:  # blocks until the next note; ends, or raises, when the call does
            self._receive(note)

    def _end_stream(self) -> None:
        with self._changed:  # send() puts under this lock, so no note lands in a dead outbox
            self._call = None
            outbox, self._outbox = self._outbox, None
        if outbox is not None:
            outbox.put(None)  # ends the request stream of a Chat call

    def _receive(self, note: chat_pb2.Note) -> None:
        if note.sequence > 0:  # numbered notes: drop the ones a rejoin's replay repeats
            key = (note.sequence, note.sent_at.seconds, note.sent_at.nanos, note.name)
            if key in self._seen:
                return
            self._seen.add(key)
            self._seen_order.append(key)
            if len(self._seen_order) > KEPT:
                self._seen.discard(self._seen_order.popleft())
        message = Message(note.name, note.message)
        with self._changed:
            self.messages.append(message)
            if len(self.messages) > KEPT:
                del self.messages[:-KEPT]
            self._changed.notify_all()
        self._tell(self._on_note, message)

    def _set(self, state: State, detail: str = "") -> None:
        status = Status(state, detail[:MAX_DETAIL])
        with self._changed:
            if status == self._status or self._status.state is State.CLOSED:
                return
            self._status = status
            self._changed.notify_all()
        self._tell(self._on_status, status)

    def _tell(self, listener: Callable | None, value) -> None:
        """Call a listener; whatever it raises is kept, never let out (it would end the thread)."""
        if listener is None:
            return
        try:
            listener(value)
        except Exception as error:
            self.listener_errors.append(f"{type(error).__name__}: {error}"[:MAX_DETAIL])

    # ------------------------------------------------------------------ closing

    def close(self, timeout: float = 5.0) -> None:
        """Leave the room: cancel the stream, end the thread, close the channel. Twice is fine."""
        with self._changed:
            if self._closed.is_set():
                return
            self._closed.set()
            call, outbox, channel = self._call, self._outbox, self._room
        try:
            if call is not None:
                call.cancel()  # wakes the thread, whether it waits for metadata or for a note
            if outbox is not None:
                outbox.put(None)  # ends a Chat call's request stream
        finally:
            if channel is not None:
                channel.close()  # ends a wait for the server at once; the channel closes a little later
        if self.thread is not threading.current_thread():  # a listener may close its own connection
            self.thread.join(timeout)
        self._set(State.CLOSED)
        _open.discard(self)

    def __enter__(self) -> ChatConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def check_secrets(password: str | None, fingerprint: str | None) -> None:
    """ValueError, in words, when a secure room's password or fingerprint cannot be right."""
    if password is not None and fingerprint is None:
        raise ValueError("a password goes with the room's fingerprint (it proves the server is the room's, before "
                         "the password is sent): paste the whole line, password= and fingerprint=")
    if password is not None and (problem := secure_room.problem_with_password(password)):
        raise ValueError(f"password: {problem}")
    if fingerprint is not None and (problem := secure_room.problem_with_fingerprint(fingerprint)):
        raise ValueError(f"fingerprint: {problem}")


def _speaks_tls(address: str) -> bool:
    try:
        secure_room.fetch_certificate(address, timeout=1.0)
        return True
    except OSError:
        return False


@atexit.register
def _close_all() -> None:
    """At exit, leave every room still joined, so no stream is cut under a running thread."""
    for connection in list(_open):
        connection.close(timeout=1.0)
