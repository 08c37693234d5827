"""A channel to a chat room that waits for its server without a busy loop, and lets go of it cleanly.

Waiting uses gRPC's channel-ready future: it sleeps in gRPC's connectivity watcher, and gRPC
reconnects by itself (sooner than its default backoff, with CHANNEL_OPTIONS). Closing is the
delicate part, found the hard way in grpcio 1.85:

- The watcher is a thread that wakes every 0.2 s and ends at the first wake-up after its last
  future is done. Close the channel before that, and it raises ValueError ("Cannot monitor channel
  state: Channel closed!") in its own thread, where nobody can catch it: a notebook then shows the
  traceback in whatever cell runs next. No public API tells when the watcher has ended, so the
  channel is closed WATCHER_GRACE after the last future, on a timer: close() itself never waits.
- Cancelling a channel-ready future twice raises TypeError, and two threads may both cancel one.
"""
from __future__ import annotations

import ssl
import threading
import time

import grpc

from workshop import room

WATCHER_GRACE = 1.0  # seconds: five of the watcher's wake-ups
CHANNEL_OPTIONS = [  # reconnect soon after a server comes back (gRPC's default backoff grows to 2 minutes)
    ("grpc.initial_reconnect_backoff_ms", 500),
    ("grpc.min_reconnect_backoff_ms", 500),
    ("grpc.max_reconnect_backoff_ms", 5_000),
]


class RoomChannel:
    """A channel to `address`, insecure or with `credentials`, with a wait that close() ends at once."""

    def __init__(self, address: str, credentials: grpc.ChannelCredentials | None = None, options=()):
        options = [*CHANNEL_OPTIONS, *options]
        self.channel = (grpc.insecure_channel(address, options=options) if credentials is None
                        else grpc.secure_channel(address, credentials, options=options))
        self._lock = threading.Lock()
        self._ready: grpc.Future | None = None  # the wait in progress
        self._watcher_gone_at = 0.0  # when gRPC's watcher has surely ended
        self._closing = False

    def wait_until_ready(self, timeout: float) -> bool | None:
        """True once a server answers; False after `timeout` seconds; None when close() ended the wait."""
        with self._lock:  # close() cannot slip in between its check and a new future
            if self._closing:
                return None
            ready = self._ready = grpc.channel_ready_future(self.channel)
        try:
            ready.result(timeout=timeout)
            return True
        except grpc.FutureTimeoutError:
            return False
        except grpc.FutureCancelledError:
            return None
        finally:
            _cancel(ready)
            with self._lock:
                self._ready = None
                self._watcher_gone_at = time.monotonic() + WATCHER_GRACE

    def close(self) -> None:
        """End any wait now and close the channel once gRPC's watcher is surely gone. Twice is fine."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            ready = self._ready
            gone_at = self._watcher_gone_at
        if ready is not None:
            _cancel(ready)
            gone_at = time.monotonic() + WATCHER_GRACE
        delay = gone_at - time.monotonic()
        if delay <= 0:
            self._close_now()
            return
        try:
            threading.Timer(delay, self._close_now).start()
        except RuntimeError:  # at interpreter exit no thread may start; the process takes the channel along
            pass

    def _close_now(self) -> None:
        try:
            self.channel.close()
        except Exception:  # on a timer's thread: nobody is left to tell
            pass


def secure_room_channel(address: str, password: str | None, fingerprint: str) -> RoomChannel:
    """A channel to the secure room at `address`: over TLS, trusting the certificate the server shows once its
    fingerprint is the one given, with `password` on every call. NotTheRoom when the server is not that room;
    OSError while it does not answer."""
    try:
        certificate = room.fetch_certificate(address)
    except ssl.SSLError as error:
        raise room.NotTheRoom(f"the server at {address} does not answer over TLS ({error.reason or error}): "
                              "if the instructor's room is an open one, leave out password= and fingerprint=") from None
    if not room.same_fingerprint(fingerprint, certificate):
        raise room.NotTheRoom(f"the server at {address} shows the fingerprint {room.fingerprint(certificate)}, not "
                              f"{fingerprint.strip()[:40]}: it is not the room you were given (check the address and "
                              "the fingerprint on the instructor's screen; never copy the one this server shows: "
                              "an impostor shows its own)")
    credentials = grpc.ssl_channel_credentials(certificate)
    if password is not None:
        credentials = grpc.composite_channel_credentials(credentials, grpc.access_token_call_credentials(password))
    return RoomChannel(address, credentials, [("grpc.ssl_target_name_override", room.ROOM_NAME)])


def _cancel(ready: grpc.Future) -> None:
    try:
        ready.cancel()  # does nothing to a future that is done
    except TypeError:  # it was cancelled already, by the other thread
        pass
