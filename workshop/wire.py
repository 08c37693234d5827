"""A gRPC call made by hand: HTTP/2 frames over a plain TCP socket, one call at a time.

grpcio hides the wire. Notebook 10 opens it: this module connects to a server on this machine,
sends the connection preface and SETTINGS, then the HEADERS and DATA frames the notebook builds,
and reads the answer. h2 keeps the HTTP/2 rules (streams, flow control, header compression);
every frame both ways is recorded as a row (workshop.wire_frames), and `table` prints them.

It knows nothing of gRPC's own message framing (the 5-byte prefix) nor of status codes: writing
those is Exercise 10.1. Every wait is bounded by `timeout`; what goes wrong raises WireError in words.
"""
from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
import h2.exceptions

from workshop.runner.addresses import is_loopback
from workshop.wire_frames import RECEIVED, SENT, FrameReader, FrameRow, error_name, table

__all__ = ["TIMEOUT", "Connection", "Response", "WireError", "call", "table"]

TIMEOUT = 5.0  # seconds: the longest any connect or read here waits
READ_SIZE = 65536


class WireError(Exception):
    """A hand-made call that could not be made or did not end: the message says what happened."""


@dataclass
class Response:
    """What came back on one stream: the first HEADERS, each DATA frame's bytes, the trailers.

    A trailers-only response (an error, typically) has one HEADERS frame that ends the stream:
    `trailers_only` is then true, and `headers` and `trailers` are both that frame's headers.
    """

    headers: list[tuple[str, str]] = field(default_factory=list)
    data: list[bytes] = field(default_factory=list)
    trailers: list[tuple[str, str]] = field(default_factory=list)
    trailers_only: bool = False
    ended: bool = False  # the server ended the stream (END_STREAM)
    reset: str | None = None  # the RST_STREAM error code's name, if the server reset the stream
    frames: list[FrameRow] = field(default_factory=list)  # the connection's frames, both ways


def host_and_port(address: str) -> tuple[str, int]:
    host, _, port = str(address).rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or not host:
        raise WireError(f"{str(address)[:60]!r} is not an address of the form 127.0.0.1:PORT")
    if not is_loopback(host):
        raise WireError(f"workshop.wire only talks to servers on this machine (127.0.0.1), not {host[:60]!r}")
    return host, int(port)


class Connection:
    """One HTTP/2 connection to a gRPC server: send_headers, send_data, receive, close.

    Opening it sends the connection preface and the client's SETTINGS. `frames` holds every frame
    that went out or came in so far, in order.
    """

    def __init__(self, address: str, timeout: float = TIMEOUT):
        self.address, self.timeout = address, timeout
        host, port = host_and_port(address)
        try:
            self.socket = socket.create_connection((host, port), timeout=timeout)
        except ConnectionRefusedError:
            raise WireError(f"nothing listens at {address}: is the server running?") from None
        except TimeoutError:
            raise WireError(f"no connection to {address} within {timeout:g} s") from None
        except OSError as error:
            raise WireError(f"could not connect to {address}: {error.strerror or error}") from None
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.outgoing, self.incoming = FrameReader(SENT, expect_preface=True), FrameReader(RECEIVED)
        self.frames: list[FrameRow] = []
        self.responses: dict[int, Response] = {}
        self.h2.initiate_connection()
        self.flush()

    def flush(self) -> None:
        """Send what h2 has queued (frames, and h2's own replies such as SETTINGS ACK), and record it."""
        data = self.h2.data_to_send()
        if not data:
            return
        self.frames += self.outgoing.feed(data)
        try:
            self.socket.sendall(data)
        except OSError as error:
            raise WireError(f"the connection to {self.address} broke while sending: "
                            f"{error.strerror or error}") from None

    def send_headers(self, headers: list[tuple[str, str]], end_stream: bool = False) -> int:
        """Open a new stream with a HEADERS frame; returns its stream id (1, 3, 5, ...: clients use odd ids)."""
        stream_id = self.h2.get_next_available_stream_id()
        try:
            self.h2.send_headers(stream_id, headers, end_stream=end_stream)
        except h2.exceptions.ProtocolError as error:
            raise WireError(f"h2 refused these headers: {error}") from None
        self.responses[stream_id] = Response()
        self.flush()
        return stream_id

    def send_data(self, stream_id: int, data: bytes, end_stream: bool = False) -> None:
        """One DATA frame with `data` on the stream; `end_stream` says the client has nothing more to send."""
        try:
            self.h2.send_data(stream_id, bytes(data), end_stream=end_stream)
        except (h2.exceptions.ProtocolError, h2.exceptions.FlowControlError) as error:
            raise WireError(f"h2 refused this DATA frame: {error}") from None
        self.flush()

    def receive(self, stream_id: int) -> Response:
        """Read until the stream ends (or is reset); at most `timeout` seconds in all."""
        response = self.responses[stream_id]
        deadline = time.monotonic() + self.timeout
        while not self.finished(stream_id):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WireError(f"stream {stream_id} did not end within {self.timeout:g} s")
            self.socket.settimeout(remaining)
            try:
                data = self.socket.recv(READ_SIZE)
            except TimeoutError:
                raise WireError(f"stream {stream_id} did not end within {self.timeout:g} s") from None
            except OSError as error:
                raise WireError(f"the connection broke: {error.strerror or error}") from None
            if not data:
                raise WireError(f"the server closed the connection before stream {stream_id} ended")
            self.frames += self.incoming.feed(data)
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as error:
                raise WireError(f"the server broke an HTTP/2 rule: {error}") from None
            for event in events:
                self.handle(event)
            self.flush()
        response.frames = list(self.frames)
        return response

    def finished(self, stream_id: int) -> bool:
        response = self.responses[stream_id]
        return response.ended or response.reset is not None

    def handle(self, event) -> None:
        response = self.responses.get(getattr(event, "stream_id", None) or 0)
        if isinstance(event, h2.events.ConnectionTerminated):
            raise WireError(f"the server closed the connection (GOAWAY, {event.error_code.name})")
        if response is None:
            return
        if isinstance(event, h2.events.ResponseReceived):
            response.headers = list(event.headers)
            if event.stream_ended:
                response.trailers, response.trailers_only = list(event.headers), True
        elif isinstance(event, h2.events.DataReceived):
            response.data.append(bytes(event.data))
            self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
        elif isinstance(event, h2.events.TrailersReceived):
            response.trailers = list(event.headers)
        elif isinstance(event, h2.events.StreamEnded):
            response.ended = True
        elif isinstance(event, h2.events.StreamReset):
            response.reset = error_name(event.error_code)

    def close(self) -> None:
        """Say goodbye (GOAWAY) and close the socket."""
        try:
            self.h2.close_connection()
            self.flush()
        except (WireError, h2.exceptions.ProtocolError):
            pass  # the server went first: nothing to say goodbye to
        finally:
            self.socket.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def call(address: str, headers: list[tuple[str, str]], body: bytes, timeout: float = TIMEOUT) -> Response:
    """A whole call on a connection of its own: HEADERS, one DATA frame with `body` that ends the
    client's side, then everything up to the end of the stream. `.frames` holds the frames, both ways."""
    with Connection(address, timeout) as connection:
        stream_id = connection.send_headers(headers)
        connection.send_data(stream_id, body, end_stream=True)
        response = connection.receive(stream_id)
    response.frames = list(connection.frames)
    return response
