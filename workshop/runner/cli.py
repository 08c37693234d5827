"""`python server_runner.py serve|list|logs|stop|room`: the runner from a terminal.

`list`, `logs` and `stop` work on every server of the kit, whoever started it, through the
registry. `stop` signals only a process whose start time matches its entry, waits for it (a
bounded wait) and says what really happened. The hidden `_child` command is how start() runs a server.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from workshop.runner import addresses, child, registry
from workshop.runner.handle import REFERENCE_SERVERS, resolve

STOP_WAIT = child.DEFAULT_GRACE + child.STOP_PATIENCE  # seconds `stop` waits before it kills


def _list(_args) -> int:
    servers = registry.list_servers()
    if not servers:
        print("no servers running")
        return 0
    rows = [("NAME", "ADDRESS", "PID", "STARTED BY")]
    rows += [(entry.name, entry.address, str(entry.pid),
              f"process {entry.parent_pid}" if entry.parent_pid else "a terminal (serve)") for entry in servers]
    name, address, pid = (max(len(row[column]) for row in rows) for column in range(3))  # columns as wide as needed
    for row in rows:
        print(f"{row[0]:<{name}}  {row[1]:<{address}}  {row[2]:>{pid}}  {row[3]}")
    return 0


def _matching(which: str) -> list[registry.ServerEntry]:
    return [entry for entry in registry.list_servers() if which in (entry.name, str(entry.pid))]


def _no_such_server(which: str) -> int:
    print(f"no running server named {which[:60]!r}; `python server_runner.py list` shows them")
    return 1


def _logs(args) -> int:
    matches = _matching(args.server)
    if not matches:
        return _no_such_server(args.server)
    for entry in matches:
        print(f"== {entry.name} (pid {entry.pid}) ==")
        print(registry.tail(Path(entry.log), args.lines) if entry.log else "(its output goes to its terminal)")
    return 0


def _gone(process) -> bool:
    import psutil

    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(process, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not _gone(process):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def stop_entry(entry: registry.ServerEntry) -> tuple[bool, str]:
    """Stop one registered server; (is it gone, what happened). Its process is checked to be the one
    the entry describes before any signal, and again by psutil before each one."""
    import psutil

    label = f"{entry.name} (pid {entry.pid})"
    try:
        process = psutil.Process(entry.pid)
        if abs(process.create_time() - entry.create_time) >= registry.SAME_START:
            return True, f"{label} had already stopped"
        process.terminate()
    except psutil.NoSuchProcess:
        return True, f"{label} had already stopped"
    except psutil.AccessDenied:
        return False, f"could not stop {label}: this user may not signal it"
    if _wait_gone(process, STOP_WAIT):
        return True, f"stopped {label}"
    try:
        process.kill()
    except psutil.NoSuchProcess:
        pass
    except psutil.AccessDenied:
        return False, f"{label} did not stop within {STOP_WAIT:g} s, and this user may not kill it"
    gone = _wait_gone(process, 5)
    if entry.log:
        with contextlib.suppress(OSError), open(entry.log, "a", encoding="utf-8") as log:
            log.write(f"server_runner stop: it did not stop within {STOP_WAIT:g} s; killed\n")
    return gone, f"{label} did not stop within {STOP_WAIT:g} s; killed" + ("" if gone else ", but it is still there")


def _stop(args) -> int:
    targets = registry.list_servers() if args.all else _matching(args.server or "")
    if not targets:
        if args.all:
            print("no servers running")
            return 0
        return _no_such_server(args.server)
    every_one_gone = True
    for entry in targets:
        gone, what_happened = stop_entry(entry)
        print(what_happened, flush=True)
        every_one_gone &= gone
    return 0 if every_one_gone else 1


def _serve(args) -> int:
    name, reference = resolve(args.target)

    def announce(address):
        print(f"{name} server ready at {address}  (Ctrl+C stops it)", flush=True)

    child.exit_now(child.run(reference, name, args.host, args.port, announce=announce))


def _room(args) -> int:
    """The instructor's chat server for the whole room, on the network on purpose, until Ctrl+C: over TLS
    with a password (workshop/room.py), or with --open, as it was before, for anyone who can reach it."""
    if args.open:
        def announce_open(address):
            print(f"The room's chat server is ready. Attendees paste this address into notebook 08:\n\n"
                  f"    {address}\n\n"
                  f"    ChatPane(\"{address}\", \"your name\")\n\n"
                  "Ctrl+C closes the room (and the port).", flush=True)

        child.exit_now(child.run(REFERENCE_SERVERS["chat"], "chat-room", args.host, args.port,
                                 announce=announce_open))
    from workshop import room

    password = args.password or room.new_password()
    problem = room.problem_with_password(password)
    if problem:
        print(f"--password: {problem}", file=sys.stderr)
        return 2
    folder = Path(args.keys) if args.keys else Path(tempfile.mkdtemp(prefix="workshop-room-"))
    keys = room.RoomKeys.kept_in(folder)
    os.environ[room.KEYS_SETTING], os.environ[room.PASSWORD_SETTING] = str(folder), password  # for the module

    def announce(address):
        print(f"The room's chat server is ready, over TLS, with a password. Attendees paste this line into "
              f"notebook 08:\n\n"
              f"    ChatPane(\"{address}\", \"your name\", password=\"{password}\", "
              f"fingerprint=\"{keys.fingerprint}\")\n\n"
              "The fingerprint proves to each pane that it reached your server; the password proves to your "
              "server that the pane's owner is in the room.\n"
              + (f"Its key stays in {folder}: a restart keeps the fingerprint.\n" if args.keys else
                 "A restart makes a new fingerprint (--keys DIR keeps one).\n")
              + "Ctrl+C closes the room (and the port).", flush=True)

    try:
        code = child.run(room.SERVER_MODULE, "chat-room", args.host, args.port, announce=announce)
    finally:
        if not args.keys:
            shutil.rmtree(folder, ignore_errors=True)  # a throwaway key leaves with its room
    child.exit_now(code)


def _child(args) -> int:
    child.exit_now(child.run(args.reference, args.name, args.host, args.port, parent_pid=args.parent,
                             log=args.log, server_id=args.id))


def _port(text: str) -> int:
    try:
        return addresses.checked_port(int(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error) if text.lstrip("-").isdigit() else
                                         "a port is a whole number from 0 to 65535 (0: any free port)") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python server_runner.py", description="Start, list and stop the "
                                     "kit's gRPC servers.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{serve,list,logs,stop,room}")
    serve = commands.add_parser("serve", help="run a server in the foreground until Ctrl+C")
    serve.add_argument("target", help=f"{' or '.join(REFERENCE_SERVERS)}, or the path of a server module")
    serve.add_argument("--host", type=addresses.bracketed, default=addresses.DEFAULT_HOST,
                       help="interface to listen on (default 127.0.0.1: this machine only); "
                            "0.0.0.0 opens the server to the network")
    serve.add_argument("--port", type=_port, default=0, help="port to listen on (default: one the OS picks)")
    serve.set_defaults(handler=_serve)
    room = commands.add_parser("room", help="instructors: serve the chat to the whole room until Ctrl+C")
    room.add_argument("--host", type=addresses.bracketed, default="0.0.0.0",
                      help="interface to listen on (default 0.0.0.0: every network)")
    room.add_argument("--port", type=_port, default=50051, help="port to listen on (default 50051)")
    room.add_argument("--password", help="the room's password (default: a new one, shown when it is ready)")
    room.add_argument("--keys", metavar="DIR", help="keep the room's key and certificate in DIR, so that a "
                      "restarted room keeps its fingerprint (default: a temporary folder, removed at the end)")
    room.add_argument("--open", action="store_true", help="no TLS and no password: anyone who can reach this "
                      "machine can read and post")
    room.set_defaults(handler=_room)
    commands.add_parser("list", help="show the kit's running servers").set_defaults(handler=_list)
    logs = commands.add_parser("logs", help="show the end of a running server's log")
    logs.add_argument("server", help="a name or pid from `list`")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.set_defaults(handler=_logs)
    stop = commands.add_parser("stop", help="stop running servers (waits for them, and kills one that hangs)")
    stop.add_argument("server", nargs="?", help="a name or pid from `list`")
    stop.add_argument("--all", action="store_true", help="stop every server of the kit")
    stop.set_defaults(handler=_stop)
    hidden = commands.add_parser("_child")  # how start() runs a server; not for people
    hidden.add_argument("reference")
    for option, kind in (("--name", str), ("--host", str), ("--port", int), ("--parent", int), ("--log", str),
                         ("--id", str)):
        hidden.add_argument(option, type=kind, required=True)
    hidden.set_defaults(handler=_child)
    return parser


def main(argv=None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "stop" and not (args.all or args.server):
        parser.error("stop needs a server name or pid, or --all")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
