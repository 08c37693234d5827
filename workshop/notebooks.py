"""Executing notebooks the way the tests will: fresh kernel, a folder of its own, stored outputs.

`python -m workshop execute [NOTEBOOK ...]` is the only way stored outputs are made, so what is
in git is what a fresh kernel prints. The "solved" test run uses `solved` to swap every exercise
cell for its answer from solutions/.
"""
from __future__ import annotations

import copy
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from workshop import NOTEBOOKS, SOLUTIONS

CELL_TIMEOUT = 180


def exercise_cells(notebook) -> list:
    """The code cells tagged `exercise`, each naming its answer in metadata workshop.solution."""
    return [cell for cell in notebook.cells
            if cell.cell_type == "code" and "exercise" in cell.metadata.get("tags", [])]


def solved(notebook):
    """A copy of `notebook` with every exercise cell replaced by its solution file, verbatim."""
    notebook = copy.deepcopy(notebook)
    for cell in exercise_cells(notebook):
        cell.source = (SOLUTIONS / cell.metadata["workshop"]["solution"]).read_text().rstrip("\n")
    return notebook


def execute(notebook, folder: Path, timeout: int = CELL_TIMEOUT):
    """Run every cell on a fresh kernel with `folder` as the current directory; returns the notebook."""
    # coalesce_streams: a busy machine can split one print into two stream outputs; stored, that would churn.
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3", record_timing=False,
                            coalesce_streams=True, resources={"metadata": {"path": str(folder)}})
    client.execute()
    notebook.metadata.pop("widgets", None)  # widget state churns on every run and is not needed
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)  # timestamps would change the file on every run
    return notebook


def execute_and_save(arguments: list[str]) -> int:
    """Each notebook runs in an empty folder of its own, as on a fresh checkout: the files its cells write
    (my_*.py, my_talk.proto) neither meet a learner's nor change what it prints ("Writing", never
    "Overwriting" a file left by an earlier run)."""
    import tempfile

    paths = [Path(a).resolve() for a in arguments] or sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
    for path in paths:
        started = time.monotonic()
        notebook = nbformat.read(path, as_version=4)
        try:
            with tempfile.TemporaryDirectory(prefix=f"workshop-{path.stem}-") as folder:
                execute(notebook, Path(folder))
        except Exception as error:  # report which notebook, keep the file untouched
            print(f"✗ {path.name}: {type(error).__name__}: {str(error)[-2000:]}", file=sys.stderr)
            return 1
        nbformat.write(notebook, path)
        print(f"✓ {path.name} executed and saved ({time.monotonic() - started:.1f} s)")
    return 0
