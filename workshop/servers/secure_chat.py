"""The reference chat room over TLS, behind a password: what `server_runner.py room` serves.

The room's keys and password come from the environment, set by the room command (or by a test):
WORKSHOP_ROOM_KEYS names the folder with its key and certificate (workshop/room.py makes them),
WORKSHOP_ROOM_PASSWORD is the password. Every call but health needs `authorization: Bearer
<password>`, which a client's grpc.access_token_call_credentials(password) sends.
"""
from __future__ import annotations

import os
from pathlib import Path

import grpc
import grpc.aio

from workshop.interceptors import refusing_async
from workshop.room import KEYS_SETTING, PASSWORD_SETTING, RoomKeys, right_password
from workshop.servers import chat

ASYNCIO = True
NO_PASSWORD = ("this room needs its password: paste the whole line the instructor shows, "
               "ChatPane(address, name, password=..., fingerprint=...)")
WRONG_PASSWORD = "wrong password for this room: check it against the instructor's screen"


def _setting(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise RuntimeError(f"{name} is not set: `python server_runner.py room` sets it (this module is the room's)")
    return value


class PasswordCheck(grpc.aio.ServerInterceptor):
    """Lets through calls that carry the room's password as a bearer token, and health checks."""

    def __init__(self, password: str):
        self.password = password

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler_call_details.method.startswith("/grpc.health."):
            return handler  # the runner's readiness probe, and anyone asking whether the room is up
        credentials = dict(handler_call_details.invocation_metadata).get("authorization", "")
        scheme, _, given = credentials.partition(" ")
        if scheme.lower() != "bearer" or not given:
            return refusing_async(handler, grpc.StatusCode.UNAUTHENTICATED, NO_PASSWORD)
        if not right_password(given, self.password):
            return refusing_async(handler, grpc.StatusCode.UNAUTHENTICATED, WRONG_PASSWORD)
        return handler


KEYS = RoomKeys.kept_in(Path(_setting(KEYS_SETTING)))
SERVER_CREDENTIALS = grpc.ssl_server_credentials([(KEYS.key, KEYS.certificate)])
ROOT_CERTIFICATES = KEYS.certificate  # self-signed: the runner's probe trusts the room's own certificate
INTERCEPTORS = [PasswordCheck(_setting(PASSWORD_SETTING))]


def add_to_server(server) -> None:
    chat.add_to_server(server)
