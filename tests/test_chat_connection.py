"""The chat connection alone, without widgets: real servers over loopback, assertions on what listeners hear."""
import random
import subprocess
import sys
import threading
import time
import uuid

import grpc
import pytest

import server_runner
from workshop import ROOT
from workshop.chat_channel import WATCHER_GRACE
from workshop.chat_connection import ChatConnection
from workshop.chat_types import Message, Mode, State, Status
from workshop.protos import chat_pb2, chat_pb2_grpc

WAIT = 10.0

ODD_ROOM = '''"""The reference room with two quirks a client must survive.

Post refuses any note that mentions spam, with INVALID_ARGUMENT. A listener's first Subscribe
stream ends, from the server's side, right after its first live note; later streams are normal.
"""
import grpc

from workshop.protos import chat_pb2_grpc
from workshop.servers.chat import ChatRoom, ChatServer

ASYNCIO = True


class OddServer(ChatServer):
    def __init__(self, room):
        super().__init__(room)
        self.streams = set()

    async def Post(self, request, context):
        if "spam" in request.message:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "no spam in this room")
        return await super().Post(request, context)

    async def Subscribe(self, request, context):
        first = request.name not in self.streams
        self.streams.add(request.name)
        async for note in super().Subscribe(request, context):
            yield note
            if first:
                return


def add_to_server(server):
    chat_pb2_grpc.add_ChatServerServicer_to_server(OddServer(ChatRoom()), server)
'''

SLOW_ROOM = '''"""A room that lets a subscriber in (initial metadata) only a second after its stream opened."""
import threading

from workshop.protos import chat_pb2_grpc


class SlowRoom(chat_pb2_grpc.ChatServerServicer):
    def Subscribe(self, request, context):
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait(1.0)
        context.send_initial_metadata(())
        ended.wait(60)
        yield from ()


def add_to_server(server):
    chat_pb2_grpc.add_ChatServerServicer_to_server(SlowRoom(), server)
'''


def unique(text: str) -> str:
    """Tests share one room: a unique suffix tells this test's notes apart."""
    return f"{text} [{uuid.uuid4().hex[:8]}]"


class Heard:
    """A connection's listeners: every note and status, with the time each arrived."""

    def __init__(self):
        self.notes: list[Message] = []
        self.statuses: list[tuple[float, Status]] = []

    def note(self, message: Message) -> None:
        self.notes.append(message)

    def status(self, status: Status) -> None:
        self.statuses.append((time.monotonic(), status))

    def states(self) -> list[State]:
        """The states in the order they came, each once in a row (a new detail is not a new state)."""
        states = [status.state for _, status in self.statuses]
        return [state for i, state in enumerate(states) if i == 0 or states[i - 1] is not state]

    def when(self, state: State) -> float:
        return next(at for at, status in self.statuses if status.state is state)


@pytest.fixture
def connect():
    """connect(address, name, ...) → (connection, what its listeners heard); all are closed after the test."""
    made = []

    def make(address, name, **kwargs):
        heard = Heard()
        connection = ChatConnection(address, name, on_note=heard.note, on_status=heard.status, **kwargs)
        made.append(connection)
        return connection, heard

    yield make
    for connection in made:
        connection.close()
    assert not [c.name for c in made if c.thread.is_alive()], "a connection's thread outlived close()"


@pytest.fixture
def odd_room(tmp_path):
    (tmp_path / "odd_room.py").write_text(ODD_ROOM)
    with server_runner.start(str(tmp_path / "odd_room.py")) as server:
        yield server


def post(address: str, name: str, text: str) -> None:
    with grpc.insecure_channel(address) as channel:
        chat_pb2_grpc.ChatServerStub(channel).Post(chat_pb2.Note(name=name, message=text), timeout=5)


def test_status_goes_from_connecting_through_joining_to_connected(chat_server, connect):
    for mode in Mode:
        connection, heard = connect(chat_server.address, f"status-{mode.value}", mode=mode)
        assert connection.wait_until(lambda c: c.connected, WAIT), connection.status
        assert heard.states() == [State.CONNECTING, State.JOINING, State.CONNECTED]
        assert connection.status == Status(State.CONNECTED) and str(connection.status) == "connected"


def test_joining_lasts_until_the_server_sends_its_initial_metadata(tmp_path, connect):
    (tmp_path / "slow_room.py").write_text(SLOW_ROOM)
    with server_runner.start(str(tmp_path / "slow_room.py")) as server:
        connection, heard = connect(server.address, "alice")
        assert connection.wait_until(lambda c: c.connected, WAIT), connection.status
        joining_for = heard.when(State.CONNECTED) - heard.when(State.JOINING)
        assert joining_for >= 0.9, f"connected {joining_for:.2f} s after joining; the server waited 1 s"
        connection.close()


def test_notes_reach_listeners_in_both_modes(chat_server, connect):
    carol, carol_heard = connect(chat_server.address, "carol", mode="chat")
    dave, dave_heard = connect(chat_server.address, "dave", replay=0)
    assert carol.wait_until(lambda c: c.connected, WAIT) and dave.wait_until(lambda c: c.connected, WAIT)
    said = [("carol", unique("over the Chat stream")), ("dave", unique("with a Post"))]
    assert carol.send(said[0][1]) is None
    assert dave.wait_until(lambda c: said[0] in c.messages, WAIT)
    assert dave.send(said[1][1]) is None
    for connection, heard in ((carol, carol_heard), (dave, dave_heard)):
        assert connection.wait_until(lambda c: all(note in c.messages for note in said), WAIT), connection.name
        assert [note for note in heard.notes if note in said] == said, "on_note hears each note once, in order"


def test_reconnects_after_the_server_restarts_on_the_same_port(connect):
    server = server_runner.start("chat")
    try:
        bob, heard = connect(server.address, "bob")
        assert bob.wait_until(lambda c: c.connected, WAIT)
        port = server.port
        server.stop()
        assert bob.wait_until(lambda c: c.status.state is State.DISCONNECTED, WAIT), bob.status
        assert bob.status.detail, "a disconnected connection says why"
        server = server_runner.start("chat", port=port)
        assert bob.wait_until(lambda c: c.connected, 20), bob.status
        assert heard.states()[-3:] == [State.DISCONNECTED, State.JOINING, State.CONNECTED]
        text = unique("welcome back")
        post(server.address, "eve", text)
        assert bob.wait_until(lambda c: ("eve", text) in c.messages, WAIT), bob.status
    finally:
        server.stop()


def test_a_rejoin_brings_what_was_missed_and_drops_what_was_seen(odd_room, connect):
    alice, heard = connect(odd_room.address, "alice", replay=0)
    assert alice.wait_until(lambda c: c.connected, WAIT)
    post(odd_room.address, "eve", "first")  # the server ends alice's first stream after this note
    post(odd_room.address, "eve", "while you were away")  # so she can only get this one by replay
    assert alice.wait_until(lambda c: len(c.messages) >= 2, WAIT), alice.status
    assert State.DISCONNECTED in heard.states()
    assert alice.wait_until(lambda c: c.connected, WAIT)
    post(odd_room.address, "eve", "live again")
    assert alice.wait_until(lambda c: len(c.messages) >= 3, WAIT)
    assert alice.messages == [("eve", "first"), ("eve", "while you were away"), ("eve", "live again")]


def test_a_refused_post_gives_the_servers_reason_and_the_connection_stays(odd_room, connect):
    alice, heard = connect(odd_room.address, "alice", replay=0)
    assert alice.wait_until(lambda c: c.connected, WAIT)
    assert alice.send("buy spam now") == "not sent: INVALID_ARGUMENT: no spam in this room"
    assert alice.thread.is_alive() and not alice.listener_errors
    assert alice.send("a fair note") is None
    assert alice.wait_until(lambda c: ("alice", "a fair note") in c.messages, WAIT)


def test_notes_the_room_would_refuse_are_not_sent(chat_server, connect):
    carol, _ = connect(chat_server.address, "carol", mode="chat")
    assert carol.wait_until(lambda c: c.connected, WAIT)
    assert carol.send("  ") == "not sent: the message is empty; there is nothing to send"
    assert "20,001" in carol.send("x" * 20_001)
    assert carol.connected, "a refused note must not end the Chat stream"


def test_a_chat_note_is_refused_when_the_stream_ends_between_wait_and_send(connect):
    with server_runner.start("chat") as gone:
        address = gone.address
    carol, _ = connect(address, "carol", mode="chat")  # no server: no stream, so no outbox
    carol.wait_until = lambda condition, timeout=5.0: True  # as if a stream had been open a moment ago
    assert carol.send("still there?") == "not sent: the stream ended just now; try again"


def test_a_server_without_the_chat_service_stops_the_connection(users_server, connect):
    connection, heard = connect(users_server.address, "alice")
    connection.thread.join(WAIT)
    assert not connection.thread.is_alive(), "waiting will not write the method: the thread should end"
    assert connection.status.state is State.STOPPED
    assert connection.status.detail.startswith("UNIMPLEMENTED")
    started = time.monotonic()
    assert connection.wait_until(lambda c: c.messages, timeout=30) is False
    assert time.monotonic() - started < 1, "nothing can change now: wait_until returns at once"


def test_listeners_that_raise_do_not_stop_the_receiver(chat_server):
    def broken(_value):
        raise RuntimeError("a listener with a bug")

    connection = ChatConnection(chat_server.address, "frank", on_note=broken, on_status=broken)
    try:
        assert connection.wait_until(lambda c: c.connected, WAIT), connection.status
        texts = [unique("one"), unique("two")]
        for text in texts:
            assert connection.send(text) is None
        assert connection.wait_until(lambda c: all(("frank", t) in c.messages for t in texts), WAIT)
        assert connection.thread.is_alive()
        assert "RuntimeError: a listener with a bug" in connection.listener_errors
    finally:
        connection.close()
    assert not connection.thread.is_alive()


def test_a_listener_may_close_its_own_connection(chat_server):
    closing = []

    def close_on_first_note(_message):
        closing.append(connection)
        connection.close()

    connection = ChatConnection(chat_server.address, "gina", replay=0, on_note=close_on_first_note)
    try:
        assert connection.wait_until(lambda c: c.connected, WAIT)
        assert connection.send(unique("bye")) is None
        connection.thread.join(WAIT)
        assert closing and not connection.thread.is_alive() and connection.status.state is State.CLOSED
    finally:
        connection.close()


def test_close_is_idempotent_and_ends_the_thread(chat_server, connect):
    for mode in Mode:
        connection, heard = connect(chat_server.address, "henry", mode=mode)
        assert connection.wait_until(lambda c: c.connected, WAIT)
        connection.close()
        connection.close()
        assert not connection.thread.is_alive() and connection.closed
        assert [status for _, status in heard.statuses].count(Status(State.CLOSED)) == 1
        assert heard.statuses[-1][1] == Status(State.CLOSED)
        assert connection.send("still there?") == "not sent: the connection is closed"


def test_closing_at_any_moment_is_quick_and_leaves_no_error_in_any_thread(chat_server, monkeypatch):
    with server_runner.start("chat") as gone:
        address = gone.address
    escaped = []
    monkeypatch.setattr(threading, "excepthook", escaped.append)  # gRPC's own threads included
    # Most close within milliseconds of opening, while gRPC still watches the channel: where the races are.
    addresses = [chat_server.address] * 150 + [address] * 10
    for n, target in enumerate(addresses):
        connection = ChatConnection(target, f"c{n}", replay=0)
        time.sleep(random.choice([0, 0.001, 0.002, 0.005]))
        started = time.monotonic()
        connection.close()
        assert time.monotonic() - started < 2, "close() waits for nothing that is not there"
        assert not connection.thread.is_alive()
    time.sleep(WATCHER_GRACE + 0.5)  # the channels close within WATCHER_GRACE; a watcher would fail then
    assert not escaped, [f"{e.exc_type.__name__}: {e.exc_value}" for e in escaped]


def test_bad_arguments_are_refused_at_once_with_a_bounded_message():
    with pytest.raises(ValueError, match="mode must be one of 'subscribe', 'chat'"):
        ChatConnection("127.0.0.1:1", "alice", mode="shout")
    for name in ("", "   ", "n" * 10_000):
        with pytest.raises(ValueError, match="1 to 32 characters") as refused:
            ChatConnection("127.0.0.1:1", name)
        assert len(str(refused.value)) < 100, "a refused name is never echoed in full"


def test_the_connection_needs_no_widgets():
    probe = "import sys, workshop.chat_connection; print('ipywidgets' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                           check=True, cwd=ROOT)
    assert found.stdout.strip() == "False", "workshop.chat_connection imported ipywidgets"
