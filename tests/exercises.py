"""Helpers for checker tests: the shipped skeleton of an exercise, and cells turned into files."""
from pathlib import Path

import nbformat

from workshop import NOTEBOOKS, SOLUTIONS
from workshop.notebooks import exercise_cells


def skeleton(solution: str) -> str:
    """The exercise cell, as shipped in its notebook, whose answer is solutions/`solution`."""
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        for cell in exercise_cells(nbformat.read(path, as_version=4)):
            if cell.metadata["workshop"]["solution"] == solution:
                return cell.source
    raise LookupError(f"no exercise cell names {solution}")


def answer(solution: str) -> str:
    return (SOLUTIONS / solution).read_text()


def write_cell(source: str, folder: Path, default_name: str = "module.py") -> Path:
    """Write a cell's code to `folder` as its `%%writefile NAME` line would; returns the file."""
    first, _, rest = source.partition("\n")
    if first.startswith("%%writefile"):
        name, source = first.split()[-1], rest
    else:
        name = default_name
    path = Path(folder) / name
    path.write_text(source)
    return path
