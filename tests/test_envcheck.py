"""The environment check: ✓ on a good setup, and a ✗ with the fixing command for each kind of trouble."""
import shutil
import subprocess
import sys

from workshop import PROTOS, ROOT, envcheck


def test_everything_passes_in_the_kit_environment():
    result = envcheck.environment_check()
    assert result.all_passed, repr(result)
    assert result.warnings == [] and "⚠" not in repr(result)


def test_an_edited_kit_contract_is_a_warning_that_names_the_file_and_how_to_restore_it(tmp_path, monkeypatch):
    """The walker's edit of protos/users.proto (a field and DeleteUser): it compiles and serves, so the check
    passes, and says which file is not the kit's and how to get the kit's back."""
    protos = tmp_path / "protos"
    shutil.copytree(PROTOS, protos)
    users = protos / "users.proto"
    users.write_text(users.read_text().replace("  UserType user_type = 4;\n}", "  UserType user_type = 4;\n"
                                               "  string phone = 5;\n}"))
    monkeypatch.setattr(envcheck, "PROTOS", protos)
    result = envcheck.environment_check()
    assert result.all_passed, repr(result)
    assert repr(result).splitlines()[-1].startswith("⚠ protos/users.proto was changed"), repr(result)
    assert "git checkout protos/users.proto" in result.warnings[0]


def test_a_package_at_the_wrong_version_is_named_with_the_fix(tmp_path, monkeypatch):
    wrong = tmp_path / "requirements.txt"
    wrong.write_text("grpcio==0.0.1\nnot-a-real-package==1.0\n")
    read_pins = envcheck.pinned_requirements
    monkeypatch.setattr(envcheck, "pinned_requirements", lambda: read_pins(wrong))
    result = envcheck.environment_check()
    case = result["packages match requirements.txt"]
    assert not case.passed
    assert "grpcio 1.85.1 (needs 0.0.1)" in case.got and "not-a-real-package missing (needs 1.0)" in case.got
    assert "python3 -m workshop open" in case.hint and f"\"{sys.executable}\" -m pip install" in case.hint


def test_missing_widget_manager_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "prefix", str(tmp_path))
    monkeypatch.setattr(sys, "base_prefix", str(tmp_path))
    case = envcheck.environment_check()["JupyterLab can show widgets"]
    assert not case.passed and "Error displaying widget" in case.got


def test_pins_are_read_from_requirements_txt():
    pins = envcheck.pinned_requirements()
    assert pins["grpcio"] == pins["grpcio-tools"] and "jupyterlab" in pins and "ipywidgets" in pins


def test_command_line_check_prints_the_table_and_exits_zero():
    result = subprocess.run([sys.executable, "-m", "workshop", "check"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Environment check" in result.stdout and "5 of 5 passed" in result.stdout


def test_every_pin_installs_on_the_oldest_python_the_readme_promises():
    """The README says Python 3.10+: each pin that applies to 3.10 must declare support for it."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    for requirements in (ROOT / "requirements.txt", ROOT / "requirements-test.txt"):
        for line in requirements.read_text().splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            pin = Requirement(line)
            if pin.marker is not None and not pin.marker.evaluate({"python_version": "3.10"}):
                continue
            version = str(pin.specifier).removeprefix("==")
            if metadata.version(pin.name) != version:
                continue  # a 3.10-only pin, not installed here: pip checks it on 3.10 itself
            supported = metadata.metadata(pin.name).get("Requires-Python") or ""
            assert SpecifierSet(supported).contains("3.10.0"), f"{pin.name}=={version} needs Python {supported}"


def server_that_cannot_start(tmp_path, monkeypatch, sitecustomize):
    """Every new Python process on this PYTHONPATH runs `sitecustomize` first: the server's child too."""
    (tmp_path / "sitecustomize.py").write_text(sitecustomize)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    return envcheck.environment_check()["a server starts in the background and answers GetUser(1) → alice"]


def test_a_server_that_dies_silently_is_reported_without_a_dangling_log_line(tmp_path, monkeypatch):
    case = server_that_cannot_start(tmp_path, monkeypatch, "import os\nos._exit(3)\n")
    assert not case.passed
    assert "exited during start-up (code 3)" in case.got and case.got.endswith("Its log is empty."), case.got
    assert "ends with:" not in case.got
    assert "serve users" in case.hint


def test_a_server_that_cannot_start_shows_the_last_line_of_its_log(tmp_path, monkeypatch):
    case = server_that_cannot_start(tmp_path, monkeypatch, "raise SystemExit('the disk is full, says the server')\n")
    assert not case.passed
    assert "Its log ends with: " in case.got and case.got.endswith("the disk is full, says the server"), case.got
