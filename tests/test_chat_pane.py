"""The chat pane without a browser: real servers over loopback, assertions on pane.messages and widget values."""
import html
import itertools
import time
import uuid

import grpc
import psutil
import pytest

import server_runner
from workshop.chat_pane import ChatPane, close_all, side_by_side
from workshop.chat_types import State
from workshop.protos import chat_pb2, chat_pb2_grpc

WAIT = 10.0


def unique(text: str) -> str:
    """Tests share one room: a unique suffix tells this test's notes apart."""
    return f"{text} [{uuid.uuid4().hex[:8]}]"


def has(pane: ChatPane, name: str, text: str) -> bool:
    return pane.wait_until(lambda p: (name, text) in p.messages, WAIT)


@pytest.fixture
def panes():
    """Make panes with make(address, name, ...); all are closed after the test."""
    made = []

    def make(*args, **kwargs):
        pane = ChatPane(*args, **kwargs)
        made.append(pane)
        return pane

    yield make
    for pane in made:
        pane.close()
    assert not [pane.name for pane in made if pane.thread.is_alive()], "a pane's thread outlived close()"


def test_two_panes_exchange_messages(chat_server, panes):
    alice, bob = panes(chat_server.address, "alice"), panes(chat_server.address, "bob")
    assert alice.wait_until_connected(WAIT) and bob.wait_until_connected(WAIT)
    hello, reply = unique("hello bob"), unique("hi alice")
    assert alice.send(hello)
    assert has(bob, "alice", hello) and has(alice, "alice", hello)
    assert bob.send(reply)
    assert has(alice, "bob", reply)
    assert bob.status == "connected"


def test_own_messages_are_told_apart(chat_server, panes):
    alice, bob = panes(chat_server.address, "alice"), panes(chat_server.address, "bob")
    text = unique("mine")
    assert alice.send(text) and has(alice, "alice", text) and has(bob, "alice", text)
    assert html.escape(text) in alice._list.value and html.escape(text) in bob._list.value
    assert alice._list.value.rsplit("chat-note ", 1)[1].startswith("chat-own")
    assert bob._list.value.rsplit("chat-note ", 1)[1].startswith("chat-other")


def test_a_chat_mode_pane_talks_with_a_subscribe_pane(chat_server, panes):
    carol = panes(chat_server.address, "carol", mode="chat")
    dave = panes(chat_server.address, "dave")
    assert carol.wait_until_connected(WAIT) and dave.wait_until_connected(WAIT)
    first = unique("from the Chat stream")
    assert carol.send(first)
    assert has(carol, "carol", first), "a Chat stream echoes the sender's own note"
    assert has(dave, "carol", first)
    answer = unique("from Post")
    assert dave.send(answer)
    assert has(carol, "dave", answer)


def test_panes_can_send_the_moment_they_are_made(chat_server, panes):
    for mode in ("chat", "subscribe"):
        pane = panes(chat_server.address, f"eager-{mode}", mode=mode)
        text = unique(f"first words ({mode})")
        assert pane.send(text), pane.notice  # no wait_until_connected before: a notebook cell won't wait
        assert has(pane, pane.name, text)


def test_fifty_panes_all_receive_every_message(chat_server, panes):
    room = [panes(chat_server.address, f"attendee{n}", replay=0) for n in range(50)]
    assert all(pane.wait_until_connected(WAIT) for pane in room)
    speakers = room[0], room[24], room[49]
    # Connected: the server has them in the room. A probe that reaches all 50 proves the fan-out first.
    for attempt in itertools.count():
        probe = unique(f"probe {attempt}")
        assert room[0].send(probe)
        if all(pane.wait_until(lambda p, probe=probe: ("attendee0", probe) in p.messages, 0.5) for pane in room):
            break
        assert attempt < 20, f"{sum(('attendee0', probe) in p.messages for p in room)} of 50 panes got the probe"
    said = [(speaker.name, unique(f"note from {speaker.name}")) for speaker in speakers]
    for name, text in said:
        assert next(p for p in speakers if p.name == name).send(text)
    missing = [pane.name for pane in room
               if not pane.wait_until(lambda p: all(note in p.messages for note in said), WAIT)]
    assert not missing, f"these panes missed notes: {missing}"
    for pane in room:  # and in the order they were posted
        received = [m for m in pane.messages if m in said]
        assert received == said, pane.name


@pytest.mark.parametrize("text", [
    "Party time 🎉🐍👩🏽‍💻 — ünïcödé",
    "שלום לכולם, זה עובד",  # Hebrew, written right to left
    "مرحبا بالجميع in a mixed line",  # Arabic and English
    "x" * 10_000,
    "a long line " * 833 + "end",  # 10,000 characters with spaces
], ids=["emoji", "hebrew", "arabic-mixed", "10000-x", "10000-words"])
def test_unusual_text_arrives_intact(chat_server, panes, text):
    alice, bob = panes(chat_server.address, "alice"), panes(chat_server.address, "bob")
    assert alice.wait_until_connected(WAIT) and bob.wait_until_connected(WAIT)
    assert alice.send(text)
    assert has(bob, "alice", text)
    received = [m.text for m in bob.messages if m.text == text]
    assert received == [text]
    assert html.escape(text) in bob._list.value
    assert 'dir="auto"' in bob._list.value  # right-to-left text lays itself out


def test_empty_message_is_not_sent(chat_server, panes):
    alice, bob = panes(chat_server.address, "alice"), panes(chat_server.address, "bob")
    assert alice.wait_until_connected(WAIT) and bob.wait_until_connected(WAIT)
    assert alice.send("") is False
    assert alice.send("   \n\t ") is False
    assert "empty" in alice.notice
    after = unique("a real one")
    assert alice.send(after) and has(bob, "alice", after)
    assert not [m for m in bob.messages if not m.text.strip()], "an empty message reached the room"
    assert alice.notice == "", "a sent message clears the last notice"


def test_too_long_message_is_refused_with_a_reason(chat_server, panes):
    alice = panes(chat_server.address, "alice")
    assert alice.send("x" * 20_001) is False
    assert "20,001" in alice.notice and "20,000" in alice.notice


def test_html_in_a_message_is_shown_as_text(chat_server, panes):
    alice, bob = panes(chat_server.address, "alice"), panes(chat_server.address, "bob")
    assert alice.wait_until_connected(WAIT) and bob.wait_until_connected(WAIT)
    text = unique('<img src=x onerror="alert(1)"><b>bold</b> & <script>alert(2)</script>')
    assert alice.send(text) and has(bob, "alice", text)
    rendered = bob._list.value
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;" in rendered
    assert "<img" not in rendered and "<script" not in rendered and "<b>bold" not in rendered


def test_enter_and_the_send_button_send_the_typed_text(chat_server, panes):
    alice, bob = panes(chat_server.address, "alice"), panes(chat_server.address, "bob")
    assert alice.wait_until_connected(WAIT) and bob.wait_until_connected(WAIT)
    typed = unique("typed, then Enter")
    alice._text.value = typed
    alice._on_text_event(alice._text, {"event": "submit"}, [])  # what the browser sends on Enter
    assert has(bob, "alice", typed) and alice._text.value == ""
    clicked = unique("typed, then Send")
    alice._text.value = clicked
    alice._button.click()
    assert has(bob, "alice", clicked) and alice._text.value == ""
    alice._text.value = "   "
    alice._button.click()
    assert alice._text.value == "   " and "empty" in alice.notice


SLOW_ROOM = '''"""A room that takes a second to let anyone in: alice is told with initial metadata, bob by a note."""
import threading

from workshop.protos import chat_pb2, chat_pb2_grpc


class SlowRoom(chat_pb2_grpc.ChatServerServicer):
    def Subscribe(self, request, context):
        ended = threading.Event()
        context.add_callback(ended.set)
        ended.wait(1.0)  # the pane is not in the room yet
        if request.name == "alice":
            context.send_initial_metadata(())
        else:
            yield chat_pb2.Note(name="server", message="welcome")
        ended.wait(60)


def add_to_server(server):
    chat_pb2_grpc.add_ChatServerServicer_to_server(SlowRoom(), server)
'''


def test_a_pane_is_joining_until_the_server_has_taken_it_in(tmp_path, panes):
    (tmp_path / "slow_room.py").write_text(SLOW_ROOM)
    with server_runner.start(str(tmp_path / "slow_room.py")) as server:
        alice, bob = panes(server.address, "alice"), panes(server.address, "bob")
        for pane in (alice, bob):
            assert pane.wait_until(lambda p: p.status == "joining", WAIT), pane.status
            assert not pane.connected and "joining…" in pane._status.value
        for pane in (alice, bob):  # alice: the server's initial metadata; bob: his first note
            assert pane.wait_until_connected(WAIT), pane.status
            assert "connected" in pane._status.value
        assert bob.wait_for_messages(1) and bob.messages == [("server", "welcome")]
        assert alice.messages == []
        alice.close()
        bob.close()


def test_pane_reconnects_when_its_server_returns_on_the_same_port(panes):
    server = server_runner.start("chat")
    try:
        bob = panes(server.address, "bob")
        assert bob.wait_until_connected(WAIT)
        port = server.port
        server.stop()
        assert bob.wait_until(lambda p: p.state is State.DISCONNECTED, WAIT), bob.status
        assert bob.status.startswith("disconnected: ") and "disconnected" in bob._status.value
        assert html.escape(bob.connection.status.detail) in bob._detail.value
        assert not bob.connected

        me = psutil.Process()
        cpu_before = sum(me.cpu_times()[:2])
        time.sleep(1.0)
        idle_cpu = sum(me.cpu_times()[:2]) - cpu_before
        assert idle_cpu < 0.3, f"a disconnected pane used {idle_cpu:.2f} s of CPU in 1 s: a busy loop?"

        server = server_runner.start("chat", port=port)
        assert bob.wait_until_connected(20), bob.status
        text = unique("welcome back")
        with grpc.insecure_channel(server.address) as channel:
            chat_pb2_grpc.ChatServerStub(channel).Post(chat_pb2.Note(name="eve", message=text), timeout=5)
        assert has(bob, "eve", text), bob.status
        assert bob.status == "connected"
    finally:
        server.stop()


def test_a_pane_on_a_server_without_the_chat_service_says_so_and_stops(users_server, panes):
    pane = panes(users_server.address, "alice")
    pane.thread.join(WAIT)
    assert not pane.thread.is_alive(), "the pane should stop trying: waiting will not write the method"
    assert pane.status.startswith("stopped: UNIMPLEMENTED"), pane.status
    assert pane.wait_for_messages(1, timeout=30) is False  # returns at once: nothing can come now


def test_a_pane_with_no_server_keeps_trying_and_sends_nothing(panes):
    with server_runner.start("chat") as gone:
        address = gone.address
    pane = panes(address, "alice")
    assert pane.send("anyone?") is False
    assert "not reachable" in pane.notice
    assert pane.thread.is_alive()


def test_closing_a_pane_ends_its_thread_and_its_stream(chat_server):
    for mode in ("subscribe", "chat"):
        pane = ChatPane(chat_server.address, "alice", mode=mode)
        assert pane.wait_until_connected(WAIT)
        pane.close()
        assert not pane.thread.is_alive()
        assert pane.closed and pane.status == "closed" and "closed" in pane._status.value
        assert pane.send("still there?") is False and "closed" in pane.notice
        assert pane._text.disabled and pane._button.disabled
        pane._on_text_event(pane._text, {"event": "submit"}, [])  # a late Enter: shown, never raised
        pane.close()  # twice is fine


def test_close_all_closes_every_open_pane(chat_server):
    room = [ChatPane(chat_server.address, name) for name in ("ann", "ben", "cat")]
    close_all()
    assert all(pane.closed and not pane.thread.is_alive() for pane in room)


def test_stored_outputs_are_stable_text(chat_server, panes):
    alice, carol = panes(chat_server.address, "alice"), panes(chat_server.address, "carol", mode="chat")
    assert alice._repr_mimebundle_()["text/plain"] == "ChatPane('alice', mode='subscribe')"
    row = side_by_side(alice, carol)
    assert row._repr_mimebundle_()["text/plain"] == "side by side: alice (subscribe), carol (chat)"
    assert "application/vnd.jupyter.widget-view+json" in row._repr_mimebundle_()


def test_css_classes_let_a_browser_find_each_part(chat_server, panes):
    pane = panes(chat_server.address, "Alice Smith")
    assert {"chat-pane", "chat-pane-alice-smith"} <= set(pane.widget._dom_classes)
    for part, css in ((pane._text, "chat-input"), (pane._button, "chat-send"), (pane._list, "chat-messages"),
                      (pane._status, "chat-status")):
        assert css in part._dom_classes


def test_bad_arguments_are_refused_at_once():
    with pytest.raises(ValueError, match="mode"):
        ChatPane("127.0.0.1:1", "alice", mode="shout")
    with pytest.raises(ValueError, match="1 to 32"):
        ChatPane("127.0.0.1:1", "")
