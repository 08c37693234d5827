"""Binder replayed: a fresh environment from binder/ only, postBuild, then notebook 00 under nbval."""
import os
import shutil
import subprocess
import venv

from workshop import ROOT


def pins(path):
    return sorted(line for line in path.read_text().splitlines() if line and not line.startswith("#"))


def test_binder_pins_the_same_versions_as_the_workshop():
    assert pins(ROOT / "binder" / "requirements.txt") == pins(ROOT / "requirements.txt")
    pinned = {line.split("==")[0] for line in pins(ROOT / "binder" / "requirements.txt")}
    assert {"jupyterlab", "ipywidgets", "jupyterlab_widgets"} <= pinned, "widgets render only with all three pinned"


def test_fresh_binder_environment_runs_notebook_00(tmp_path):
    repo = tmp_path / "repo"
    tracked = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    for name in tracked:
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    environment = tmp_path / "env"
    venv.create(environment, with_pip=True)
    python = environment / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    # --no-compile: Binder's own build writes the .pyc files; here they would cost a quarter of the install
    subprocess.run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-compile",
                    "-r", repo / "binder" / "requirements.txt"], check=True, capture_output=True)
    binder_env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ['PATH']}"}
    binder_env.pop("PYTHONPATH", None)
    subprocess.run(["bash", repo / "binder" / "postBuild"], cwd=repo, env=binder_env, check=True)
    assert (repo / "workshop" / "protos" / "users_pb2_grpc.py").is_file(), "postBuild did not generate code"
    result = subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--nbval", "--nbval-current-env",
         "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "notebooks/00-welcome.ipynb"],
        cwd=repo, env=binder_env, capture_output=True, text=True)
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    # The inner run's own summary is reported in words, so CI's reader sees only this suite's closing line.
    assert result.returncode == 0, f"nbval on notebook 00 in the Binder environment failed: {result.stdout[-3000:]}"
    assert "passed" in summary and "failed" not in summary
