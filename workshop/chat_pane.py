"""A chat pane for notebooks: an ipywidgets box that joins a chat room at any address.

    alice = ChatPane(server.address, "alice")          # Subscribe to listen, Post to speak
    carol = ChatPane(server.address, "carol", mode="chat")   # one bidirectional Chat stream
    side_by_side(alice, carol)                         # shows both; type, press Enter

Each pane owns one gRPC channel and one background thread that reads the room's stream. That
thread never touches an Output widget: it rebuilds an HTML widget's value (every note escaped
with html.escape, so a note is always text, never markup) and sets the status line. Every
callback catches every exception and shows it in the pane, because an exception in a widget
callback or a thread is otherwise lost (a closed channel raises ValueError, not RpcError).

A pane says "joining" from the moment it opens its stream until the server has taken it into
the room: the server's initial metadata (the reference server sends it right after adding the
subscriber) or the first note; only then "connected". When the server goes away the pane says
"disconnected" and waits, without a busy loop, on gRPC's channel-ready future (with its own backoff
between attempts) until a server answers at the same address again; then it rejoins, asking for
the recent notes it may have missed and dropping those it already has. `pane.messages` holds what arrived, as
data, and `pane.send(text)` speaks, so tests and notebooks can check a room without a browser.
"""
from __future__ import annotations

import atexit
import html
import queue
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import grpc
import ipywidgets as widgets

from workshop.protos import chat_pb2, chat_pb2_grpc

MODES = ("subscribe", "chat")
MAX_NAME = 32  # the contract's limits (protos/chat.proto): checked here so a pane explains them early
MAX_MESSAGE = 20_000
REPLAY_ON_RECONNECT = 50  # the most a room replays: enough to fill the gap of a short outage
SHOWN = 100  # notes drawn in the pane; older ones stay in .messages up to KEPT
KEPT = 1_000
POST_TIMEOUT = 5.0
FIRST_RETRY, LAST_RETRY = 0.5, 8.0  # seconds between attempts to rejoin, doubling
CHANNEL_OPTIONS = [  # reconnect soon after a server comes back (gRPC's default backoff grows to 2 minutes)
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5_000),
]

_open_panes: weakref.WeakSet[ChatPane] = weakref.WeakSet()


class Message(NamedTuple):
    """One note as a pane received it; compares equal to a plain (name, text) tuple."""

    name: str
    text: str


def css_name(name: str) -> str:
    """The CSS-safe form of a name: `chat-pane-{css_name(name)}` marks that person's pane."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "anonymous"


# What the pane looks like. Inline styles keep it independent of the notebook's theme files; the
# list grows upwards from the bottom (column-reverse), so the newest note is always in view.
_LIST = ('<div class="chat-scroll tex2jax_ignore" style="height:220px;overflow-y:auto;display:flex;'
         'flex-direction:column-reverse;border:1px solid #ddd;border-radius:6px;padding:6px;'
         'background:#fafafa"><div style="display:flex;flex-direction:column;gap:4px">{}</div></div>')
_EMPTY = '<div class="chat-empty" style="color:#888;font-style:italic">No messages yet.</div>'
_NOTE = ('<div class="chat-note {kind}" dir="auto" style="max-width:85%;padding:3px 8px;border-radius:8px;'
         'line-height:1.4;white-space:pre-wrap;overflow-wrap:anywhere;{style}"><b class="chat-author">{name}</b> '
         '<span class="chat-text" dir="auto">{text}</span></div>')
_OWN_STYLE = "align-self:flex-end;background:#d6eaff"
_OTHER_STYLE = "align-self:flex-start;background:#eeeeee"
_DOTS = {"connected": "#2e7d32", "connecting": "#f9a825", "joining": "#f9a825", "disconnected": "#c62828",
         "stopped": "#c62828", "closed": "#9e9e9e"}


class ChatPane:
    """One person in a chat room: their name, the notes so far, a text box, and the connection."""

    def __init__(self, address, name: str, *, mode: str = "subscribe", replay: int = 20):
        """Join the room at `address` (or a RunningServer) as `name`.

        mode "subscribe" listens with Subscribe and speaks with Post; mode "chat" does both on one
        bidirectional Chat stream. `replay` asks a subscribing pane's first join for that many
        recent notes (the Chat RPC has no replay).
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if not name.strip() or len(name) > MAX_NAME:
            raise ValueError(f"a name has 1 to {MAX_NAME} characters; got {name!r}")
        self.address = getattr(address, "address", address)
        self.name, self.mode, self.replay = name, mode, replay
        self.messages: list[Message] = []
        self.status = "connecting"  # then joining, connected, disconnected: why, stopped: why, or closed
        self.notice = ""
        self._changed = threading.Condition()
        self._closed = threading.Event()
        self._seen: set[tuple] = set()
        self._seen_order: deque[tuple] = deque()
        self._rendered: deque[str] = deque(maxlen=SHOWN)
        self._call = None
        self._outbox: queue.SimpleQueue | None = None
        self._ready = None
        self._connected = False
        self._joined_before = False
        self._listening = True  # until the pane's thread ends
        self._build_widget()
        self._channel = grpc.insecure_channel(self.address, options=CHANNEL_OPTIONS)
        self._stub = chat_pb2_grpc.ChatServerStub(self._channel)
        self.thread = threading.Thread(target=self._receive_forever, name=f"chat-pane-{css_name(name)}",
                                       daemon=True)
        _open_panes.add(self)
        self.thread.start()

    # ------------------------------------------------------------------ the widget

    def _build_widget(self) -> None:
        self._title = widgets.HTML(f"<b style='font-size:1.1em'>{html.escape(self.name)}</b>")
        self._title.add_class("chat-name")
        self._status = widgets.HTML()
        self._status.add_class("chat-status")
        self._detail = widgets.HTML()  # why the state is what it is, when there is a reason
        self._detail.add_class("chat-status-detail")
        self._list = widgets.HTML(_LIST.format(_EMPTY))
        self._list.add_class("chat-messages")
        self._text = widgets.Text(placeholder="Type a message, press Enter",
                                  layout=widgets.Layout(flex="1 1 auto", width="auto"))
        self._text.add_class("chat-input")
        self._text.on_msg(self._on_text_event)  # Enter sends {"event": "submit"}
        self._button = widgets.Button(description="Send", button_style="primary",
                                      layout=widgets.Layout(width="70px"))
        self._button.add_class("chat-send")
        self._button.on_click(self._on_button)
        self._notice = widgets.HTML()
        self._notice.add_class("chat-notice")
        header = widgets.HBox([self._title, self._status],
                              layout=widgets.Layout(justify_content="space-between", align_items="center"))
        self.widget = widgets.VBox(
            [header, self._detail, self._list, widgets.HBox([self._text, self._button]), self._notice],
            layout=widgets.Layout(width="340px", padding="6px", border="1px solid #ccc", margin="4px"))
        self.widget.add_class("chat-pane")
        self.widget.add_class(f"chat-pane-{css_name(self.name)}")
        self.widget.add_class(f"chat-mode-{self.mode}")
        self._show_status(self.status)

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) if self.widget._repr_mimebundle_ else {}
        return {**bundle, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"ChatPane({self.name!r}, mode={self.mode!r})"

    def _show_status(self, text: str) -> None:
        with self._changed:
            self.status = text
            self._changed.notify_all()
        state, _, detail = text.partition(": ")
        shown = state + "…" if state in ("connecting", "joining") else state
        self._status.value = (f"<span style='color:{_DOTS.get(state, '#9e9e9e')}'>●</span> "
                              f"<span class='chat-status-text'>{html.escape(shown)}</span>")
        self._detail.value = f"<span style='color:#666;font-size:0.85em'>{html.escape(detail)}</span>"

    def _show_notice(self, text: str) -> None:
        self.notice = text
        self._notice.value = f"<span style='color:#c62828'>{html.escape(text)}</span>" if text else ""

    def _show_note(self, note) -> None:
        kind, style = ("chat-own", _OWN_STYLE) if note.name == self.name else ("chat-other", _OTHER_STYLE)
        self._rendered.append(_NOTE.format(kind=kind, style=style, name=html.escape(note.name),
                                           text=html.escape(note.message)))
        self._list.value = _LIST.format("".join(self._rendered))

    # ------------------------------------------------------------------ speaking

    def send(self, text: str) -> bool:
        """Say `text` in the room. True if it went out; if not, the pane's notice line says why."""
        try:
            if self._closed.is_set():
                return self._refuse("not sent: this pane is closed")
            if not text.strip():
                return self._refuse("not sent: the message is empty")
            if len(text) > MAX_MESSAGE:
                return self._refuse(f"not sent: {len(text):,} characters; the limit is {MAX_MESSAGE:,}")
            note = chat_pb2.Note(name=self.name, message=text)
            if self.mode == "chat":
                # A pane made a moment ago may still be opening its stream: give it the time a Post gets.
                # (Sent while "joining", a note waits in the stream until the server reads it.)
                if not self.wait_until(lambda pane: pane._outbox is not None, POST_TIMEOUT):
                    return self._refuse(f"not sent: not connected to the room ({self.status})")
                with self._changed:  # the stream may have ended since: its outbox is then swapped out
                    outbox = self._outbox
                    if outbox is not None:  # still the current stream's: the put cannot race its end
                        outbox.put(note)
                if outbox is None:
                    return self._refuse("not sent: the stream ended just now; try again")
            else:
                self._stub.Post(note, timeout=POST_TIMEOUT)
            self._show_notice("")
            return True
        except grpc.RpcError as error:
            return self._refuse(f"not sent: {_describe(error)}")
        except Exception as error:  # a closed channel raises ValueError; show everything
            return self._refuse(f"not sent: {type(error).__name__}: {error}")

    def _refuse(self, why: str) -> bool:
        self._show_notice(why)
        return False

    def _send_typed_text(self) -> None:
        if self.send(self._text.value):
            self._text.value = ""

    def _on_text_event(self, _widget, content, _buffers) -> None:
        try:
            if content.get("event") == "submit":
                self._send_typed_text()
        except Exception as error:  # a widget callback's exception would be lost
            self._show_notice(f"{type(error).__name__}: {error}")

    def _on_button(self, _button) -> None:
        try:
            self._send_typed_text()
        except Exception as error:
            self._show_notice(f"{type(error).__name__}: {error}")

    # ------------------------------------------------------------------ listening

    def _receive_forever(self) -> None:
        """The pane's thread: join, read notes until the stream ends, wait, rejoin; until closed."""
        delay, first = FIRST_RETRY, True
        while not self._closed.is_set():
            try:
                if not self._wait_until_reachable(first):
                    break
                first = False
                if self._read_one_stream():  # True once notes flowed: the next outage starts afresh
                    delay = FIRST_RETRY
                if self._closed.is_set():
                    break
                self._show_status("disconnected: the server ended the stream; rejoining")
            except grpc.RpcError as error:
                if self._closed.is_set():
                    break
                if error.code() == grpc.StatusCode.UNIMPLEMENTED:
                    self._show_status(f"stopped: {_describe(error)}")
                    break  # waiting will not write the method; a new pane will try again
                self._show_status(f"disconnected: {_describe(error)}; retrying")
            except Exception as error:  # ValueError once the channel is closed, and any bug
                if self._closed.is_set():
                    break
                self._show_status(f"disconnected: {type(error).__name__}: {error}; retrying")
            finally:
                with self._changed:  # send() puts under this lock, so no note lands in a dead outbox
                    self._connected = False
                    self._call = None
                    outbox, self._outbox = self._outbox, None
                    if outbox is not None:
                        outbox.put(None)  # ends the request stream of a Chat call
            if self._closed.wait(delay):  # sleeps; close() wakes it at once
                break
            delay = min(delay * 2, LAST_RETRY)
        if self._closed.is_set():
            self._show_status("closed")
        with self._changed:
            self._listening = False
            self._changed.notify_all()  # whoever waits for a note: none will come now

    def _wait_until_reachable(self, first: bool) -> bool:
        """Block until the channel is READY (gRPC reconnects by itself); False if closed meanwhile."""
        while not self._closed.is_set():
            self._ready = grpc.channel_ready_future(self._channel)
            if self._closed.is_set():
                self._ready.cancel()
                return False
            try:
                self._ready.result(timeout=3.0)
                return True
            except grpc.FutureTimeoutError:
                self._ready.cancel()
                if first:
                    self._show_status(f"connecting: no answer from {self.address} yet")
                elif not self.status.startswith("disconnected"):
                    self._show_status("disconnected: waiting for the server to come back")
            except grpc.FutureCancelledError:
                return False
        return False

    def _open_stream(self):
        if self.mode == "chat":
            outbox: queue.SimpleQueue = queue.SimpleQueue()
            with self._changed:
                self._outbox = outbox
                self._changed.notify_all()  # send() may be waiting for a stream to speak on

            def notes_to_send():
                while (note := outbox.get()) is not None:  # sleeps until send() or the end
                    yield note

            return self._stub.Chat(notes_to_send())
        if not self._joined_before:
            replay = self.replay
        elif self.messages and not self._seen_order:
            replay = 0  # this server does not number its notes, so a replay could not be de-duplicated
        else:
            replay = REPLAY_ON_RECONNECT  # what was said while we were away (repeats are dropped)
        self._joined_before = True
        return self._stub.Subscribe(chat_pb2.SubscribeRequest(name=self.name, replay=max(0, replay)))

    def _read_one_stream(self) -> bool:
        call = self._open_stream()
        self._call = call
        if self._closed.is_set():
            call.cancel()
            return False
        self._show_status("joining")
        call.initial_metadata()  # blocks until the server says we are in the room, a note comes, or the end
        if call.is_active():  # not ended: really in the room (an error is raised by the loop below)
            self._connected = True
            self._show_status("connected")
        received = False
        for note in call:  # blocks until the next note; ends or raises when the call does
            if self._receive(note):
                received = True
        return received

    def _receive(self, note) -> bool:
        if note.sequence > 0:  # numbered notes: drop the ones a rejoin's replay repeats
            key = (note.sequence, note.sent_at.seconds, note.sent_at.nanos, note.name)
            if key in self._seen:
                return False
            self._seen.add(key)
            self._seen_order.append(key)
            if len(self._seen_order) > KEPT:
                self._seen.discard(self._seen_order.popleft())
        with self._changed:
            self.messages.append(Message(note.name, note.message))
            if len(self.messages) > KEPT:
                del self.messages[:-KEPT]
            self._changed.notify_all()
        self._show_note(note)
        return True

    # ------------------------------------------------------------------ waiting, closing

    @property
    def connected(self) -> bool:
        """True while the server has the pane in the room (its stream is open, and joined)."""
        return self._connected and not self._closed.is_set()

    def wait_until(self, condition: Callable[[ChatPane], bool], timeout: float = 5.0) -> bool:
        """Wait until `condition(pane)` holds (checked on every note and status change); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._listening:  # stopped or closed: nothing will change
                    return False
                self._changed.wait(remaining)
        return True

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until the pane holds at least `count` messages; False if they did not come in time."""
        return self.wait_until(lambda pane: len(pane.messages) >= count, timeout)

    def wait_until_connected(self, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda pane: pane.connected, timeout)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def close(self, timeout: float = 5.0) -> None:
        """Leave the room: cancel the stream, close the channel, end the thread. The widget stays, greyed."""
        if self._closed.is_set():
            return
        self._closed.set()
        for stop in (lambda: self._ready and self._ready.cancel(),
                     lambda: self._call and self._call.cancel(),
                     lambda: self._outbox and self._outbox.put(None)):
            try:
                stop()
            except Exception:  # closing goes on whatever one step says
                pass
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)
        self._close_channel()
        self._text.disabled = self._button.disabled = True
        self._show_status("closed")
        _open_panes.discard(self)

    def _close_channel(self) -> None:
        # channel_ready_future starts gRPC's connectivity watcher, which wakes every 0.2 s and raises
        # (in its own thread, where nobody can catch it) if the channel was closed under it. Once no
        # future waits, it ends at its next wake-up: give it that long.
        watcher = getattr(self._channel, "_connectivity_state", None)
        deadline = time.monotonic() + 1.0
        while getattr(watcher, "polling", False) and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            self._channel.close()
        except Exception:
            pass

    def __enter__(self) -> ChatPane:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _describe(error: grpc.RpcError) -> str:
    try:
        code, details = error.code(), error.details()
    except Exception:
        return str(error)
    if code == grpc.StatusCode.UNAVAILABLE:
        return "the server is not reachable (UNAVAILABLE)"
    return f"{code.name}: {details}" if details else code.name


class PanesSideBySide(widgets.HBox):
    """An HBox of panes whose plain-text form names them (stable in stored notebook outputs)."""

    def __init__(self, panes):
        self.panes = list(panes)
        super().__init__([pane.widget for pane in self.panes],
                         layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start"))
        self.add_class("chat-panes")

    def __repr__(self) -> str:
        return "side by side: " + ", ".join(f"{pane.name} ({pane.mode})" for pane in self.panes)


def side_by_side(*panes: ChatPane) -> PanesSideBySide:
    """Show panes next to each other (they wrap onto the next line when the window is narrow)."""
    return PanesSideBySide(panes)


def close_all() -> None:
    """Close every pane still open in this process."""
    for pane in list(_open_panes):
        pane.close()


atexit.register(close_all)
