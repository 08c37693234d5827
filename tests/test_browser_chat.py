"""Notebook 08 in a real browser: JupyterLab and Chromium; alice types, bob's pane shows it.

The notebook runs as a learner leaves it, with Exercise 8.1 solved, in a copy inside a temporary
folder; JupyterLab listens on a free loopback port with a token and is stopped, kernels and the
kernels' servers included, before the test ends. Without Chromium or playwright the test is
skipped on a learner's machine, and fails in CI (env CI=true), where it must run.
"""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import psutil
import pytest

from workshop import NOTEBOOKS, ROOT
from workshop.notebooks import solved

NOTEBOOK = "08-chat-capstone.ipynb"
PANES_CELL = "side_by_side(alice, bob)"  # the cell that shows the panes: run everything up to it
SCREENSHOT = ROOT / "test-artifacts" / "chat-browser.png"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
LAB_SETTINGS = {  # no news feed, no update check: the test talks to nothing but loopback
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


@pytest.fixture
def chromium() -> str:
    """Chromium's path, or skip (fail in CI) when there is no browser to drive."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (requirements-test.txt)"
    path = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if problem is None and not path:
        problem = "no Chromium found (set CHROMIUM to its path)"
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser test must run in CI: {problem}")
        pytest.skip(problem)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class JupyterLab:
    """A JupyterLab server of our own: temporary folders, loopback only, a token, no network."""

    def __init__(self, folder: Path, notebooks: Path):
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        settings = folder / "lab-settings"
        for name, values in LAB_SETTINGS.items():
            (settings / name).parent.mkdir(parents=True, exist_ok=True)
            (settings / name).write_text(json.dumps(values))
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(folder / "config"), "JUPYTER_DATA_DIR": str(folder / "data"),
               "JUPYTER_RUNTIME_DIR": str(folder / "runtime"), "IPYTHONDIR": str(folder / "ipython"),
               "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(folder / "workspaces")}
        command = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={notebooks}",
                   "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                   "--LabApp.expose_app_in_browser=True"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.append("--allow-root")  # CI runs as root; JupyterLab refuses to without it
        self.log = open(folder / "jupyterlab.log", "wb")
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env, cwd=notebooks)
        self._wait_until_up()

    def api(self, path: str, method: str = "GET"):
        request = urllib.request.Request(f"{self.url}{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            return json.loads(reply.read() or b"null")

    def _wait_until_up(self, timeout: float = 60.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited at start-up:\n{self.tail()}")
            try:
                self.api("/api/status")
                return
            except OSError:
                time.sleep(0.25)
        raise RuntimeError(f"JupyterLab did not answer within {timeout:g} s:\n{self.tail()}")

    def tail(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-3000:]

    def stop(self):
        """Shut down kernels and server, then make sure no process of theirs is left (their servers too)."""
        try:
            lab = psutil.Process(self.process.pid)
            family = [lab, *lab.children(recursive=True)]
        except psutil.Error:
            family = []
        try:
            self.api("/api/shutdown", method="POST")
        except OSError:
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.terminate()
        _, alive = psutil.wait_procs(family, timeout=10)
        for leftover in alive:  # only processes this test started: JupyterLab, its kernels, their servers
            leftover.kill()
        psutil.wait_procs(alive, timeout=5)
        self.log.close()


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a copy of notebook 08 with its exercise solved."""
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    nbformat.write(solved(nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)), notebooks / NOTEBOOK)
    server = JupyterLab(tmp_path, notebooks)
    try:
        yield server
    finally:
        server.stop()


def panes_cell_index() -> int:
    notebook = nbformat.read(NOTEBOOKS / NOTEBOOK, as_version=4)
    return next(i for i, cell in enumerate(notebook.cells) if PANES_CELL in cell.source)


def test_a_message_typed_in_alices_pane_appears_in_bobs(chromium, lab, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    message = "Hello bob, from a real browser!"
    tricky = "<b>not bold</b> & costs $5 or $6"  # no markup, no math: text as typed
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            page = browser.new_page()
            page.goto(f"{lab.url}/lab/tree/{NOTEBOOK}?token={lab.token}")
            page.wait_for_function("""() => {
                const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
                return panel && panel.sessionContext && panel.sessionContext.session
                    && panel.sessionContext.session.kernel
                    && panel.sessionContext.session.kernel.connectionStatus === 'connected';
            }""", timeout=60_000)
            # Select the cell after the panes and run every cell above it (not the closing cell).
            page.evaluate("""async (index) => {
                const app = window.jupyterapp;
                const panel = app.shell.currentWidget;
                panel.content.activeCellIndex = index;
                await app.commands.execute('notebook:run-all-above');
            }""", panes_cell_index() + 1)

            alice_box = page.locator(".chat-pane-alice .chat-input input")
            bob_list = page.locator(".chat-pane-bob .chat-messages")
            expect(alice_box).to_be_visible(timeout=120_000)
            for name in ("alice", "bob"):
                expect(page.locator(f".chat-pane-{name} .chat-status-text")).to_have_text("connected",
                                                                                          timeout=30_000)
            alice_box.fill(message)
            alice_box.press("Enter")
            expect(bob_list).to_contain_text(message, timeout=15_000)
            expect(alice_box).to_have_value("")
            expect(page.locator(".chat-pane-alice .chat-own .chat-text").last).to_have_text(message)
            expect(bob_list.locator(".chat-other .chat-text").last).to_have_text(message)

            alice_box.fill(tricky)
            alice_box.press("Enter")
            expect(bob_list.locator(".chat-text").last).to_have_text(tricky, timeout=15_000)
            assert bob_list.locator(".chat-text b").count() == 0, "HTML in a message was rendered"

            page.locator(".chat-panes").first.scroll_into_view_if_needed()
            SCREENSHOT.parent.mkdir(exist_ok=True)
            page.screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()
