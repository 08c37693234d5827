"""The workshop kit: what notebooks, tests and server processes import.

Importing this package stays cheap and needs only the standard library, because
`python -m workshop` runs it with whatever Python the learner has before the
virtual environment exists.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"
DATA = ROOT / "data"
NOTEBOOKS = ROOT / "notebooks"
SOLUTIONS = ROOT / "solutions"


def load_ipython_extension(ipython) -> None:
    """`%load_ext workshop`: makes `%load ../solutions/...` work in any exercise cell.

    Typed as the first line of a cell, `%load` replaces the whole cell with the answer (the rest
    of the cell would otherwise be a syntax error). And `%load` puts a `# %load ...` comment above
    what it loads, while a cell magic such as `%%writefile` only works on a cell's first line;
    that one comment line is dropped when the loaded cell runs.

    It also keeps grpc's core from printing its INFO lines into cells (such as "Got goaway ...
    UNAVAILABLE" when a checker's own server stops), which read like errors: the notebook's first
    cell loads this extension before it imports grpc, which reads GRPC_VERBOSITY once. A learner's
    own setting is kept.
    """
    import os

    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

    def make_load_work(lines: list[str]) -> list[str]:
        if len(lines) > 1 and lines[0].startswith("%load "):
            return lines[:1]
        if len(lines) > 1 and lines[0].startswith("# %load ") and lines[1].startswith("%%"):
            return lines[1:]
        return lines

    ipython.input_transformers_cleanup.append(make_load_work)


def catch_up(solution: str) -> None:
    """Run an exercise's answer from solutions/ in this notebook, to continue after falling behind.

    `catch_up("04_1_get_user.py")` does what running that answer's cell would do (a `%%writefile`
    answer writes its module), so the cells after the exercise work again.
    """
    from IPython import get_ipython

    source = (SOLUTIONS / solution).read_text()
    result = get_ipython().run_cell(source)
    if result.success and not source.startswith("%%writefile"):  # a %%writefile says so itself
        print(f"caught up: solutions/{solution} ran, and what it defines is in place")
