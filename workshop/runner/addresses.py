"""Hosts and ports: which the runner accepts, how it writes them, and which open a server to the network.

A server listens on 127.0.0.1 unless someone names another host; any host that is not loopback
gets the same warning, whether it came from the Python API or the command line.
"""
from __future__ import annotations

import ipaddress
import socket

DEFAULT_HOST = "127.0.0.1"
# How this machine dials a wildcard host (the server listens on every interface, loopback included).
WILDCARDS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}
OPEN_WARNING = ("WARNING: listening on {host}, not only on this machine: anyone who can reach this computer "
                "on the network can call this server, with no encryption and no password. "
                "Stop it (Ctrl+C) as soon as the session is over.")


def checked_port(port) -> int:
    """`port` if it is one a server can listen on (0: any free port); ValueError otherwise."""
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        shown = repr(port)[:20]
        raise ValueError(f"port {shown} cannot be used: a port is a whole number from 0 to 65535 (0: any free port)")
    return port


def bracketed(host: str) -> str:
    """The host as gRPC addresses write it: an IPv6 address in brackets ('::1' → '[::1]')."""
    host = host.strip()
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host


def is_loopback(host: str) -> bool:
    """True if only this machine can reach `host` (127.x.x.x, ::1, localhost)."""
    bare = host.strip("[]")
    if bare.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare).is_loopback
    except ValueError:
        return False  # a name: it may well be this machine's address on the network


OPEN_TLS_WARNING = ("WARNING: listening on {host}, not only on this machine: anyone who can reach this computer "
                    "on the network can reach this server. Its calls travel over TLS; who may make them is the "
                    "server's to check. Stop it (Ctrl+C) as soon as the session is over.")


def open_warning(host: str, tls: bool = False) -> str:
    """The warning for a server open to the network; `tls`: it serves over TLS (so: encrypted, not unguarded)."""
    return (OPEN_TLS_WARNING if tls else OPEN_WARNING).format(host=host[:60])


def probe_address(host: str, port: int) -> str:
    """Where this machine reaches a server listening on `host`."""
    return f"{WILDCARDS.get(host, host)}:{port}"


def reachable_address(host: str, port: int) -> str:
    """The address others dial: this machine's address in the room for a wildcard host."""
    return f"{lan_address()}:{port}" if host in WILDCARDS else f"{host}:{port}"


def lan_address() -> str:
    """The address other machines in the room would use to reach this one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a documentation address: connect() on UDP only picks a route
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()
