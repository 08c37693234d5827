"""grpcio's own view of a call: the few lines of its HTTP trace that show frames and headers.

With GRPC_TRACE=http and GRPC_VERBOSITY=debug, grpcio's C core logs every step of its HTTP/2
transport: hundreds of lines for one call, each with a timestamp, a thread id, pointers and the
peer's port. `grpc_view` keeps what a learner can match with the frames of notebook 10 (the
settings it got, the frames it read on the call's stream, the headers, message and trailers it
sends) and drops what changes from run to run.
"""
from __future__ import annotations

import re
import time

CONNECTION_STARTS = re.compile(r"INCOMING\[\w+\]: SETTINGS len:")  # a client's first frame on a new connection
SETTING = re.compile(r"got setting (\w+) = (\d+)")
STREAM_FRAME = re.compile(r"INCOMING\[\w+\]: ([A-Z_]+)((?::[A-Z_]+)*) len:(\d+) id:0x([0-9a-f]+)")
SENT = re.compile(r"SEND_(INITIAL_METADATA|MESSAGE|TRAILING_METADATA)(?:\{([^}]*)\}|:flags=0x[0-9a-f]+:len=(\d+))")
SENT_WHAT = {"INITIAL_METADATA": "headers", "TRAILING_METADATA": "trailers"}
CONNECTION_ENDS = re.compile(r"reason=close_transport")
LOG_LINES = 5000  # of the server's log read at a time: a few calls' worth of trace
LINE_LIMIT = 120  # characters per line shown


def last_connection(lines: list[str]) -> list[str]:
    """The lines from the start of the last connection on: the call made last, not the health checks before it."""
    starts = [number for number, line in enumerate(lines) if CONNECTION_STARTS.search(line)]
    return lines[starts[-1]:] if starts else []


def grpc_view(log: str) -> list[str]:
    """Plain, stable lines for the last connection in a GRPC_TRACE=http server log."""
    view, settings = [], []
    for line in last_connection(log.splitlines()):
        if setting := SETTING.search(line):
            settings.append(f"{setting[1]}={setting[2]}")
            continue
        frame = STREAM_FRAME.search(line)
        if settings and (frame or "perform_stream_op[" in line):
            view.append("read the client's SETTINGS: " + ", ".join(settings))
            settings = []
        if frame and int(frame[4], 16) != 0 and frame[1] != "WINDOW_UPDATE":  # the call's own stream
            flags = " ".join(frame[2].strip(":").split(":"))
            size = f", {frame[3]} bytes" if frame[1] == "DATA" else ""  # a HEADERS length varies with the port
            view.append(f"read {frame[1]} {flags} on stream {int(frame[4], 16)}{size}".replace("  ", " "))
        elif "perform_stream_op[" in line:  # the call's operations, once each (not the _locked repeat)
            for kind, metadata, length in SENT.findall(line):
                if kind == "MESSAGE":
                    view.append(f"sends a message of {length} bytes")
                else:
                    view.append(f"sends {SENT_WHAT[kind]}: {metadata}"[:LINE_LIMIT])
    return view


def wait_until_quiet(server, after: int = 0, timeout: float = 5.0) -> int:
    """Wait until more than `after` connections have started, and every one of them has closed, in
    `server`'s trace log (its process writes it a moment later than a call ends); returns how many."""
    deadline = time.monotonic() + timeout
    while True:
        log = server.logs(LOG_LINES)
        started, ended = len(CONNECTION_STARTS.findall(log)), len(CONNECTION_ENDS.findall(log))
        if (started > after and started == ended) or time.monotonic() > deadline:
            return started
        time.sleep(0.05)
