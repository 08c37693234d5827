"""HTTP/2 frames as rows a learner can read, and a table of them that prints the same every run.

workshop.wire hands every byte it sends and receives to a FrameReader, one per direction. The
reader cuts the bytes into frames (hyperframe, h2's own frame parser), decodes header blocks
(hpack, h2's own header compression) and turns each frame into a FrameRow: direction, type,
stream, flags, and what it carries in words. `table` prints the rows. What varies from run to run
(PING data, when flow-control and other connection upkeep frames come) is left out by default.
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass

import h2.errors
import h2.settings
import hpack
from hyperframe.frame import Frame

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # what every HTTP/2 client sends first (RFC 9113, 3.4)
FRAME_HEADER = 9  # bytes: 3 length, 1 type, 1 flags, 4 stream id
FRAME_TYPES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE",
               6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
SHOWN_BYTES = 16  # of a DATA frame's payload, in hex
SETTINGS_WIDTH = 64  # characters per line of a SETTINGS frame's values
SENT, RECEIVED = "→", "←"
UPKEEP_NOTE = ("(connection upkeep left out: SETTINGS ACK, WINDOW_UPDATE and PING, whose number and timing vary; "
               "table(frames, upkeep=True) lists them)")


@dataclass(frozen=True)
class FrameRow:
    """One frame, as the table shows it. `headers` and `data` keep what HEADERS and DATA carried."""

    direction: str  # SENT or RECEIVED
    kind: str  # "HEADERS", "DATA", ... or "preface"
    stream: int
    flags: tuple[str, ...]
    carries: tuple[str, ...]  # lines of text
    upkeep: bool = False  # connection housekeeping, not part of any call
    headers: tuple[tuple[str, str], ...] = ()
    data: bytes = b""


def error_name(code: int) -> str:
    try:
        return h2.errors.ErrorCodes(code).name
    except ValueError:
        return f"error 0x{code:x}"


def setting_name(code: int) -> str:
    try:
        return h2.settings.SettingCodes(code).name
    except ValueError:
        return "GRPC_ALLOW_TRUE_BINARY_METADATA" if code == 0xFE03 else f"0x{code:04x}"


def hex_start(data: bytes) -> str:
    shown = " ".join(f"{byte:02x}" for byte in data[:SHOWN_BYTES])
    return shown + (" …" if len(data) > SHOWN_BYTES else "")


class FrameReader:
    """Cuts one direction's bytes into FrameRows; keeps a partial frame until the rest arrives."""

    def __init__(self, direction: str, expect_preface: bool = False):
        self.direction = direction
        self.pending = b""
        self.expect_preface = expect_preface
        self.decoder = hpack.Decoder()  # header compression keeps state per direction
        self.block = b""  # a header block whose CONTINUATION frames have not all arrived
        self.settings_seen = False

    def feed(self, data: bytes) -> list[FrameRow]:
        self.pending += data
        rows = []
        if self.expect_preface and len(self.pending) >= len(PREFACE):
            self.pending, self.expect_preface = self.pending[len(PREFACE):], False
            rows.append(FrameRow(self.direction, "preface", 0, (), ("PRI * HTTP/2.0 … (24 bytes: 'I speak HTTP/2')",)))
        while not self.expect_preface and len(self.pending) >= FRAME_HEADER:
            frame, length = Frame.parse_frame_header(memoryview(self.pending[:FRAME_HEADER]))
            if len(self.pending) < FRAME_HEADER + length:
                break
            frame.parse_body(memoryview(self.pending[FRAME_HEADER:FRAME_HEADER + length]))
            self.pending = self.pending[FRAME_HEADER + length:]
            rows.append(self.row(frame))
        return rows

    def row(self, frame) -> FrameRow:
        kind = FRAME_TYPES.get(frame.type, f"type 0x{frame.type:x}")
        flags = tuple(sorted(frame.flags))
        carries, headers, data, upkeep = (), (), b"", False
        if kind == "DATA":
            data = bytes(frame.data)
            carries = (f"{len(data)} bytes: {hex_start(data)}" if data else "0 bytes",)
        elif kind in ("HEADERS", "CONTINUATION"):
            self.block += bytes(frame.data)
            if "END_HEADERS" in flags:
                headers = tuple((str(name), str(value)) for name, value in self.decoder.decode(self.block))
                self.block = b""
                carries = tuple(f"{name}: {value or '(empty)'}" for name, value in headers)
            else:
                carries = ("(the header block goes on in a CONTINUATION frame)",)
        elif kind == "SETTINGS":
            upkeep = "ACK" in flags or self.settings_seen  # the first SETTINGS of each side is shown
            self.settings_seen = self.settings_seen or "ACK" not in flags
            settings = ", ".join(f"{setting_name(code)}={value}" for code, value in frame.settings.items())
            carries = tuple(textwrap.wrap(settings, SETTINGS_WIDTH))
            carries = carries or (("got your settings",) if "ACK" in flags else ("no changes",))
        elif kind == "WINDOW_UPDATE":
            upkeep, carries = True, (f"send {frame.window_increment} more bytes",)
        elif kind == "PING":
            upkeep = True
            carries = ("the 8 bytes echoed back",) if "ACK" in flags else ("8 bytes to echo back",)
        elif kind == "RST_STREAM":
            carries = (f"{error_name(frame.error_code)}: this stream is over",)
        elif kind == "GOAWAY":
            said = bytes(frame.additional_data).decode("utf-8", "replace")[:80]
            carries = (f"{error_name(frame.error_code)}, last stream {frame.last_stream_id}"
                       + (f": {said}" if said else ""),)
        return FrameRow(self.direction, kind, frame.stream_id, flags, carries, upkeep, headers, data)


def table(frames: list[FrameRow], upkeep: bool = False, stream: int | None = None,
          received_only: bool = False) -> str:
    """The frames as a text table, in the order they went out or came in.

    Columns have fixed widths, and what varies is left out unless `upkeep` is true, so the same
    call prints the same table every run. `stream` keeps one stream's frames; `received_only`
    keeps what the server sent.
    """
    lines = ["   frame          stream  flags                    carries"]
    left_out = False
    for row in frames:
        if (stream is not None and row.stream != stream) or (received_only and row.direction != RECEIVED):
            continue
        if row.upkeep and not upkeep:
            left_out = True
            continue
        shown_stream = "–" if row.kind == "preface" else str(row.stream)
        first, *more = row.carries or ("",)
        lines.append(f"{row.direction}  {row.kind:<14} {shown_stream:<7} {' '.join(row.flags):<24} {first}".rstrip())
        lines += [f"{'':<51}{line}" for line in more]
    if left_out and stream is None:
        lines.append(UPKEEP_NOTE)
    return "\n".join(lines)
