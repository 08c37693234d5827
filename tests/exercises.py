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


def check_server_cell(checker, source: str, folder: Path):
    """Run `checker` on a server started from a cell's code; its report must never hold a traceback."""
    import server_runner

    with server_runner.start(str(write_cell(source, folder))) as server:
        result = checker(server)
    assert "Traceback" not in repr(result)
    return result


def failed(result) -> set:
    """The labels of the cases that did not pass."""
    return {case.label for case in result.cases if not case.passed}


def wrong(solution: str, replace: str, by: str) -> str:
    """The answer `solution` with one mistake put in: `replace` (which must be in it) becomes `by`."""
    return wrong_in_places(solution, {replace: by})


def wrong_in_places(solution: str, replacements: dict) -> str:
    """The answer `solution` with each key (which must be in it) replaced by its value: a typical mistake."""
    source = answer(solution)
    for old, new in replacements.items():
        assert old in source, f"solutions/{solution} no longer contains {old!r}; update this wrong answer"
        source = source.replace(old, new)
    return source


def assert_breaks_only(result, rule: str, shown: list[str]) -> None:
    """`result` fails `rule` and nothing else, and its report holds every text of `shown`."""
    assert failed(result) == {rule}, repr(result)
    assert all(text in repr(result) for text in shown), repr(result)


REFERENCE_WITH_ONE_METHOD = '''
import queue
import threading
import time

import grpc

from workshop.protos import users_pb2, users_pb2_grpc
from workshop.servers import users


class MyUserManager(users.UserManager):
{method}


def add_to_server(server):
    users.add_to_server(server, MyUserManager)
'''


def reference_with(method: str) -> str:
    """A learner's module: the kit's reference service (workshop/servers/users.py) with `method` written anew."""
    import textwrap

    return REFERENCE_WITH_ONE_METHOD.format(method=textwrap.indent(textwrap.dedent(method), "    "))
