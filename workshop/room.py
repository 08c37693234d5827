"""The secure room's two secrets: a certificate that proves the server is the instructor's, and a
password that proves an attendee was in the room.

`server_runner.py room` serves the chat over TLS with a certificate of its own (self-signed: no
authority anyone else trusts) and wants a password on every call. Attendees cannot be handed a
certificate file on a conference network, so the instructor shows its **fingerprint** instead, as
SSH does for a host key: the pane fetches the server's certificate, compares its fingerprint with
the one it was given, and only then trusts that certificate for the gRPC channel. The certificate
names ROOM_NAME, whatever the instructor's address on that network: a client checks that name,
never the address it dialled. The password travels as a bearer token (`authorization` metadata),
which gRPC sends only over a secure channel.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import re
import secrets
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from workshop.tls import LOOPBACK, Authority

ROOM_NAME = "workshop-room"  # the name in the room's certificate; clients verify it (ssl_target_name_override)
FINGERPRINT_DIGITS = 16  # hex digits shown and compared: 64 bits of SHA-256, short enough to type from a screen
PASSWORD_LETTERS = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read off a projector
KEY_FILE, CERTIFICATE_FILE = "room-key.pem", "room-certificate.pem"
FETCH_TIMEOUT = 3.0
SERVER_MODULE = "workshop.servers.secure_chat"  # the room's server; it reads its keys and password from:
KEYS_SETTING, PASSWORD_SETTING = "WORKSHOP_ROOM_KEYS", "WORKSHOP_ROOM_PASSWORD"


class NotTheRoom(Exception):
    """The server reached is not the room a pane was told to join; the message says what to check."""


def fingerprint(certificate_pem: bytes) -> str:
    """The certificate's fingerprint as shown to attendees: 'AB12 CD34 EF56 7890'."""
    der = ssl.PEM_cert_to_DER_cert(certificate_pem.decode())
    digits = hashlib.sha256(der).hexdigest()[:FINGERPRINT_DIGITS].upper()
    return " ".join(digits[i:i + 4] for i in range(0, FINGERPRINT_DIGITS, 4))


def problem_with_fingerprint(given: str) -> str | None:
    """Why `given` cannot be a room's fingerprint; None if it can (spaces, colons and case do not matter)."""
    digits = re.sub(r"[\s:-]", "", given or "")
    if not re.fullmatch(r"[0-9A-Fa-f]+", digits or "-"):
        return "a fingerprint is hexadecimal digits (0-9, A-F), as the instructor's screen shows them"
    if len(digits) < FINGERPRINT_DIGITS:
        return f"the fingerprint has {len(digits)} digits; the room's has {FINGERPRINT_DIGITS}"
    return None


def same_fingerprint(given: str, certificate_pem: bytes) -> bool:
    expected = fingerprint(certificate_pem).replace(" ", "")
    digits = re.sub(r"[\s:-]", "", given).upper()[:FINGERPRINT_DIGITS]
    return hmac.compare_digest(digits, expected)


def new_password() -> str:
    """Eight letters and digits in two groups, e.g. 'k7dm-x3qa' (40 bits: plenty for one session)."""
    letters = "".join(secrets.choice(PASSWORD_LETTERS) for _ in range(8))
    return f"{letters[:4]}-{letters[4:]}"


def problem_with_password(password: str) -> str | None:
    """Why `password` will not do for a room; None if it will."""
    if not 6 <= len(password) <= 64:
        return "a room's password is 6 to 64 characters long"
    if not password.isprintable() or password != password.strip() or " " in password:
        return "a room's password has no spaces or control characters (it travels in a header)"
    return None


def right_password(given: str, password: str) -> bool:
    return hmac.compare_digest(given.encode(), password.encode())  # in constant time: no guessing letter by letter


def fetch_certificate(address: str, timeout: float = FETCH_TIMEOUT) -> bytes:
    """The certificate the server at `address` shows in its TLS handshake, as PEM, trusted by no one yet:
    compare its fingerprint before using it. OSError (ssl.SSLError included) when there is none to fetch."""
    host, _, port = address.rpartition(":")
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # on purpose: the fingerprint is what vouches for it
    context.set_alpn_protocols(["h2"])  # as gRPC offers
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=ROOM_NAME) as connection:
        return ssl.DER_cert_to_PEM_cert(connection.getpeercert(binary_form=True)).encode()


def start_here(folder: Path, password: str):
    """The secure room on this machine only (127.0.0.1, a free port), as server_runner.start starts a server: its
    keys kept in `folder`. For notebooks and tests; the instructor's room is `python server_runner.py room`."""
    import server_runner

    return server_runner.start(str(Path(__file__).parent / "servers" / "secure_chat.py"),
                               env={KEYS_SETTING: str(folder), PASSWORD_SETTING: password})


@dataclass(frozen=True)
class RoomKeys:
    """The room's key and self-signed certificate, named ROOM_NAME (and this machine's loopback)."""

    key: bytes
    certificate: bytes

    @classmethod
    def create(cls, days: float = 2) -> RoomKeys:
        authority = Authority.create("workshop room", days=days, hosts=(ROOM_NAME, *LOOPBACK))
        return cls(authority.key_pem, authority.pem)

    @classmethod
    def kept_in(cls, folder: Path) -> RoomKeys:
        """The keys saved in `folder`, made and saved there first if it has none (a restarted room keeps
        its fingerprint). Only this user may read the key."""
        folder.mkdir(parents=True, exist_ok=True)
        key_path, certificate_path = folder / KEY_FILE, folder / CERTIFICATE_FILE
        if key_path.is_file() and certificate_path.is_file():
            kept = cls(key_path.read_bytes(), certificate_path.read_bytes())
            if kept.valid_for() > datetime.timedelta(hours=4):  # a session's worth left: keep it
                return kept
        keys = cls.create()
        key_path.touch(mode=0o600)
        key_path.write_bytes(keys.key)
        certificate_path.write_bytes(keys.certificate)
        return keys

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.certificate)

    def valid_for(self) -> datetime.timedelta:
        expires = x509.load_pem_x509_certificate(self.certificate).not_valid_after_utc
        return expires - datetime.datetime.now(datetime.timezone.utc)
