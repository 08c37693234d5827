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
