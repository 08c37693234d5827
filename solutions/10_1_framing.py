%%writefile my_framing.py
"""Exercise 10.1: gRPC's message framing, and the status in the trailers."""
import struct
from urllib.parse import unquote

PREFIX = struct.Struct(">BI")  # 1 byte: compressed or not; 4 bytes: the length, big-endian
UNKNOWN = 2  # the status a client must assume when the trailers carry no grpc-status


def encode(payload: bytes, compressed: bool = False) -> bytes:
    """One message on the wire: the 5-byte prefix, then the payload."""
    return PREFIX.pack(1 if compressed else 0, len(payload)) + payload


class Decoder:
    """Turns the bytes of DATA frames, cut anywhere, back into (compressed, payload) messages."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data: bytes) -> list[tuple[bool, bytes]]:
        self.buffer += data
        messages = []
        while len(self.buffer) >= PREFIX.size:
            flag, length = PREFIX.unpack_from(self.buffer)
            end = PREFIX.size + length
            if len(self.buffer) < end:
                break  # the rest of this message is still on its way
            messages.append((flag == 1, self.buffer[PREFIX.size:end]))
            self.buffer = self.buffer[end:]
        return messages

    def finish(self) -> None:
        if self.buffer:
            raise ValueError(f"the stream ended inside a message: {len(self.buffer)} bytes of it are left over")


def status_of(trailers: list[tuple[str, str]]) -> tuple[int, str]:
    """(grpc-status as an int, grpc-message percent-decoded) from a response's trailers."""
    fields = dict(trailers)
    if "grpc-status" not in fields:
        return UNKNOWN, "the trailers carry no grpc-status"
    return int(fields["grpc-status"]), unquote(fields.get("grpc-message", ""))
