"""The server's own process: load the module, serve it, and go away when told, however the module behaves.

Three things ask it to stop: a signal (SIGTERM from `server_runner.py stop`, Ctrl+C in a terminal),
a line `stop GRACE` from the process that started it (on the stdin pipe), and that process's death
(EOF on the pipe, or PR_SET_PDEATHSIG on Linux). The first request wins. Signals are blocked in
every thread and taken by sigwait in a thread of their own: unlike a handler racing the watcher
thread, that cannot deadlock, and it works while the main thread is stuck.

The main thread then stops the server gracefully, giving calls in flight `grace` seconds. A
learner's code can keep that from ever finishing (`time.sleep` inside `async def` freezes the whole
event loop; an import may never return), so a watchdog thread ends the process STOP_MARGIN seconds
after the grace, whatever the main thread is doing, and at once if the server was not serving yet.
"""
from __future__ import annotations

import importlib
import importlib.util
import logging
import math
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from pathlib import Path

from workshop.runner import addresses, registry, serving

POSIX = os.name == "posix"
STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT} | ({signal.SIGUSR1} if POSIX else set())
DEFAULT_GRACE = 1.0  # seconds calls in flight get when a signal or the parent's death stops the server
STOP_PATIENCE = 1.0  # seconds past the grace after which whoever asked for the stop kills the server
STOP_MARGIN = STOP_PATIENCE + 0.5  # seconds past the grace after which the server's own watchdog ends it
PARENT_GONE = "its parent process is gone"


def say(text: str) -> None:
    """Write a line to the log without Python's buffers, whose lock a stuck thread may hold."""
    os.write(1, f"{text}\n".encode(errors="replace"))


class Shutdown:
    """This process's one stop request (the first wins) and the watchdog that bounds it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._requested = threading.Event()
        self._finished = threading.Event()
        self.reason, self.grace = "", DEFAULT_GRACE
        self.serving = False
        self.entry_path: Path | None = None
        self.server = None  # once it serves: what `health SERVING|NOT_SERVING` lines change

    def request(self, reason: str, grace: float = DEFAULT_GRACE) -> None:
        with self._lock:
            if not self._requested.is_set():
                self.reason, self.grace = reason, grace
                self._requested.set()

    def wait(self) -> None:
        while not self._requested.wait(0.5):  # a timeout, so that Ctrl+C is taken on Windows too
            pass

    def finished(self) -> None:
        self._finished.set()

    def watchdog(self) -> None:
        self._requested.wait()
        if self.serving:
            limit = self.grace + STOP_MARGIN
            if self._finished.wait(limit):
                return
            say(f"did not stop within {limit:g} s of the request ({self.reason}); ending the process")
        else:
            say(f"stopping: {self.reason}, before the server was serving")
        if self.entry_path is not None:
            self.entry_path.unlink(missing_ok=True)
        os._exit(1)


def _take_signals(shutdown: Shutdown, parent_pid: int | None) -> None:
    while True:
        received = signal.sigwait(STOP_SIGNALS)
        if received != signal.SIGUSR1:
            shutdown.request(signal.Signals(received).name)
        # SIGUSR1 is PR_SET_PDEATHSIG's: the *thread* that started this process ended. Its process may live on.
        elif parent_pid is not None and os.getppid() != parent_pid:
            shutdown.request(PARENT_GONE)


def _grace_from(words: list[bytes]) -> float:
    try:
        grace = float(words[0])
    except (IndexError, ValueError):
        return DEFAULT_GRACE
    return max(grace, 0.0) if math.isfinite(grace) else DEFAULT_GRACE


def watch_parent(parent_pid: int, shutdown: Shutdown) -> None:
    """Take the parent's `stop GRACE` lines from the stdin pipe, and notice its death however it dies."""
    pipe = os.fdopen(os.dup(0), "rb")
    nothing = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nothing, 0)  # the module's own reads of stdin see EOF instead of taking the parent's lines
    os.close(nothing)

    def read_commands():
        for line in pipe:
            words = line.split()
            if words[:1] == [b"stop"]:
                shutdown.request("stop() was called", _grace_from(words[1:]))
            elif words[:1] == [b"health"] and words[1:] in ([b"SERVING"], [b"NOT_SERVING"]):
                set_health(shutdown.server, words[1] == b"SERVING")
        shutdown.request(PARENT_GONE)  # EOF: every copy of the pipe's other end is closed

    threading.Thread(target=read_commands, name="parent-watch", daemon=True).start()
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGUSR1)
    if POSIX and os.getppid() != parent_pid:  # the parent died before the guards were in place
        shutdown.request(PARENT_GONE)


def set_health(server, serving: bool) -> None:
    """What the standard health service answers for every service of `server`, from now on."""
    if server is None:
        say("health: the server is not serving yet; nothing changed")
        return
    server.set_serving(serving)
    print(f"health: {'SERVING' if serving else 'NOT_SERVING (maintenance)'}, for every service", flush=True)


def module_path(reference: str) -> str:
    if reference.endswith(".py"):
        return reference
    spec = importlib.util.find_spec(reference)
    return spec.origin if spec is not None and spec.origin else reference


def load(reference: str):
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
        raise serving.ServerModuleError(f"{Path(module_path(reference)).name} defines no add_to_server(server) "
                                        "function: write one that adds your servicer to `server`.")
    return module


def run(reference: str, name: str, host: str, port: int, *, parent_pid: int | None = None, log: str = "",
        server_id: str | None = None, announce=None) -> int:
    """Serve `reference` until asked to stop; the exit code. (The watchdog may end the process first.)"""
    # grpc logs an exception raised in a handler ("Exception calling application", with its
    # traceback) and nothing else shows it: into the log with it, where server.logs() finds it.
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if POSIX:
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)  # before any thread starts: they all inherit it
    shutdown = Shutdown()
    if POSIX:
        threading.Thread(target=_take_signals, args=(shutdown, parent_pid), name="signals", daemon=True).start()
    else:
        signal.signal(signal.SIGINT, lambda *_: shutdown.request("SIGINT"))
    if parent_pid is not None:
        watch_parent(parent_pid, shutdown)
    threading.Thread(target=shutdown.watchdog, name="watchdog", daemon=True).start()
    if interval := os.environ.get(serving.SWITCH_SETTING):  # a checker's copy: threads take turns far more often
        sys.setswitchinterval(float(interval))
    try:
        rules = serving.ModuleRules(module_path(reference))
        rules.refuse_servers_of_its_own()
        module = load(reference)
        if not addresses.is_loopback(host):
            print(addresses.open_warning(host, tls=serving.tls_of(module) is not None), file=sys.stderr, flush=True)
        server = serving.build(module, rules, host, port)
        bound = server.start()
        entry = _entry(server, reference, name, host, bound, parent_pid, log, server_id)
        shutdown.entry_path = registry.register(entry)
    except serving.ServerModuleError as error:
        print(error, flush=True)
        return 1
    except BaseException:
        traceback.print_exc()
        return 1
    try:
        shutdown.serving, shutdown.server = True, server
        print(f"serving {name} on {entry.address}: {', '.join(server.services)}", flush=True)
        if announce:
            announce(entry.address)
        shutdown.wait()
        print(f"stopping: {shutdown.reason}", flush=True)
        server.stop(shutdown.grace)
    except BaseException:
        traceback.print_exc()
        return 1
    finally:
        registry.unregister(entry.id)
        shutdown.finished()
    print("stopped", flush=True)
    return 0


def _entry(server, reference, name, host, bound, parent_pid, log, server_id) -> registry.ServerEntry:
    import psutil

    return registry.ServerEntry(
        id=server_id or f"{name}-{uuid.uuid4().hex[:12]}", name=name, target=reference,
        address=addresses.reachable_address(host, bound), probe=addresses.probe_address(host, bound),
        pid=os.getpid(), create_time=psutil.Process().create_time(), parent_pid=parent_pid, log=log,
        started=time.time(), workers=server.workers, asyncio=server.asyncio,
        root_certificates=server.root_certificates)


def exit_now(code: int) -> None:
    """Exit without waiting for threads: a handler stuck in a learner's server must not keep the
    process alive, and finalizing around the thread blocked on stdin can abort the process."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
