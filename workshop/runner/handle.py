"""Start a server in a background process and hold it: its address, its log, and a bounded stop.

The process that calls start() is the server's parent. It keeps the write end of the server's
stdin pipe: a line `stop GRACE` on it asks for a graceful stop, and when the parent dies, however
it dies, the pipe's EOF tells the server to go. Whatever the server's code does, start() returns
or raises within its timeout, and stop() returns within its grace and a margin, with the process gone.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import grpc

from workshop import ROOT
from workshop.runner import addresses, registry
from workshop.runner.child import STOP_PATIENCE

REFERENCE_SERVERS = {"users": "workshop.servers.users", "chat": "workshop.servers.chat",
                     "users_grpclib": "workshop.servers.users_grpclib"}
RUNNER = ROOT / "server_runner.py"
POSIX = os.name == "posix"


def _with_log(summary: str, log: str) -> str:
    return f"{summary}\nIts log ends with:\n{log}" if log.strip() else f"{summary}\nIts log is empty."


def channel_to(entry: registry.ServerEntry, target: str, **options) -> grpc.Channel:
    """A channel to `target` (the entry's address or probe): over TLS, trusting the entry's authority, when the
    server serves TLS; plain otherwise."""
    if entry.root_certificates:
        credentials = grpc.ssl_channel_credentials(entry.root_certificates.encode())
        return grpc.secure_channel(target, credentials, **options)
    return grpc.insecure_channel(target, **options)


class ServerStartError(RuntimeError):
    """The server did not reach SERVING. `summary` says what happened, `log_tail` how its log ends."""

    def __init__(self, summary: str, log_tail: str = ""):
        super().__init__(_with_log(summary, log_tail))
        self.summary, self.log_tail = summary, log_tail


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


_started: list[RunningServer] = []


class RunningServer:
    """A server running in a background process: its address, its log, and how to stop it."""

    def __init__(self, name: str, target: str, process: subprocess.Popen, log_path: Path, server_id: str):
        self.name, self.target, self.log_path, self.id = name, target, log_path, server_id
        self.address = ""
        self.entry: registry.ServerEntry | None = None  # what the server registered, once it listens
        self._process = process

    @property
    def pid(self) -> int:
        """The server's process. (On Windows a venv's python.exe is a launcher that starts the
        real interpreter as its child, so this can differ from the process start() created.)"""
        return self.entry.pid if self.entry else self._process.pid

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    def logs(self, lines: int = 40) -> str:
        """The last `lines` lines the server printed (its log file lives on after it stops)."""
        return registry.tail(self.log_path, lines)

    def channel(self, **options):
        """A new channel to this server (over TLS when it serves TLS). Calls made on it once the server has
        stopped raise ServerNotRunningError, which names the server and says how to start it again."""
        self.ensure_running()
        return grpc.intercept_channel(channel_to(self.entry, self.address, **options), _RefuseWhenStopped(self))

    def ensure_running(self) -> None:
        if not self.running:
            raise ServerNotRunningError(_with_log(
                f"the {self.name!r} server is not running (its process exited with code "
                f"{self._process.returncode}). Start it again with server_runner.start({self.target!r}).",
                self.logs(10)))

    def set_serving(self, serving: bool, wait: float = 5.0) -> None:
        """Make the server's health service answer SERVING, or NOT_SERVING (down for maintenance), for all its
        services; returns once a health check says so. The server still answers calls all the while: health
        only tells load balancers and probes whether to send it any."""
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        self.ensure_running()
        wanted = health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        self._process.stdin.write(f"health {health_pb2.HealthCheckResponse.ServingStatus.Name(wanted)}\n".encode())
        self._process.stdin.flush()
        deadline = time.monotonic() + wait
        with channel_to(self.entry, self.entry.probe) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while health.Check(health_pb2.HealthCheckRequest(), timeout=wait).status != wanted:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {self.name!r} server's health did not change within {wait:g} s; "
                                       f"see server.logs()")
                time.sleep(0.02)

    def stop(self, grace: float = 1.0) -> None:
        """Stop the server: calls in flight get `grace` seconds; a server that is still there
        STOP_PATIENCE seconds later is killed, and its log says so."""
        self._ask_to_stop(grace)
        self._end(max(grace, 0.0) + STOP_PATIENCE)

    def _ask_to_stop(self, grace: float) -> None:
        stdin = self._process.stdin
        if stdin is None or stdin.closed:
            return
        try:
            stdin.write(f"stop {max(grace, 0.0)!r}\n".encode())
        except OSError:
            pass  # it has exited already
        finally:
            with contextlib.suppress(OSError):
                stdin.close()  # EOF too: should the line be lost, the server still goes

    def _end(self, patience: float, since: float | None = None) -> None:
        """Wait until `patience` seconds after `since` (default: now) for the process to exit; then kill it."""
        deadline = (time.monotonic() if since is None else since) + patience
        try:
            self._process.wait(timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            self._kill(f"server_runner: it did not stop within {patience:.3g} s; killed")
        registry.unregister(self.id)
        if self in _started:
            _started.remove(self)

    def _kill(self, why: str) -> None:
        if self.entry is not None and self.entry.pid != self._process.pid and self.entry.is_running():
            import psutil

            with contextlib.suppress(psutil.Error):
                psutil.Process(self.entry.pid).kill()  # the real server behind a Windows launcher
        self._process.kill()
        self._process.wait()
        with contextlib.suppress(OSError), open(self.log_path, "a", encoding="utf-8") as log:
            log.write(why + "\n")

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<RunningServer {self.name!r} at {self.address} ({state})>"


def resolve(target: str) -> tuple[str, str]:
    """(display name, importable reference) for a reference server name or a module path."""
    if target in REFERENCE_SERVERS:
        return target, REFERENCE_SERVERS[target]
    path = Path(target)
    if path.suffix == ".py":
        if not path.is_file():
            raise FileNotFoundError(f"no server module at {path.resolve()} (write it first, e.g. with %%writefile)")
        return path.stem, str(path.resolve())
    names = ", ".join(repr(n) for n in REFERENCE_SERVERS)
    raise ValueError(f"unknown server {str(target)[:60]!r}: use one of {names} or the path of a .py module")


def start(target: str, *, host: str = addresses.DEFAULT_HOST, port: int = 0, timeout: float = 20.0,
          env: dict | None = None) -> RunningServer:
    """Start `target` in a background process and return once its health service says SERVING.

    `host` stays 127.0.0.1 unless an instructor deliberately opens the server to a room (any other
    host warns). `timeout` is the whole budget: within it the server is SERVING, or ServerStartError
    (with the tail of the server's log) is raised and the process is gone.
    """
    deadline = time.monotonic() + timeout
    port = addresses.checked_port(port)
    host = addresses.bracketed(host)
    if not addresses.is_loopback(host):
        warnings.warn(addresses.open_warning(host), stacklevel=2)
    name, reference = resolve(target)
    server_id = f"{name}-{uuid.uuid4().hex[:12]}"
    log_path = registry.new_log(server_id, also_in_use=[s.log_path for s in _started])
    child_env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), child_env.get("PYTHONPATH")]))
    command = [sys.executable, str(RUNNER), "_child", reference, "--name", name, "--host", host,
               "--port", str(port), "--parent", str(os.getpid()), "--log", str(log_path), "--id", server_id]
    # Its own session (process group), so interrupting a notebook's kernel, which signals the
    # kernel's whole group, does not stop its servers; they still die with the kernel itself.
    detached = {"start_new_session": True} if POSIX else {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT,
                                   env=child_env, **detached)
    server = RunningServer(name, target, process, log_path, server_id)
    _started.append(server)
    try:
        server.address = _wait_until_serving(server, deadline, timeout)
    except BaseException:
        server._ask_to_stop(0)  # a server that never got ready stops at once, even mid-import
        server._end(min(max(deadline - time.monotonic(), 0.1), 0.5))
        raise
    return server


STARTING_UP = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)  # a health check's codes while it starts


def _wait_until_serving(server: RunningServer, deadline: float, timeout: float) -> str:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    entry_path = registry.servers_dir() / f"{server.id}.json"
    last_error = "it has not reported a port yet: its module is still loading, or add_to_server has not returned"
    while (remaining := deadline - time.monotonic()) > 0:
        if not server.running:
            raise ServerStartError(f"the {server.name!r} server exited during start-up "
                                   f"(code {server._process.returncode}).", server.logs(20))
        if server.entry is None:
            server.entry = registry.read_entry(entry_path) if entry_path.exists() else None
        if server.entry is not None:
            with channel_to(server.entry, server.entry.probe) as channel:
                try:
                    reply = health_pb2_grpc.HealthStub(channel).Check(
                        health_pb2.HealthCheckRequest(service=""), timeout=min(1.0, remaining))
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return server.entry.address
                    last_error = f"health says {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}"
                except grpc.RpcError as error:
                    if error.code() not in STARTING_UP:  # it answers, and refuses: waiting will not help
                        raise ServerStartError(
                            f"the {server.name!r} server refused its health check: {error.code().name} "
                            f"({(error.details() or '')[:120]!r}). An interceptor must let calls to "
                            "grpc.health.v1.Health through: health checks carry no metadata of yours.",
                            server.logs(20)) from None
                    last_error = f"health check failed: {error.code().name}"
        time.sleep(min(0.05, max(deadline - time.monotonic(), 0)))
    raise ServerStartError(f"the {server.name!r} server was not SERVING after {timeout:g} s ({last_error}).",
                           server.logs(20))


def stop_all(grace: float = 1.0) -> None:
    """Stop every server this process started, all at once (the runner also does this when the process exits)."""
    servers = list(_started)
    for server in servers:
        server._ask_to_stop(grace)
    since = time.monotonic()
    for server in servers:
        server._end(max(grace, 0.0) + STOP_PATIENCE, since)


atexit.register(stop_all)
