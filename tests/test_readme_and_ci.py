"""The README's promise: exactly two commands first (open, test), and CI runs the second one."""
import re
import subprocess
import sys

from workshop import ROOT


def first_code_block():
    return re.search(r"```\n(.*?)```", (ROOT / "README.md").read_text(), re.S).group(1).strip().splitlines()


def test_readme_starts_with_the_two_commands():
    assert first_code_block() == ["python3 -m workshop open", "python3 -m workshop test"]


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert first_code_block()[1] in ci.splitlines()


def test_bootstrap_without_a_command_prints_usage():
    result = subprocess.run([sys.executable, "-m", "workshop"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 2
    assert "python -m workshop open" in result.stdout and "python -m workshop test" in result.stdout


def test_bootstrap_uses_only_the_standard_library_before_the_venv_exists():
    """`python -m workshop` runs on a bare Python: importing it must not need grpc or jupyter."""
    probe = ("import sys; import workshop, workshop.__main__; "
             "heavy = [m for m in ('grpc', 'nbformat', 'psutil', 'IPython') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-S", "-c", probe], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr
