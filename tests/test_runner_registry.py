"""The registry and the logs: what `list` and `stop` trust, and what pruning keeps."""
import concurrent.futures
import json
import os
import subprocess
import sys
import time

import psutil
import pytest
from test_server_runner import RUNNER

import server_runner


@pytest.fixture(autouse=True)
def registry_of_its_own(tmp_path, monkeypatch):
    """`stop --all` here must not stop the servers other tests share (the session's users server)."""
    monkeypatch.setenv("WORKSHOP_STATE_DIR", str(tmp_path / "state"))


def registry_file(name):
    folder = server_runner.state_dir() / "servers"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{name}.json"


def cli(*args):
    return subprocess.run([sys.executable, RUNNER, *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def bystander():
    """A process that has nothing to do with the kit; nothing the runner does may touch it."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield process
    process.kill()
    process.wait()


@pytest.mark.parametrize("create_time", [None, "missing", 12345.0], ids=["null", "missing", "another-process"])
def test_stop_all_never_signals_a_pid_that_it_cannot_prove_is_its_server(bystander, create_time):
    entry = {"id": "ghost-1", "name": "ghost", "target": "x", "address": "127.0.0.1:1", "probe": "127.0.0.1:1",
             "pid": bystander.pid, "parent_pid": None, "log": "", "started": time.time()}
    if create_time != "missing":
        entry["create_time"] = create_time
    path = registry_file("ghost-1")
    path.write_text(json.dumps(entry))
    try:
        listing = cli("list")
        stopped = cli("stop", "--all")
        assert bystander.poll() is None, f"stop --all killed an unrelated process: {stopped.stdout}"
        assert "ghost" not in listing.stdout and "ghost" not in stopped.stdout
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize("text", ['{"name": "half"}', '{"name": "cut', '[1, 2]', '{"pid": "seven", "name": 3}'],
                         ids=["no-pid", "truncated", "not-an-object", "wrong-types"])
def test_a_malformed_entry_crashes_neither_list_nor_stop(text):
    path = registry_file("malformed-1")
    path.write_text(text)
    try:
        for args in (["list"], ["stop", "--all"], ["stop", "half"], ["logs", "half"]):
            result = cli(*args)
            assert "Traceback" not in result.stderr, f"{args}: {result.stderr}"
        assert all(entry.name != "half" for entry in server_runner.list_servers())
    finally:
        path.unlink(missing_ok=True)


def test_the_log_of_a_running_server_survives_pruning():
    with server_runner.start("users") as server:
        logs = server.log_path.parent
        for number in range(server_runner.KEPT_LOGS + 10):
            (logs / f"newer-{number}.log").write_text("a newer server's log\n")
        server_runner.start("users").stop()  # each start prunes old logs
        assert "serving users on" in server.logs(), "the running server's log was deleted"


def test_starts_that_prune_at_the_same_time_do_not_fail():
    logs = server_runner.state_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for round_ in range(3):
        for number in range(400):
            path = logs / f"old-{round_}-{number}.log"
            path.write_text("an old log\n")
            os.utime(path, (1_000_000 + number, 1_000_000 + number))
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            servers = list(pool.map(lambda _: server_runner.start("users"), range(4)))
        for server in servers:
            server.stop()


def test_a_checkers_copy_can_set_the_pool_size_from_outside_whatever_the_module_says(tmp_path):
    from workshop.runner.serving import WORKERS_SETTING

    module = tmp_path / "my_pool.py"
    module.write_text("from workshop.servers.users import add_to_server  # noqa: F401\nMAX_WORKERS = 64\n")
    with server_runner.start(str(module)) as own, server_runner.start(str(module), env={WORKERS_SETTING: "4"}) as copy:
        assert own.entry.workers == 64 and copy.entry.workers == 4


def test_a_checkers_copy_can_make_its_threads_take_turns_more_often(tmp_path):
    from workshop.runner.serving import SWITCH_SETTING

    seen = tmp_path / "interval.txt"
    module = tmp_path / "my_switching.py"
    module.write_text("import os, sys\nfrom pathlib import Path\nfrom workshop.servers.users import add_to_server"
                      "  # noqa: F401\nPath(os.environ['SEEN']).write_text(str(sys.getswitchinterval()))\n")
    with server_runner.start(str(module), env={"SEEN": str(seen), SWITCH_SETTING: "1e-06"}):
        assert float(seen.read_text()) == 1e-06
    with server_runner.start(str(module), env={"SEEN": str(seen)}):
        assert float(seen.read_text()) == 0.005  # Python's own, unless a checker asks


def test_list_servers_gives_typed_entries_with_the_serving_details():
    with server_runner.start("users") as users, server_runner.start("chat") as chat:
        entries = {entry.id: entry for entry in server_runner.list_servers()}
        assert entries[users.entry.id] == users.entry and entries[chat.entry.id] == chat.entry
        assert users.entry.pid == users.pid and users.entry.address == users.address
        assert users.entry.workers == server_runner.DEFAULT_WORKERS and users.entry.asyncio is False
        assert chat.entry.workers is None and chat.entry.asyncio is True
        assert users.entry.create_time == pytest.approx(psutil.Process(users.pid).create_time(), abs=1)
