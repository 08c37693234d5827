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


@pytest.fixture
def lenient_leaving(monkeypatch):
    """8.1's leaving case allows 0.7 s between 99 subscribers cancelling and 99 joining; the answer measured up to
    +0.37 s on a busy machine, and a CI run saw +0.8 s for a wrong answer that only leaves out the join header. A
    wrong answer whose mistake is not a slow leaver only has to pass that case: 1.5 s of slack show it does."""
    from workshop.checkers import chat_costs

    monkeypatch.setattr(chat_costs, "LEAVE_SLACK", 1.5)


@pytest.fixture
def quick_stalls(monkeypatch):
    """8.1's calls wait 2 s for a Post, a note or a join header. A wrong answer that stalls every call (a lock held
    while waiting, a post that reaches one inbox) waits that long in every case it fails: 1 s shows the same stalls
    (a healthy call takes milliseconds), at half the cost."""
    from workshop.checkers import chat, chat_clients

    monkeypatch.setattr(chat_clients, "CALL_TIMEOUT", 1.0)
    monkeypatch.setattr(chat, "CALL_TIMEOUT", 1.0)


@pytest.fixture
def short_replay_case(monkeypatch):
    """8.1's replay case posts 1,100 notes while a newcomer has not read its replay: more than a reader may fall
    behind (1,000), to catch an inbox bounded there. A wrong answer whose mistake is not in the replay or the backlog
    only has to pass that case, and 100 notes show it does (the slow reader is as slow): about 1.5 s less a run."""
    from workshop.checkers import chat

    monkeypatch.setattr(chat, "MEANWHILE", 100)


@pytest.fixture
def one_crowd(monkeypatch):
    """8.1's crowd case runs 4 crowds of 8 posters, one after another, so that a narrow race shows in most runs. A
    wrong answer whose mistake is no race only has to pass that case, which one crowd shows: about 1.2 s less a run."""
    from workshop.checkers import chat_crowd

    monkeypatch.setattr(chat_crowd, "CROWD_ROUNDS", 1)
