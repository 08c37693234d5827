"""`python -m workshop open` (the README's first command) serves JupyterLab on notebook 00."""
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from workshop import ROOT


def fetch(url, seconds=20):
    """(final URL, body) at `url`, retrying while the server is still starting to accept connections."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as reply:
                return reply.geturl(), reply.read()
        except urllib.error.URLError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def first_match(stream, pattern, seconds):
    """The first match of `pattern` in the lines of `stream` within `seconds`, and the lines read."""
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    seen, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.5)
        except queue.Empty:
            continue
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found, seen
    return None, seen


def test_open_serves_jupyterlab_on_notebook_00(tmp_path):
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    command = [sys.executable, "-m", "workshop", "open", "--no-browser", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port=0"]
    lab = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           start_new_session=True)
    try:
        found, seen = first_match(lab.stdout, r"(http://127\.0\.0\.1:\d+)/lab[^?\s]*\?token=(\w+)", 60)
        assert found, "JupyterLab printed no URL in time:\n" + "".join(seen)
        base, token = found.group(1), found.group(2)
        landing, _ = fetch(f"{base}/?token={token}")
        assert landing.split("?")[0].endswith("/lab/tree/notebooks/00-welcome.ipynb"), landing
        _, body = fetch(f"{base}/api/contents/notebooks/00-welcome.ipynb?token={token}&content=0")
        assert json.loads(body)["name"] == "00-welcome.ipynb"
        _, body = fetch(f"{base}/api/contents/protos?token={token}")
        assert "users.proto" in {item["name"] for item in json.loads(body)["content"]}, "the repo is the root"
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
