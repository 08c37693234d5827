"""workshop.wire against the kit's real users server: a call by hand gets what the stub gets, the
frame table prints the same every run, and a server that is gone or silent is said so in time."""
import socket
import struct
import time

import pytest

import server_runner
from workshop import wire
from workshop.protos import users_pb2, users_pb2_grpc
from workshop.wire_frames import FrameReader
from workshop.wire_trace import grpc_view, wait_until_quiet


def headers(address: str, method: str, timeout: str = "5S") -> list[tuple[str, str]]:
    return [(":method", "POST"), (":scheme", "http"), (":path", f"/users.v1.UserManager/{method}"),
            (":authority", address), ("content-type", "application/grpc+proto"), ("te", "trailers"),
            ("grpc-timeout", timeout)]


def body(message) -> bytes:
    payload = message.SerializeToString()
    return struct.pack(">BI", 0, len(payload)) + payload


def get_user(address: str, user_id: int) -> wire.Response:
    return wire.call(address, headers(address, "GetUser"), body(users_pb2.UserRequest(id=user_id)))


def test_hand_made_get_user_returns_the_same_user_as_the_stub(users_server):
    response = get_user(users_server.address, 2)
    (data,) = response.data
    assert data[:5] == struct.pack(">BI", 0, len(data) - 5)
    with users_server.channel() as channel:
        expected = users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=2), timeout=5)
    assert users_pb2.UserResponse.FromString(data[5:]) == expected
    assert dict(response.headers)[":status"] == "200"
    assert dict(response.trailers)["grpc-status"] == "0" and not response.trailers_only


def test_unknown_user_is_a_trailers_only_response(users_server):
    response = get_user(users_server.address, 999)
    assert response.trailers_only and response.data == []
    assert dict(response.trailers)["grpc-status"] == "5"
    assert dict(response.trailers)["grpc-message"] == "no user has id 999"


def test_server_stream_arrives_as_data_frames_then_trailers(users_server):
    response = wire.call(users_server.address, headers(users_server.address, "GetUsersByType"),
                         body(users_pb2.UserTypeRequest(user_type=users_pb2.USER_TYPE_NORMAL)))
    kinds = [row.kind for row in response.frames if row.stream == 1 and row.direction == "←"]
    assert kinds == ["HEADERS"] + ["DATA"] * len(response.data) + ["HEADERS"]
    assert b"".join(response.data).count(b"@example.com") == 3


def test_table_is_the_same_on_two_runs(users_server):
    first, second = (wire.table(get_user(users_server.address, 1).frames) for _ in range(2))
    assert first == second
    for varies in ("PING", "WINDOW_UPDATE"):
        assert f"  {varies} " not in first.replace("(connection upkeep", "")
    assert ":path: /users.v1.UserManager/GetUser" in first and "grpc-status: 0" in first


def test_table_with_upkeep_lists_pings_without_their_data(users_server):
    response = get_user(users_server.address, 1)
    table = wire.table(response.frames, upkeep=True)
    assert "SETTINGS       0       ACK" in table
    pings = [row for row in response.frames if row.kind == "PING"]
    assert all(row.carries in (("8 bytes to echo back",), ("the 8 bytes echoed back",)) for row in pings)


def test_a_call_to_a_stopped_server_says_nothing_listens():
    server = server_runner.start("users")
    address = server.address
    server.stop()
    started = time.monotonic()
    with pytest.raises(wire.WireError, match="nothing listens at .*: is the server running"):
        get_user(address, 1)
    assert time.monotonic() - started < 2


def test_a_server_that_never_answers_ends_within_the_timeout():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts the connection, never says a word
    address = f"127.0.0.1:{silent.getsockname()[1]}"
    try:
        started = time.monotonic()
        with pytest.raises(wire.WireError, match="did not end within 0.5 s"):
            wire.call(address, headers(address, "GetUser"), body(users_pb2.UserRequest(id=1)), timeout=0.5)
        assert time.monotonic() - started < 2
    finally:
        silent.close()


def test_an_address_off_this_machine_is_refused_before_connecting():
    with pytest.raises(wire.WireError, match="only talks to servers on this machine"):
        wire.Connection("192.0.2.1:50051")


def test_a_frame_cut_anywhere_is_read_once_whole():
    whole = bytes.fromhex("000004080000000000000003e8")  # WINDOW_UPDATE, stream 0, +1000
    reader = FrameReader("←")
    rows = [row for byte in whole for row in reader.feed(bytes([byte]))]
    assert [(row.kind, row.carries) for row in rows] == [("WINDOW_UPDATE", ("send 1000 more bytes",))]


def test_grpcio_trace_shows_the_call_and_nothing_that_varies():
    with server_runner.start("users", env={"GRPC_TRACE": "http", "GRPC_VERBOSITY": "debug"}) as traced:
        seen = wait_until_quiet(traced)
        with traced.channel() as channel:
            users_pb2_grpc.UserManagerStub(channel).GetUser(users_pb2.UserRequest(id=1), timeout=5)
        wait_until_quiet(traced, after=seen)
        view = grpc_view(traced.logs(5000))
    assert "read DATA END_STREAM on stream 1, 7 bytes" in view
    assert any(line.startswith("sends headers: :status: 200") for line in view)
    assert any("grpc-status: OK" in line for line in view if line.startswith("sends trailers"))
    assert not any("127.0.0.1" in line or "0x7f" in line for line in view)
