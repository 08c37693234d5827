"""The bearer tokens of chapter 13's users service, and who may call what.

A real service checks a token with whoever issued it (an OAuth 2 server, an API gateway, a table of
API keys in a database). Here one small table stands in for all of that, so that Exercise 13.1 is
about the interceptor: reading the token, telling "who are you?" from "you may not", and letting
health checks through.
"""
from __future__ import annotations

TOKENS = {"alice-7f3c9a2e51": "alice", "guest-2b81d4c6e0": "guest"}  # bearer token → who holds it
WRITERS = {"alice"}  # who may change the directory
WRITES = {"/users.v1.UserManager/AddUser"}  # the methods that change it: every other method only reads


def who_holds(token: str) -> str | None:
    """The name of the token's holder; None for a token nobody holds."""
    return TOKENS.get(token)


def may_call(who: str, method: str) -> bool:
    """Whether `who` may call `method` (its whole path, /users.v1.UserManager/AddUser): everyone known reads,
    only WRITERS write."""
    return method not in WRITES or who in WRITERS
