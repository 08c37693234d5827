"""Shared fixtures: an isolated server registry, reference servers, and a guard against leftovers."""
import os
import shutil
import tempfile
import time

import psutil
import pytest

# Before anything starts a server: this run's registry and logs stay out of the learner's .run/.
# Each pytest-xdist worker gets a registry of its own: one worker's `stop --all` or end-of-run
# check must not see the other's servers.
if os.environ.get("PYTEST_XDIST_WORKER") or "WORKSHOP_STATE_DIR" not in os.environ:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ["WORKSHOP_STATE_DIR"] = tempfile.mkdtemp(prefix=f"workshop-tests-{worker}-")

import server_runner


def pytest_configure(config):
    """The checkers' own contracts (12.1's unseen servers) are generated on first import; generate them once, here,
    before pytest-xdist starts its workers, rather than in two workers (and their kernels) at the same moment."""
    if not hasattr(config, "workerinput"):
        import workshop.checkers.unseen
        import workshop.checkers.unseen.twin  # noqa: F401


@pytest.fixture(scope="session")
def users_server():
    with server_runner.start("users") as server:
        yield server


@pytest.fixture(scope="session")
def chat_server():
    with server_runner.start("chat") as server:
        yield server


@pytest.fixture(autouse=True)
def checkers_report_instead_of_raising(monkeypatch):
    """Checkers raise only in the solved-notebook run, which asks for it itself."""
    monkeypatch.delenv("WORKSHOP_STRICT_CHECKS", raising=False)


@pytest.fixture(scope="session", autouse=True)
def no_process_left_behind():
    """Fails the run if a test leaves a server (orphaned or not) or any child process alive."""
    yield
    server_runner.stop_all()
    deadline = time.monotonic() + 5
    while server_runner.list_servers() and time.monotonic() < deadline:
        time.sleep(0.1)
    registered = server_runner.list_servers()  # every server registers itself, even an orphan
    children = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.status() != psutil.STATUS_ZOMBIE:
                children.append(child)
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=5)
    shutil.rmtree(os.environ["WORKSHOP_STATE_DIR"], ignore_errors=True)
    assert not registered, f"servers left running: {[(e.name, e.pid) for e in registered]}"
    assert not alive, f"processes left running: {[(p.pid, p.cmdline()) for p in alive]}"


@pytest.fixture
def short_idle_window(monkeypatch):
    """8.1's idle case watches a quiet room for 6 s, to see a poll up to 5 s apart. A wrong answer whose mistake is
    not a poll only has to pass that case, and 2 s show the answer's quiet as well (7-8 of its threads wake in a
    2 s window, as in 6: workshop/checkers/chat_costs.py): 4 s less for each such run."""
    from workshop.checkers import chat_costs

    monkeypatch.setattr(chat_costs, "IDLE_SECONDS", 2.0)
