"""Start, watch and stop gRPC servers in background processes, from a notebook or a terminal.

A notebook must never block on `server.wait_for_termination()`, and a server must never outlive
the kernel that started it. So each server runs in its own process (started with
`sys.executable`, never forked: fork after grpc is imported can hang), listens on 127.0.0.1 on a
port the OS picks, and dies with its parent however the parent dies.

Python:
    import server_runner
    users = server_runner.start("users")          # a reference server, or "my_server.py"
    users.address, users.logs(), users.stop()     # or: with server_runner.start("chat") as chat: ...

Terminal:
    python server_runner.py serve users           # in the foreground until Ctrl+C
    python server_runner.py list | logs NAME | stop NAME | stop --all
    python server_runner.py room                  # instructors: the chat, open to the room's network

A target is a reference server name (see REFERENCE_SERVERS) or the path of a module that defines
`add_to_server(server)` (and `ASYNCIO = True` if its servicers are `async def`). The runner builds
the server, adds the standard health and reflection services, and reports the bound port.
"""
from __future__ import annotations

import argparse
import atexit
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from concurrent import futures
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REFERENCE_SERVERS = {"users": "workshop.servers.users", "chat": "workshop.servers.chat"}
DEFAULT_HOST = "127.0.0.1"
DEFAULT_WORKERS = 32
KEPT_LOGS = 100  # older server logs are deleted when a server starts
LOOPBACK = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "[::]": "[::1]"}  # how this machine dials a wildcard host
# One server per port: without this, Linux lets a second server bind the same port and steal calls.
SERVER_OPTIONS = [("grpc.so_reuseport", 0)]
POSIX = os.name == "posix"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT} | ({signal.SIGUSR1} if POSIX else set())


class ServerStartError(RuntimeError):
    """The server did not reach SERVING; the message ends with the tail of its log."""


class ServerNotRunningError(grpc.RpcError, RuntimeError):
    """A handle, or a channel from it, was used after its server stopped or crashed.

    It is a grpc.RpcError with code UNAVAILABLE, so `except grpc.RpcError` still catches it, and
    its details say which server it was and how to start it again.
    """

    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return str(self)


class _RefuseWhenStopped(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                        grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Turns a call to a stopped server into ServerNotRunningError instead of a bare UNAVAILABLE."""

    def __init__(self, server: RunningServer):
        self.server = server

    def _call(self, continuation, details, request):
        self.server.ensure_running()
        return continuation(details, request)

    intercept_unary_unary = intercept_unary_stream = intercept_stream_unary = intercept_stream_stream = _call


def state_dir() -> Path:
    """Where the registry of running servers and their logs live, shared by every process of the kit."""
    return Path(os.environ.get("WORKSHOP_STATE_DIR") or ROOT / ".run")


def _registry_dir() -> Path:
    path = state_dir() / "servers"
    path.mkdir(parents=True, exist_ok=True)
    return path


# ---------------------------------------------------------------- the registry


def _process_is(pid: int, create_time: float | None) -> bool:
    """True if `pid` is alive and is the process we recorded (not a reuse of its number)."""
    import psutil

    try:
        process = psutil.Process(pid)
        alive = process.status() != psutil.STATUS_ZOMBIE
        return alive and (create_time is None or abs(process.create_time() - create_time) < 1.0)
    except psutil.Error:
        return False


def list_servers() -> list[dict]:
    """Every running server of the kit, whoever started it; entries of dead processes are dropped."""
    entries = []
    for path in sorted(_registry_dir().glob("*.json")):
        try:
            entry = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being written right now, or already removed
        if _process_is(entry["pid"], entry.get("create_time")):
            entries.append(entry)
        else:
            path.unlink(missing_ok=True)
    return sorted(entries, key=lambda e: e["started"])


def _register(entry: dict) -> Path:
    path = _registry_dir() / f"{entry['id']}.json"
    staged = path.with_suffix(".tmp")
    staged.write_text(json.dumps(entry, indent=1))
    staged.replace(path)
    return path


def _tail(path: Path, lines: int) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ---------------------------------------------------------------- the parent's side

_started: list[RunningServer] = []


class RunningServer:
    """A server running in a background process: its address, its log, and how to stop it."""

    def __init__(self, name: str, target: str, process: subprocess.Popen, log_path: Path, server_id: str):
        self.name, self.target, self.log_path, self.id = name, target, log_path, server_id
        self.address = ""
        self._process = process
        self._server_pid: int | None = None  # the server's own process, once it has registered

    @property
    def pid(self) -> int:
        """The server's process. (On Windows a venv's python.exe is a launcher that starts the
        real interpreter as its child, so this can differ from the process start() created.)"""
        return self._server_pid or self._process.pid

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def logs(self, lines: int = 40) -> str:
        """The last `lines` lines the server printed (its log file lives on after it stops)."""
        return _tail(self.log_path, lines)

    def channel(self, **options):
        """A new insecure channel to this server. Calls made on it once the server has stopped
        raise ServerNotRunningError, which names the server and says how to start it again."""
        self.ensure_running()
        return grpc.intercept_channel(grpc.insecure_channel(self.address, **options), _RefuseWhenStopped(self))

    def ensure_running(self) -> None:
        if not self.running:
            raise ServerNotRunningError(
                f"the {self.name!r} server is not running (its process exited with code "
                f"{self._process.returncode}). Start it again with server_runner.start({self.target!r}).\n"
                f"Its log ends with:\n{self.logs(10)}"
            )

    def stop(self, grace: float = 1.0) -> None:
        """Stop the server: in-flight calls get `grace` seconds, then the process is killed."""
        if self.running:
            self._process.terminate()
            if self._server_pid and self._server_pid != self._process.pid:
                try:
                    os.kill(self._server_pid, signal.SIGTERM)
                except OSError:
                    pass  # already gone with its launcher
            try:
                self._process.wait(timeout=grace + 4)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._process.stdin:
            self._process.stdin.close()
        (_registry_dir() / f"{self.id}.json").unlink(missing_ok=True)
        if self in _started:
            _started.remove(self)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningServer {self.name!r} at {self.address} ({state})>"


def _resolve(target: str) -> tuple[str, str]:
    """(display name, importable reference) for a reference server name or a module path."""
    if target in REFERENCE_SERVERS:
        return target, REFERENCE_SERVERS[target]
    path = Path(target)
    if path.suffix == ".py":
        if not path.is_file():
            raise FileNotFoundError(f"no server module at {path.resolve()} (write it first, e.g. with %%writefile)")
        return path.stem, str(path.resolve())
    names = ", ".join(repr(n) for n in REFERENCE_SERVERS)
    raise ValueError(f"unknown server {target!r}: use one of {names} or the path of a .py module")


def start(
    target: str,
    *,
    host: str = DEFAULT_HOST,
    port: int = 0,
    timeout: float = 20.0,
    env: dict | None = None,
) -> RunningServer:
    """Start `target` in a background process and return once its health service says SERVING.

    `host` stays 127.0.0.1 unless an instructor deliberately opens the server to a room.
    Raises ServerStartError, with the tail of the server's log, if it crashes or is not ready in time.
    """
    name, reference = _resolve(target)
    server_id = f"{name}-{uuid.uuid4().hex[:12]}"
    logs = state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for old_log in sorted(logs.glob("*.log"), key=lambda p: p.stat().st_mtime)[:-KEPT_LOGS]:
        old_log.unlink(missing_ok=True)
    log_path = logs / f"{server_id}.log"
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), child_env.get("PYTHONPATH")]))
    command = [sys.executable, str(Path(__file__).resolve()), "_child", reference,
               "--name", name, "--host", host, "--port", str(port), "--parent", str(os.getpid()),
               "--log", str(log_path), "--id", server_id]
    # Its own session (process group), so interrupting a notebook's kernel, which signals the
    # kernel's whole group, does not stop its servers; they still die with the kernel itself.
    detached = {"start_new_session": True} if POSIX else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    with open(log_path, "wb") as log:
        # stdin stays an open pipe the child never reads from us: EOF on it means "parent gone".
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                   env=child_env, **detached)
    server = RunningServer(name, target, process, log_path, server_id)
    _started.append(server)
    try:
        server.address = _wait_until_serving(server, timeout)
    except BaseException:
        server.stop(grace=0)
        raise
    return server


def _wait_until_serving(server: RunningServer, timeout: float) -> str:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    deadline = time.monotonic() + timeout
    entry_path = _registry_dir() / f"{server.id}.json"
    address, probe, last_error = None, None, "it has not reported a port yet"
    while time.monotonic() < deadline:
        if not server.running:
            raise ServerStartError(
                f"the {server.name!r} server exited during start-up (code {server._process.returncode}). "
                f"Its log ends with:\n{server.logs(20)}")
        if address is None and entry_path.exists():
            try:
                entry = json.loads(entry_path.read_text())
                address, probe, server._server_pid = entry["address"], entry["probe"], entry["pid"]
            except (OSError, ValueError, KeyError):
                pass
        if probe is not None:
            with grpc.insecure_channel(probe) as channel:
                try:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=1.0)
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return address
                    last_error = f"health says {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
                except grpc.RpcError as error:
                    last_error = f"health check failed: {error.code().name}"
        time.sleep(0.05)
    raise ServerStartError(
        f"the {server.name!r} server was not SERVING after {timeout:g} s ({last_error}). "
        f"Its log ends with:\n{server.logs(20)}")


def stop_all() -> None:
    """Stop every server this process started (the runner also does this when the process exits)."""
    for server in list(_started):
        server.stop()


atexit.register(stop_all)


# ---------------------------------------------------------------- the server's side


class _ServiceRecorder:
    """Stands in for the grpc server during `add_to_server`, noting which services were added."""

    def __init__(self, server):
        self._server, self.names = server, []

    def add_generic_rpc_handlers(self, handlers):
        self.names += [h.service_name() for h in handlers if hasattr(h, "service_name")]
        return self._server.add_generic_rpc_handlers(handlers)

    def add_registered_method_handlers(self, service_name, handlers):
        return self._server.add_registered_method_handlers(service_name, handlers)

    def __getattr__(self, attribute):
        return getattr(self._server, attribute)


def _load(reference: str):
    if reference.endswith(".py"):
        path = Path(reference)
        sys.path.insert(0, str(path.parent))  # so a learner's module can import its neighbours
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # as an import would: dataclasses and pickle look it up
        spec.loader.exec_module(module)
    else:
        module = importlib.import_module(reference)
    if not callable(getattr(module, "add_to_server", None)):
        raise AttributeError(f"{reference} defines no add_to_server(server) function")
    return module


def _watch_parent(parent_pid: int, stop) -> None:
    """Call `stop()` when the parent process is gone, however it went (kill -9 included)."""
    def wait_for_eof():
        while sys.stdin.buffer.read(4096):
            pass
        stop("its parent process is gone")

    threading.Thread(target=wait_for_eof, name="parent-watch", daemon=True).start()
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if POSIX and os.getppid() != parent_pid:  # the parent died before the guards were in place
        stop("its parent process is gone")


def _stop_requests(parent_pid: int | None):
    """Blocks until the server should stop; returns why. Signals are blocked in every thread and
    taken here with sigwait, which (unlike a handler racing the watcher thread) cannot deadlock."""
    if POSIX:
        while True:
            received = signal.sigwait(STOP_SIGNALS)
            if received != signal.SIGUSR1:
                return signal.Signals(received).name
            if parent_pid is not None and os.getppid() != parent_pid:
                return "its parent process is gone"
    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    while not stopped.wait(0.5):
        pass
    return "SIGINT"


def serve(reference: str, name: str, host: str, port: int, parent_pid: int | None = None,
          log: str = "", announce=None, server_id: str | None = None) -> None:
    """Run one server in this process until a stop signal (or the parent's death) arrives."""
    if POSIX:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # before grpc starts any thread
    if parent_pid is not None:
        def stop_because(reason):
            print(f"stopping: {reason}", flush=True)
            if POSIX:
                os.kill(os.getpid(), signal.SIGTERM)
            else:
                signal.raise_signal(signal.SIGINT)
        _watch_parent(parent_pid, stop_because)

    module = _load(reference)
    if getattr(module, "ASYNCIO", False):
        runner = _AsyncioServer(module, host, port)
    else:
        runner = _ThreadedServer(module, host, port, getattr(module, "MAX_WORKERS", DEFAULT_WORKERS))
    bound = runner.start()
    address = _reachable_address(host, bound)
    import psutil

    me = psutil.Process()
    entry = {"id": server_id or f"{name}-{uuid.uuid4().hex[:12]}", "name": name, "target": reference,
             "address": address, "probe": f"{LOOPBACK.get(host, host)}:{bound}", "pid": os.getpid(),
             "create_time": me.create_time(), "parent_pid": parent_pid,
             "log": log, "started": time.time()}
    registry_entry = _register(entry)
    print(f"serving {name} on {address}: {', '.join(runner.services)}", flush=True)
    if announce:
        announce(address)
    try:
        reason = _stop_requests(parent_pid)
        print(f"stopping: {reason}", flush=True)
        runner.stop(grace=1.0)
    finally:
        registry_entry.unlink(missing_ok=True)
    print("stopped", flush=True)


def _add_health_and_reflection(server, service_names, health_servicer):
    from grpc_health.v1 import health, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection([*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)


def _bind(server, host: str, port: int) -> int:
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:  # newer grpcio raises where older ones returned 0
        bound = 0
    if bound == 0:
        raise OSError(f"could not listen on {host}:{port} (is the port taken, or the host not this machine's?)")
    return bound


class _ThreadedServer:
    """A classic grpc.server: one worker thread per call in flight, streams included."""

    def __init__(self, module, host, port, workers):
        from grpc_health.v1 import health

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers), options=SERVER_OPTIONS)
        recorder = _ServiceRecorder(self.server)
        module.add_to_server(recorder)
        self.services = recorder.names
        self.health = health.HealthServicer()
        _add_health_and_reflection(self.server, self.services, self.health)
        self.port = _bind(self.server, host, port)

    def start(self) -> int:
        from grpc_health.v1 import health_pb2

        self.server.start()
        for service in ["", *self.services]:
            self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        return self.port

    def stop(self, grace: float) -> None:
        self.health.enter_graceful_shutdown()
        self.server.stop(grace).wait()


class _AsyncioServer:
    """A grpc.aio server on an event loop in its own thread, so the main thread can take signals."""

    def __init__(self, module, host, port):
        import asyncio

        self.module, self.host, self.port = module, host, port
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, name="asyncio-server", daemon=True).start()

    def _run(self, coroutine):
        import asyncio

        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    async def _start(self):
        from grpc_health.v1 import health, health_pb2

        self.server = grpc.aio.server(options=SERVER_OPTIONS)
        recorder = _ServiceRecorder(self.server)
        result = self.module.add_to_server(recorder)
        if hasattr(result, "__await__"):
            await result
        self.services = recorder.names
        self.health = health.aio.HealthServicer()
        _add_health_and_reflection(self.server, self.services, self.health)
        port = _bind(self.server, self.host, self.port)
        await self.server.start()
        for service in ["", *self.services]:
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        return port

    def start(self) -> int:
        return self._run(self._start())

    async def _stop(self, grace):
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)

    def stop(self, grace: float) -> None:
        self._run(self._stop(grace))
        self.loop.call_soon_threadsafe(self.loop.stop)


# ---------------------------------------------------------------- the command line


def _cli_list(_args) -> int:
    servers = list_servers()
    if not servers:
        print("no servers running")
        return 0
    print(f"{'NAME':<16} {'ADDRESS':<22} {'PID':>7}  STARTED BY")
    for entry in servers:
        owner = f"process {entry['parent_pid']}" if entry.get("parent_pid") else "a terminal (serve)"
        print(f"{entry['name']:<16} {entry['address']:<22} {entry['pid']:>7}  {owner}")
    return 0


def _matching(which: str) -> list[dict]:
    return [e for e in list_servers() if which in (e["name"], str(e["pid"]))]


def _cli_logs(args) -> int:
    matches = _matching(args.server)
    if not matches:
        print(f"no running server named {args.server!r}; `python server_runner.py list` shows them")
        return 1
    for entry in matches:
        print(f"== {entry['name']} (pid {entry['pid']}) ==")
        print(_tail(Path(entry["log"]), args.lines) if entry.get("log") else "(its output goes to its terminal)")
    return 0


def _cli_stop(args) -> int:
    targets = list_servers() if args.all else _matching(args.server or "")
    if not targets:
        print("no servers running" if args.all else
              f"no running server named {args.server!r}; `python server_runner.py list` shows them")
        return 0 if args.all else 1
    for entry in targets:
        try:
            os.kill(entry["pid"], signal.SIGTERM)
            print(f"stopped {entry['name']} (pid {entry['pid']})")
        except ProcessLookupError:
            pass
    return 0


OPEN_WARNING = ("WARNING: listening on {host}, not only on this machine: anyone who can reach this computer "
                "on the network can call this server, with no encryption and no password. "
                "Stop it (Ctrl+C) as soon as the session is over.")


def _reachable_address(host: str, port: int) -> str:
    """The address others dial: this machine's address in the room for a wildcard host."""
    return f"{_lan_address()}:{port}" if host in LOOPBACK else f"{host}:{port}"


def _cli_serve(args) -> int:
    name, reference = _resolve(args.target)
    if args.host != DEFAULT_HOST:
        print(OPEN_WARNING.format(host=args.host), file=sys.stderr)

    def announce(address):
        print(f"{name} server ready at {address}  (Ctrl+C stops it)", flush=True)

    serve(reference, name, args.host, args.port, announce=announce)
    _exit_now(0)


def _cli_room(args) -> int:
    """The instructor's chat server for the whole room: open to the network, on purpose, until Ctrl+C."""
    if args.host != DEFAULT_HOST:
        print(OPEN_WARNING.format(host=args.host), file=sys.stderr)

    def announce(address):
        print(f"The room's chat server is ready. Attendees paste this address into notebook 08:\n\n"
              f"    {address}\n\n"
              f"    ChatPane(\"{address}\", \"your name\")\n\n"
              "Ctrl+C closes the room (and the port).", flush=True)

    serve(REFERENCE_SERVERS["chat"], "chat-room", args.host, args.port, announce=announce)
    _exit_now(0)


def _exit_now(code: int) -> None:
    """Exit without waiting for worker threads: a handler stuck in a learner's server (a loop
    that ignores cancellation) must not keep a stopped server's process alive."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _lan_address() -> str:
    """The address other machines in the room would use to reach this one (no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # a documentation address: connect() on UDP only picks a route
            return probe.getsockname()[0]
        except OSError:
            return socket.gethostname()


def _cli_child(args) -> int:
    code = 0
    try:
        serve(args.reference, args.name, args.host, args.port, parent_pid=args.parent, log=args.log,
          server_id=args.id)
    except BaseException:
        traceback.print_exc()
        code = 1
    # Skip interpreter shutdown: the parent-watch thread is blocked reading stdin, and finalizing
    # around it can abort the process; everything worth keeping is flushed and closed already.
    _exit_now(code)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python server_runner.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    serve_cmd = commands.add_parser("serve", help="run a server in the foreground until Ctrl+C")
    serve_cmd.add_argument("target", help=f"{' or '.join(REFERENCE_SERVERS)}, or the path of a server module")
    serve_cmd.add_argument("--host", default=DEFAULT_HOST,
                           help="interface to listen on (default 127.0.0.1: this machine only); "
                                "0.0.0.0 opens the server to the network")
    serve_cmd.add_argument("--port", type=int, default=0, help="port to listen on (default: one the OS picks)")
    serve_cmd.set_defaults(handler=_cli_serve)
    room_cmd = commands.add_parser("room", help="instructors: serve the chat to the whole room until Ctrl+C")
    room_cmd.add_argument("--host", default="0.0.0.0", help="interface to listen on (default 0.0.0.0: every network)")
    room_cmd.add_argument("--port", type=int, default=50051, help="port to listen on (default 50051)")
    room_cmd.set_defaults(handler=_cli_room)
    commands.add_parser("list", help="show the kit's running servers").set_defaults(handler=_cli_list)
    logs_cmd = commands.add_parser("logs", help="show the end of a running server's log")
    logs_cmd.add_argument("server", help="a name or pid from `list`")
    logs_cmd.add_argument("-n", "--lines", type=int, default=40)
    logs_cmd.set_defaults(handler=_cli_logs)
    stop_cmd = commands.add_parser("stop", help="stop running servers")
    stop_cmd.add_argument("server", nargs="?", help="a name or pid from `list`")
    stop_cmd.add_argument("--all", action="store_true", help="stop every server of the kit")
    stop_cmd.set_defaults(handler=_cli_stop)
    child = commands.add_parser("_child")  # how start() runs a server; not for people
    child.add_argument("reference")
    options = (("--name", str), ("--host", str), ("--port", int), ("--parent", int), ("--log", str), ("--id", str))
    for option, kind in options:
        child.add_argument(option, type=kind, required=True)
    child.set_defaults(handler=_cli_child)
    args = parser.parse_args(argv)
    if args.command == "stop" and not (args.all or args.server):
        parser.error("stop needs a server name or pid, or --all")
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
