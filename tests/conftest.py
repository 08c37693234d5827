"""Shared fixtures: an isolated server registry, reference servers, and a guard against leftovers."""
import os
import tempfile

import psutil
import pytest

# Before anything starts a server: this run's registry and logs stay out of the learner's .run/.
os.environ.setdefault("WORKSHOP_STATE_DIR", tempfile.mkdtemp(prefix="workshop-tests-"))

import server_runner  # noqa: E402


@pytest.fixture(scope="session")
def users_server():
    with server_runner.start("users") as server:
        yield server


@pytest.fixture(scope="session")
def chat_server():
    with server_runner.start("chat") as server:
        yield server


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Fails the run if any test leaves a child process of the test runner alive."""
    yield
    server_runner.stop_all()
    leftovers = [p for p in psutil.Process().children(recursive=True) if p.is_running()
                 and p.status() != psutil.STATUS_ZOMBIE]
    gone, alive = psutil.wait_procs(leftovers, timeout=5)
    assert not alive, f"processes left running: {[(p.pid, p.cmdline()) for p in alive]}"
