"""A second server for 12.1's checker: a service of the same full name as one of the stockroom's, with other
methods. Importing this package generates its code beside this file (ignored by git)."""
from pathlib import Path

from workshop.codegen import generate

generate(Path(__file__).parent / "contracts", Path(__file__).parent, __name__)
