"""`python -m workshop test`: nbval runs copies of the notebooks, so a test run during a workshop never
overwrites what a learner's cells wrote next to the notebooks (my_talk.proto, my_users/, their servers)."""
import workshop.__main__ as entry
from workshop import NOTEBOOKS, ROOT


def commands_run(monkeypatch, tmp_path, args) -> list:
    seen = []
    monkeypatch.setattr(entry, "run", lambda command: seen.append(command) or 0)
    monkeypatch.setattr(entry, "NOTEBOOKS_UNDER_TEST", tmp_path / "copies")
    assert entry.run_tests(args) == 0
    return seen


def test_the_whole_suite_runs_the_unit_tests_and_copies_of_the_shipped_notebooks(monkeypatch, tmp_path):
    learners_file = NOTEBOOKS / "my_talk.proto"
    before = learners_file.read_bytes() if learners_file.exists() else None
    (command,) = commands_run(monkeypatch, tmp_path, ["-x"])
    assert str(ROOT / "tests") in command and str(tmp_path / "copies") in command and command[-1] == "-x"
    assert str(NOTEBOOKS) not in command
    shipped = sorted(path.name for path in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    assert sorted(path.name for path in (tmp_path / "copies").iterdir()) == shipped  # no my_* copy among them
    assert (learners_file.read_bytes() if learners_file.exists() else None) == before


def test_tests_named_on_the_command_line_run_as_named(monkeypatch, tmp_path):
    (command,) = commands_run(monkeypatch, tmp_path, ["tests/test_wire.py::test_x", "-x"])
    assert command[-2:] == ["tests/test_wire.py::test_x", "-x"]
    assert str(tmp_path / "copies") not in command and not (tmp_path / "copies").exists()


def test_a_second_run_starts_from_fresh_copies(monkeypatch, tmp_path):
    stale = tmp_path / "copies" / "my_talk.proto"
    stale.parent.mkdir()
    stale.write_text("left by the last run")
    commands_run(monkeypatch, tmp_path, [])
    assert not stale.exists()
