"""Every gRPC status code: what it means, who usually sends it, and whether trying again can help.

Notebook 11 shows this as a table, built from grpc.StatusCode so that no code is left out. The
words follow the gRPC documentation (doc/statuscodes.md) and what grpcio does: grpcio itself sends
UNKNOWN for an exception in a servicer, INTERNAL for a request it cannot decode, UNIMPLEMENTED for
a method nobody registered.
"""
from __future__ import annotations

import grpc

CODES = {  # name: (what it means, who sends it, can a retry help)
    "OK": ("the call succeeded", "the application", "nothing to retry"),
    "CANCELLED": ("the call was cancelled, usually by its caller", "the library, after a cancel",
                  "no: someone chose to stop"),
    "UNKNOWN": ("an error with no better code; in grpcio, an exception in a servicer method", "the library",
                "rarely: it is a bug somewhere"),
    "INVALID_ARGUMENT": ("the request is wrong, whatever the server's state", "the application",
                         "no: fix the request"),
    "DEADLINE_EXCEEDED": ("the deadline passed before the call ended (the work may still have been done)",
                          "the library, on either side", "maybe, with a new deadline, if the call is idempotent"),
    "NOT_FOUND": ("what the request names does not exist", "the application", "no"),
    "ALREADY_EXISTS": ("what the request would create exists already", "the application", "no"),
    "PERMISSION_DENIED": ("the caller is known, but may not do this", "the application or an interceptor", "no"),
    "RESOURCE_EXHAUSTED": ("a limit was reached: a quota, the message size, the server's calls at once",
                           "either", "later, for a quota; never for a message that is too large"),
    "FAILED_PRECONDITION": ("the system is not in a state for this call (delete a folder that is not empty)",
                            "the application", "not until the state changes"),
    "ABORTED": ("a conflict with another call, such as a transaction that lost a race", "the application",
                "yes, the whole read-modify-write"),
    "OUT_OF_RANGE": ("past the valid range, such as reading past the end", "the application", "no"),
    "UNIMPLEMENTED": ("the server has no such method", "the library", "no"),
    "INTERNAL": ("something the protocol guarantees broke, such as a request that cannot be decoded",
                 "the library", "rarely"),
    "UNAVAILABLE": ("the server cannot be reached now, or is shutting down", "the library",
                    "yes: the code to retry, with backoff"),
    "DATA_LOSS": ("data was lost or corrupted for good", "the application", "no"),
    "UNAUTHENTICATED": ("the caller's credentials are missing or not valid", "the application or an interceptor",
                        "not with the same credentials"),
}


def rows() -> list[tuple[str, int, str, str, str]]:
    """(name, number, meaning, who sends it, retry) for every grpc.StatusCode, in number order."""
    return [(code.name, code.value[0], *CODES[code.name]) for code in grpc.StatusCode]


def markdown_table() -> str:
    lines = ["| code | name | what it means | sent by | try again? |", "|---:|---|---|---|---|"]
    lines += [f"| {number} | `{name}` | {meaning} | {who} | {retry} |" for name, number, meaning, who, retry in rows()]
    return "\n".join(lines)
