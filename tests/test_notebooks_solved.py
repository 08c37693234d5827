"""Every notebook again, with each exercise cell replaced by its answer: every checker must pass.

Checkers raise in strict mode (WORKSHOP_STRICT_CHECKS=1), so a solution that no longer passes,
or a notebook that breaks once exercises are done, fails here.
"""

import nbformat
import pytest

from workshop import NOTEBOOKS, SOLUTIONS
from workshop.notebooks import execute, exercise_cells, solved

NOTEBOOKS_WITH_EXERCISES = [p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
                            if exercise_cells(nbformat.read(p, as_version=4))]


def test_every_exercise_names_an_existing_solution():
    for path in NOTEBOOKS_WITH_EXERCISES:
        for cell in exercise_cells(nbformat.read(path, as_version=4)):
            solution = cell.metadata.get("workshop", {}).get("solution")
            assert solution, f"{path.name}: an exercise cell names no solution"
            assert (SOLUTIONS / solution).is_file(), f"{path.name}: solutions/{solution} is missing"


@pytest.mark.parametrize("path", NOTEBOOKS_WITH_EXERCISES, ids=lambda p: p.stem)
def test_notebook_runs_with_every_exercise_solved(path, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKSHOP_STRICT_CHECKS", "1")
    notebook = solved(nbformat.read(path, as_version=4))
    execute(notebook, tmp_path)  # raises CellExecutionError, with the cell, if anything fails
    checker_outputs = [output.get("data", {}).get("text/plain", "") for cell in notebook.cells
                       if cell.cell_type == "code" for output in cell.get("outputs", [])]
    assert not any("✗" in text for text in checker_outputs), "a check failed in the solved notebook"
