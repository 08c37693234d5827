"""The kit's one entry point: `python -m workshop open` and `python -m workshop test`.

Runs with any Python 3.10+ on Linux, macOS or Windows, before anything is installed: it creates
(or reuses) `.venv` in the repository, installs the pinned requirements into it, generates code
from protos/, and then does what was asked inside that environment.

    python -m workshop open      set up, then open JupyterLab on notebook 00 (extra options go to JupyterLab)
    python -m workshop test      set up (test tools too), then run every test
    python -m workshop check     set up, then run the environment check in the terminal
    python -m workshop execute   re-execute notebooks and store their outputs (maintainers)
    python -m workshop prepare   in an environment that is already installed (Binder): link and generate only
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

from workshop import ROOT  # stdlib-only: safe before the venv exists

MINIMUM_PYTHON = (3, 10)
VENV = ROOT / ".venv"
RUNTIME = ROOT / "requirements.txt"
TEST_TOOLS = ROOT / "requirements-test.txt"
USAGE = __doc__.split("\n\n", 2)[2]


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def inside_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def install(requirement_files: list[Path]) -> None:
    """pip-install the pinned files, skipping each one whose exact content was installed already."""
    stamps = {f: VENV / f".installed-{f.name}-{hashlib.sha256(f.read_bytes()).hexdigest()[:16]}"
              for f in requirement_files}
    missing = [f for f, stamp in stamps.items() if not stamp.exists()]
    if missing:
        print("Installing the pinned requirements (the first time takes a minute or two)...", flush=True)
        command = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        for requirements in missing:
            command += ["-r", str(requirements)]
        subprocess.run(command, check=True)
        for requirements in missing:
            stamps[requirements].touch()


def link_repository() -> None:
    """A .pth file puts the repository on sys.path of every Python in this environment:
    kernels, servers and tests then import `workshop` and `server_runner` from any folder."""
    site_packages = Path(sysconfig.get_paths()["purelib"])
    (site_packages / "grpc-workshop.pth").write_text(str(ROOT) + "\n")


def generate_code() -> bool:
    """Generate code from protos/; a broken contract is reported, not raised, so that JupyterLab
    (where the learner fixes it) still opens and the environment check still runs."""
    sys.path.insert(0, str(ROOT))
    from workshop.codegen import ProtoError

    try:
        import workshop.protos  # noqa: F401  (importing regenerates when a contract changed)
    except ProtoError as error:
        print(f"\n{error}\n", file=sys.stderr)
        return False
    return True


def run(command: list) -> int:
    """Run `command` to its end. Ctrl+C reaches it directly; this process only waits, so
    JupyterLab can ask "shut down?" and pytest can finish its teardown."""
    process = subprocess.Popen(command, cwd=ROOT)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            continue


def open_workshop(args) -> int:
    # The repository is the root, so learners can browse protos/ and solutions/; notebook 00 opens first.
    command = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={ROOT}",
               "--LabApp.default_url=/lab/tree/notebooks/00-welcome.ipynb", *args]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")  # JupyterLab refuses to run as root without it
    return run(command)


# pytest-xdist workers per CPU core: most tests wait on servers and kernels, not the CPU (with one worker a core,
# the cores sat idle half the time: 0.87 of 2 busy over a 13-minute run; with two, 1.3 of 2 and 8.3 minutes).
WORKERS_PER_CORE, MOST_WORKERS = 2, 4  # more would crowd the checkers' timing cases on a small machine


NOTEBOOKS_UNDER_TEST = ROOT / ".run" / "notebooks-under-test"


def copy_notebooks_for_tests() -> Path:
    """The shipped notebooks, copied where nbval runs them: their cells write files (my_talk.proto,
    my_users/, a learner's server module) next to the notebook, and a test run in notebooks/ itself
    would overwrite a learner's files while the workshop is open."""
    import shutil

    from workshop import NOTEBOOKS

    shutil.rmtree(NOTEBOOKS_UNDER_TEST, ignore_errors=True)
    NOTEBOOKS_UNDER_TEST.mkdir(parents=True)
    for notebook in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        shutil.copy2(notebook, NOTEBOOKS_UNDER_TEST / notebook.name)
    return NOTEBOOKS_UNDER_TEST


def run_tests(args) -> int:
    # pyproject.toml holds the options: unit tests, nbval over the notebooks, the solved run, the browser test.
    # Each test file (a notebook's cells too) is kept together on one pytest-xdist worker.
    workers = min(MOST_WORKERS, WORKERS_PER_CORE * (os.cpu_count() or 1))
    parallel = ["-n", str(workers), "--dist", "loadfile"] if (os.cpu_count() or 1) >= 2 else []
    chosen = any(Path(arg.split("::")[0]).exists() for arg in args)  # tests named: run just those
    targets = [] if chosen else [str(ROOT / "tests"), str(copy_notebooks_for_tests())]
    return run([sys.executable, "-m", "pytest", *parallel, *targets, *args])


def check(_args) -> int:
    from workshop.envcheck import main

    return main()


def execute(args) -> int:
    from workshop.notebooks import execute_and_save

    return execute_and_save(args)


COMMANDS = {"open": (open_workshop, False), "test": (run_tests, True), "check": (check, False),
            "execute": (execute, False)}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in [*COMMANDS, "prepare"]:
        print(USAGE)
        return 2
    if sys.version_info < MINIMUM_PYTHON:
        print(f"The workshop needs Python {'.'.join(map(str, MINIMUM_PYTHON))} or newer; this is "
              f"{sys.version.split()[0]}. Install a newer one from python.org, then run this command with it.")
        return 1
    if argv[0] == "prepare":  # Binder's postBuild: its environment is already installed, no .venv
        link_repository()
        return 0 if generate_code() else 1
    if not inside_venv():
        if not create_venv():
            return 1
        command = [str(venv_python()), "-m", "workshop", *argv]
        if os.name == "posix":
            os.execv(command[0], command)  # become the venv's Python: Ctrl+C and exit codes pass straight through
        return run(command)
    action, needs_test_tools = COMMANDS[argv[0]]
    try:
        install([RUNTIME, TEST_TOOLS] if needs_test_tools else [RUNTIME])
    except subprocess.CalledProcessError:
        print("\nInstalling the requirements failed (see pip's message above). Check your internet "
              "connection and run the same command again; it continues where it stopped.", file=sys.stderr)
        return 1
    link_repository()
    if not generate_code() and argv[0] in ("test", "execute"):
        return 1
    return action(argv[1:])


def create_venv() -> bool:
    """Create .venv unless a working one exists; a half-made one (no pip) is made again."""
    if venv_python().exists() and subprocess.run([str(venv_python()), "-m", "pip", "--version"],
                                                 capture_output=True).returncode == 0:
        return True
    print(f"Creating a virtual environment in {VENV} ...", flush=True)
    try:
        venv.create(VENV, with_pip=True, clear=True)
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"\nCould not create {VENV} ({error}).\nOn Debian or Ubuntu, install venv support first: "
              f"sudo apt install python3-venv   then run the same command again.", file=sys.stderr)
        return False
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
