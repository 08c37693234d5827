"""The secure room: TLS with a certificate attendees check by its fingerprint, and a password on every call.

The room command is run as an instructor runs it (its printed line is what panes are given), and
the chat connection is judged by the status a learner reads in a pane: joined, or stopped with a
reason that says what to fix.
"""
import datetime
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cryptography import x509

import server_runner
from workshop import room
from workshop.chat_connection import ChatConnection
from workshop.chat_pane import ChatPane
from workshop.chat_types import State

RUNNER = str(Path(server_runner.__file__))
WAIT = 10.0
PASSWORD = "good-pass"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("room-keys")
    return folder, room.RoomKeys.kept_in(folder)


@pytest.fixture(scope="module")
def secure_room(keys):
    with room.start_here(keys[0], PASSWORD) as server:
        yield server


def settled(connection: ChatConnection) -> ChatConnection:
    connection.wait_until(lambda c: c.connected or c.status.state is State.STOPPED, WAIT)
    return connection


def test_a_connection_with_the_password_and_fingerprint_joins_and_talks(secure_room, keys):
    with ChatConnection(secure_room.address, "alice", password=PASSWORD, fingerprint=keys[1].fingerprint) as alice:
        assert settled(alice).connected, alice.status
        assert alice.send("hello, secure room") is None
        assert alice.wait_until(lambda c: ("alice", "hello, secure room") in c.messages, WAIT)


def test_the_fingerprint_may_be_typed_in_lowercase_without_spaces(secure_room, keys):
    typed = keys[1].fingerprint.replace(" ", "").lower()
    with ChatConnection(secure_room.address, "bob", password=PASSWORD, fingerprint=typed) as bob:
        assert settled(bob).connected, bob.status


@pytest.mark.parametrize("password, says", [("bad-pass1", "wrong password"), (None, "needs its password")])
def test_a_wrong_or_missing_password_stops_with_unauthenticated(secure_room, keys, password, says):
    with ChatConnection(secure_room.address, "eve", password=password, fingerprint=keys[1].fingerprint) as eve:
        assert settled(eve).status.state is State.STOPPED, eve.status
        assert "UNAUTHENTICATED" in eve.status.detail and says in eve.status.detail, eve.status


def test_another_fingerprint_stops_before_the_password_is_sent(secure_room, keys):
    with ChatConnection(secure_room.address, "eve", password=PASSWORD, fingerprint="0000 1111 2222 3333") as eve:
        assert settled(eve).status.state is State.STOPPED
        assert f"shows the fingerprint {keys[1].fingerprint}" in eve.status.detail
        assert "not the room you were given" in eve.status.detail
    assert f"Bearer {PASSWORD}" not in secure_room.logs()


def test_a_pane_without_the_secrets_is_refused_with_a_clear_message(secure_room):
    pane = ChatPane(secure_room.address, "mallory")
    try:
        assert pane.wait_until(lambda p: p.state is State.STOPPED, WAIT), pane.status
        assert "is a secure one" in pane.status and "password=" in pane.status and "fingerprint=" in pane.status
    finally:
        pane.close()


def test_secrets_given_to_an_open_room_are_refused_clearly(chat_server, keys):
    with ChatConnection(chat_server.address, "eve", password=PASSWORD, fingerprint=keys[1].fingerprint) as eve:
        assert settled(eve).status.state is State.STOPPED
        assert "does not answer over TLS" in eve.status.detail and "leave out password=" in eve.status.detail


@pytest.mark.parametrize("password, fingerprint, says", [
    ("good-pass", None, "goes with the room's fingerprint"),
    ("short", "0000 1111 2222 3333", "6 to 64 characters"),
    ("with space", "0000 1111 2222 3333", "no spaces"),
    ("good-pass", "0000 1111", "has 8 digits"),
    ("good-pass", "not hex at all!!", "hexadecimal"),
])
def test_impossible_secrets_are_refused_before_anything_connects(password, fingerprint, says):
    with pytest.raises(ValueError, match=says):
        ChatPane("127.0.0.1:1", "alice", password=password, fingerprint=fingerprint)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:", "127.0.0.1:port", "127.0.0.1:70000", ":50051"])
def test_an_address_without_a_port_is_refused_before_anything_connects(address):
    with pytest.raises(ValueError, match="host:port, such as"):
        ChatPane(address, "alice", password=PASSWORD, fingerprint="0000 1111 2222 3333")
    with pytest.raises(ValueError, match="host:port, such as"):
        ChatConnection(address, "alice")


def test_kept_keys_survive_a_restart_and_stay_private(tmp_path):
    first = room.RoomKeys.kept_in(tmp_path)
    assert room.RoomKeys.kept_in(tmp_path) == first
    assert (tmp_path / room.KEY_FILE).stat().st_mode & 0o077 == 0
    certificate = x509.load_pem_x509_certificate(first.certificate)
    names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert room.ROOM_NAME in names.get_values_for_type(x509.DNSName)
    assert re.fullmatch(r"([0-9A-F]{4} ){3}[0-9A-F]{4}", first.fingerprint)


def test_kept_keys_about_to_expire_are_made_anew(tmp_path, monkeypatch):
    first = room.RoomKeys.kept_in(tmp_path)
    monkeypatch.setattr(room.RoomKeys, "valid_for", lambda self: datetime.timedelta(hours=1))
    assert room.RoomKeys.kept_in(tmp_path) != first


def test_new_passwords_are_valid_and_differ():
    passwords = {room.new_password() for _ in range(20)}
    assert len(passwords) == 20 and not any(room.problem_with_password(p) for p in passwords)


def _room_command(*args: str) -> tuple[subprocess.Popen, str]:
    serving = subprocess.Popen([sys.executable, RUNNER, "room", "--host", "127.0.0.1", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    output = ""
    while "Ctrl+C closes the room" not in output:
        line = serving.stdout.readline()
        if not line:
            serving.kill()
            raise AssertionError(serving.stderr.read())
        output += line
    return serving, output


def _stopped(serving: subprocess.Popen) -> str:
    serving.send_signal(signal.SIGINT)
    assert serving.wait(timeout=15) == 0
    return serving.stdout.read()


def _room_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("workshop-room-*"))


def test_the_room_command_prints_the_line_that_joins_it():
    before = _room_folders()
    serving, output = _room_command()
    try:
        line = re.search(r'ChatPane\("(?P<address>[^"]+)", "your name", password="(?P<password>[^"]+)", '
                         r'fingerprint="(?P<fingerprint>[^"]+)"\)', output)
        assert line, output
        pane = ChatPane(line["address"], "alice", password=line["password"], fingerprint=line["fingerprint"])
        try:
            assert pane.wait_until_connected(WAIT), pane.status
            assert pane.send("hi, room") and pane.wait_for_messages(1, WAIT)
        finally:
            pane.close()
        made = _room_folders() - before
        assert made, "the room keeps its throwaway key in a temporary folder"
    finally:
        _stopped(serving)
    assert not made & _room_folders(), "the throwaway key leaves with its room"


def test_the_room_keeps_its_fingerprint_in_a_folder_asked_for(tmp_path):
    fingerprints = []
    for _ in range(2):
        serving, output = _room_command("--keys", str(tmp_path), "--password", "our-room-1")
        _stopped(serving)
        assert 'password="our-room-1"' in output and "a restart keeps the fingerprint" in output
        fingerprints.append(re.search(r'fingerprint="([^"]+)"', output)[1])
    assert fingerprints[0] == fingerprints[1] == room.RoomKeys.kept_in(tmp_path).fingerprint


def test_the_room_command_refuses_a_password_it_cannot_send():
    refused = subprocess.run([sys.executable, RUNNER, "room", "--port", "0", "--password", "tiny"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "6 to 64 characters" in refused.stderr and "Traceback" not in refused.stderr
