"""Every exercise on its own, as after a kernel restart: the notebook's first code cell, then only
the cells of that exercise (its cell, the cell that starts its server, its checker), nothing else.

Cells of an exercise name it in their metadata (`workshop.exercise`, e.g. "4.1"). Run as shipped,
every cell must run without an error (the checker shows ✗ and hints, never a NameError); run with
the exercise solved, every check must pass (strict mode).
"""
import nbformat
import pytest

from workshop import NOTEBOOKS
from workshop.notebooks import execute, exercise_cells, solved


def exercise_of(cell) -> str | None:
    return cell.metadata.get("workshop", {}).get("exercise")


def all_exercises() -> list[tuple[str, str]]:
    found = []
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in exercise_cells(notebook):
            found.append((path.name, exercise_of(cell)))
    return found


EXERCISES = all_exercises()


def alone(notebook, exercise: str):
    """The notebook cut down to its first code cell and the cells of `exercise`."""
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    notebook.cells = [code[0]] + [cell for cell in code[1:] if exercise_of(cell) == exercise]
    return notebook


def test_every_exercise_cell_names_its_exercise():
    assert EXERCISES, "no exercise cells found"
    unnamed = [name for name, exercise in EXERCISES if not exercise]
    assert not unnamed, f"exercise cells without metadata workshop.exercise in {unnamed}"


def test_each_exercise_has_a_checker_cell_of_its_own():
    for name, exercise in EXERCISES:
        notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
        cells = alone(notebook, exercise).cells[1:]
        assert any("check_" in cell.source and "exercise" not in cell.metadata.get("tags", []) for cell in cells), (
            f"{name}: exercise {exercise} has no checker cell tagged with it")


@pytest.mark.parametrize(("name", "exercise"), EXERCISES, ids=[f"{e}" for _, e in EXERCISES])
def test_exercise_as_shipped_runs_alone_after_a_restart(name, exercise, tmp_path):
    notebook = alone(nbformat.read(NOTEBOOKS / name, as_version=4), exercise)
    execute(notebook, tmp_path)  # raises CellExecutionError, naming the cell, on any error


@pytest.mark.parametrize(("name", "exercise"), EXERCISES, ids=[f"{e}" for _, e in EXERCISES])
def test_exercise_solved_passes_alone_after_a_restart(name, exercise, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_STRICT_CHECKS", "1")
    notebook = alone(solved(nbformat.read(NOTEBOOKS / name, as_version=4)), exercise)
    execute(notebook, tmp_path)  # a failing check raises in strict mode
