"""The kit's habits, checked: the linter is clean, and stored notebooks carry no run-to-run churn."""
import json
import subprocess
import sys

import pytest

from workshop import NOTEBOOKS, ROOT

NOTEBOOK_PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def test_ruff_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", NOTEBOOK_PATHS, ids=lambda p: p.stem)
def test_stored_notebook_has_no_timestamps_or_widget_state(path):
    notebook = json.loads(path.read_text())
    stamped = [index for index, cell in enumerate(notebook["cells"]) if "execution" in cell.get("metadata", {})]
    assert not stamped, f"cells {stamped} keep execution timestamps: run `python -m workshop execute {path.name}`"
    assert "widgets" not in notebook["metadata"], "widget state is stored: re-execute with `python -m workshop execute`"
