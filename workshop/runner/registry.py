"""The registry of running servers and their logs, shared by every process of the kit.

Each server writes its own entry (a JSON file named after its id) once it listens, and removes it
when it stops; a notebook, a terminal's `server_runner.py list` or a checker read the same folder.
An entry counts only while its process is alive *and* was created when the entry says: PIDs are
reused, and the runner must never signal a process that is not its server. A file that is not a
whole, well-formed entry is not trusted and is dropped, never a crash.
"""
from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from workshop import ROOT

KEPT_LOGS = 100  # when a server starts, older logs beyond this many go (never those of running servers)
SAME_START = 1.0  # seconds: how closely a live process's start time must match its entry's


def state_dir() -> Path:
    """Where the registry of running servers and their logs live, shared by every process of the kit."""
    return Path(os.environ.get("WORKSHOP_STATE_DIR") or ROOT / ".run")


def servers_dir() -> Path:
    path = state_dir() / "servers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def logs_dir() -> Path:
    path = state_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class ServerEntry:
    """One running server, as it describes itself: where it listens, which process it is, how it serves."""

    id: str
    name: str
    target: str  # a reference server's module name, or the path of a learner's module
    address: str  # what clients dial
    probe: str  # where this machine reaches it (loopback for a wildcard host)
    pid: int
    create_time: float  # the process's start time, which tells it apart from a later one with its PID
    parent_pid: int | None  # the process that started it; None for `server_runner.py serve`
    log: str  # its log file; "" when its output goes to a terminal
    started: float
    workers: int | None  # the thread pool's size; None for a grpc.aio server
    asyncio: bool
    root_certificates: str = ""  # PEM of the authority its TLS certificate comes from; "" for a plain server

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> ServerEntry:
        """The entry in `text`; ValueError if it is not a whole, well-formed entry."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a registry entry is a JSON object")
        values = {}
        for field in dataclasses.fields(cls):
            if field.name not in data and field.default is not dataclasses.MISSING:
                continue  # written before the field existed
            if field.name not in data:
                raise ValueError(f"a registry entry needs {field.name!r}")
            values[field.name] = _checked(field.name, data[field.name])
        if values["pid"] <= 0:
            raise ValueError("a registry entry's 'pid' is a positive number")
        return cls(**values)

    def is_running(self) -> bool:
        return process_matches(self.pid, self.create_time)


_KINDS = {"pid": int, "create_time": float, "parent_pid": int, "started": float, "workers": int, "asyncio": bool}
_OPTIONAL = {"parent_pid", "workers"}


def _checked(name: str, value):
    kind = _KINDS.get(name, str)
    if value is None and name in _OPTIONAL:
        return None
    if isinstance(value, bool) == (kind is bool):  # JSON true is no PID
        if kind is float and isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, kind):
            return value
    raise ValueError(f"{name!r} of a registry entry has the wrong type")


def process_matches(pid: int, create_time: float) -> bool:
    """True if `pid` is alive and is the process that was created at `create_time`."""
    import psutil

    try:
        process = psutil.Process(pid)
        return (process.status() != psutil.STATUS_ZOMBIE
                and abs(process.create_time() - create_time) < SAME_START)
    except psutil.Error:
        return False


def register(entry: ServerEntry) -> Path:
    path = servers_dir() / f"{entry.id}.json"
    staged = path.with_suffix(".tmp")
    staged.write_text(entry.to_json())
    staged.replace(path)  # atomic: a reader sees the whole entry or none
    return path


def unregister(server_id: str) -> None:
    (servers_dir() / f"{server_id}.json").unlink(missing_ok=True)


def read_entry(path: Path) -> ServerEntry | None:
    """The entry in `path`; None if it is gone. A malformed file is removed: no server wrote it whole."""
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        return ServerEntry.from_json(text)
    except ValueError:
        path.unlink(missing_ok=True)
        return None


def list_servers() -> list[ServerEntry]:
    """Every running server of the kit, whoever started it; entries of dead processes are dropped."""
    entries = []
    for path in servers_dir().glob("*.json"):
        entry = read_entry(path)
        if entry is None:
            continue
        if entry.is_running():
            entries.append(entry)
        else:
            path.unlink(missing_ok=True)
    return sorted(entries, key=lambda e: e.started)


def new_log(server_id: str, also_in_use: Iterable[Path] = ()) -> Path:
    """A fresh log file for a server about to start, after pruning old logs of stopped servers."""
    folder = logs_dir()
    in_use = {Path(entry.log) for entry in list_servers() if entry.log} | set(also_in_use)
    prune_logs(folder, KEPT_LOGS, in_use)
    return folder / f"{server_id}.log"


def prune_logs(folder: Path, keep: int, in_use: set[Path]) -> None:
    """Delete all but the newest `keep` logs, never one in `in_use`. Safe while other processes prune."""
    dated = []
    for path in folder.glob("*.log"):
        try:
            dated.append((path.stat().st_mtime, path))
        except OSError:
            continue  # another start pruned it a moment ago
    dated.sort()
    for _, path in dated[:max(len(dated) - keep, 0)]:
        if path not in in_use:
            path.unlink(missing_ok=True)


def tail(path: Path, lines: int) -> str:
    """The last `lines` lines of a log ('' if it is empty or gone)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
