"""A chat pane for notebooks: an ipywidgets view of one connection to a chat room, at any address.

    alice = ChatPane(server.address, "alice")                # Subscribe to listen, Post to speak
    carol = ChatPane(server.address, "carol", mode="chat")   # one bidirectional Chat stream
    side_by_side(alice, carol)                               # shows both; type, press Enter

The pane only draws: its name, the notes so far, a text box, a Send button and a status dot.
Joining, listening and rejoining belong to its ChatConnection (workshop/chat_connection.py), whose
thread calls the pane's listeners. So those listeners only set widget values (never `with out:`
from a thread, which nbconvert and nbval store differently), and catch every exception they meet
to show it on the pane's notice line: in a widget callback or a thread it would otherwise be lost.
A note is always text, never markup: every note is escaped before it is drawn.

`pane.messages` holds what arrived, as data, and `pane.send(text)` speaks, so tests and
notebooks check a room without a browser.
"""
from __future__ import annotations

import atexit
import html
import re
import weakref
from collections import deque
from collections.abc import Callable

import ipywidgets as widgets

from workshop.chat_connection import ChatConnection, check_secrets
from workshop.chat_types import Message, Mode, State, Status, as_mode, check_address, check_name

__all__ = ["ChatPane", "Message", "close_all", "side_by_side"]

SHOWN = 100  # notes drawn in the pane; older ones stay in .messages

_open_panes: weakref.WeakSet[ChatPane] = weakref.WeakSet()


def css_name(name: str) -> str:
    """The CSS-safe form of a name: `chat-pane-{css_name(name)}` marks that person's pane."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-") or "anonymous"


# What the pane looks like. Inline styles keep it independent of the notebook's theme files; the
# list grows upwards from the bottom (column-reverse), so the newest note is always in view.
# tex2jax_ignore: a note with two $ signs is text, not mathematics.
_LIST = ('<div class="chat-scroll tex2jax_ignore" style="height:220px;overflow-y:auto;display:flex;'
         'flex-direction:column-reverse;border:1px solid #ddd;border-radius:6px;padding:6px;'
         'background:#fafafa"><div style="display:flex;flex-direction:column;gap:4px">{}</div></div>')
_EMPTY = '<div class="chat-empty" style="color:#888;font-style:italic">No messages yet.</div>'
_NOTE = ('<div class="chat-note {kind}" dir="auto" style="max-width:85%;padding:3px 8px;border-radius:8px;'
         'line-height:1.4;white-space:pre-wrap;overflow-wrap:anywhere;{style}"><b class="chat-author">{name}</b> '
         '<span class="chat-text" dir="auto">{text}</span></div>')
_OWN_STYLE = "align-self:flex-end;background:#d6eaff"
_OTHER_STYLE = "align-self:flex-start;background:#eeeeee"
_DOTS = {State.CONNECTED: "#2e7d32", State.CONNECTING: "#f9a825", State.JOINING: "#f9a825",
         State.DISCONNECTED: "#c62828", State.STOPPED: "#c62828", State.CLOSED: "#9e9e9e"}
_WAITING = {State.CONNECTING, State.JOINING}  # drawn with an ellipsis: "joining…"


class ChatPane:
    """One person in a chat room, drawn: their name, the notes so far, a text box, the status."""

    def __init__(self, address, name: str, *, mode: Mode | str = "subscribe", replay: int = 20,
                 password: str | None = None, fingerprint: str | None = None):
        """Join the room at `address` (or a RunningServer) as `name`.

        mode "subscribe" listens with Subscribe and speaks with Post; mode "chat" does both on one
        bidirectional Chat stream. `replay` asks a subscribing pane's first join for that many
        recent notes (the Chat RPC has no replay). A secure room needs the `password` and
        `fingerprint` its instructor shows.
        """
        mode = as_mode(mode)  # bad arguments are refused before any widget exists
        check_secrets(password, fingerprint)
        check_address(getattr(address, "address", address))
        self.name, self.mode = check_name(name), mode.value
        self.notice = ""
        self._rendered: deque[str] = deque(maxlen=SHOWN)
        self._build_widget()
        self.connection = ChatConnection(address, name, mode=mode, replay=replay, password=password,
                                         fingerprint=fingerprint, on_note=self._show_note,
                                         on_status=self._show_status)
        _open_panes.add(self)

    # ------------------------------------------------------------------ the connection's state, for tests and cells

    @property
    def address(self) -> str:
        return self.connection.address

    @property
    def messages(self) -> list[Message]:
        return self.connection.messages

    @property
    def status(self) -> str:
        """The status line as text: 'connected', 'disconnected: the server …', 'stopped: UNIMPLEMENTED: …'."""
        return str(self.connection.status)

    @property
    def state(self) -> State:
        return self.connection.status.state

    @property
    def connected(self) -> bool:
        return self.connection.connected

    @property
    def closed(self) -> bool:
        return self.connection.closed

    @property
    def thread(self):
        return self.connection.thread

    def wait_until(self, condition: Callable[[ChatPane], bool], timeout: float = 5.0) -> bool:
        """Wait until `condition(pane)` holds (checked on every note and status change); False on timeout."""
        return self.connection.wait_until(lambda _connection: condition(self), timeout)

    def wait_for_messages(self, count: int, timeout: float = 5.0) -> bool:
        """Wait until the pane holds at least `count` messages; False if they did not come in time."""
        return self.wait_until(lambda pane: len(pane.messages) >= count, timeout)

    def wait_until_connected(self, timeout: float = 10.0) -> bool:
        return self.wait_until(lambda pane: pane.connected, timeout)

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
        self._show_status(Status(State.CONNECTING))

    def _repr_mimebundle_(self, **kwargs):
        bundle = self.widget._repr_mimebundle_(**kwargs) if self.widget._repr_mimebundle_ else {}
        return {**bundle, "text/plain": repr(self)}

    def __repr__(self) -> str:
        return f"ChatPane({self.name!r}, mode={self.mode!r})"

    def _show_status(self, status: Status) -> None:
        """The connection's on_status listener (its thread): the dot, the state, and why."""
        try:
            shown = status.state.value + ("…" if status.state in _WAITING else "")
            self._status.value = (f"<span style='color:{_DOTS[status.state]}'>●</span> "
                                  f"<span class='chat-status-text'>{html.escape(shown)}</span>")
            self._detail.value = f"<span style='color:#666;font-size:0.85em'>{html.escape(status.detail)}</span>"
        except Exception as error:
            self._show_notice(f"{type(error).__name__}: {error}")

    def _show_notice(self, text: str) -> None:
        self.notice = text
        try:
            self._notice.value = f"<span style='color:#c62828'>{html.escape(text)}</span>" if text else ""
        except Exception:  # a widget closed under us: the notice attribute still tells
            pass

    def _show_note(self, message: Message) -> None:
        """The connection's on_note listener (its thread): one more note at the bottom of the list."""
        try:
            kind, style = ("chat-own", _OWN_STYLE) if message.name == self.name else ("chat-other", _OTHER_STYLE)
            self._rendered.append(_NOTE.format(kind=kind, style=style, name=html.escape(message.name),
                                               text=html.escape(message.text)))
            self._list.value = _LIST.format("".join(self._rendered))
        except Exception as error:
            self._show_notice(f"{type(error).__name__}: {error}")

    # ------------------------------------------------------------------ speaking

    def send(self, text: str) -> bool:
        """Say `text` in the room. True if it went out; if not, the pane's notice line says why."""
        why_not = self.connection.send(text)
        self._show_notice(why_not or "")
        return why_not is None

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

    # ------------------------------------------------------------------ closing

    def close(self, timeout: float = 5.0) -> None:
        """Leave the room and end the pane's thread. The widget stays, greyed. Twice is fine."""
        self.connection.close(timeout)
        self._text.disabled = self._button.disabled = True
        _open_panes.discard(self)

    def __enter__(self) -> ChatPane:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
