"""Servers that no notebook shows, for checkers that must judge code against something new (12.1).

Their contracts are in contracts/; importing this package generates their code beside this file
(ignored by git), as workshop.protos does for protos/.
"""
from pathlib import Path

from workshop.codegen import generate

generate(Path(__file__).parent / "contracts", Path(__file__).parent, __name__)
