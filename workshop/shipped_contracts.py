"""The contracts the kit ships in protos/, by fingerprint: to tell the kit's own contract from one edited in place.

Every notebook is built on protos/ (workshop.protos is generated from it at import), and exercise 3.1
compares a learner's copy with protos/users.proto. A learner who edits the kit's file instead of the
copy would move that baseline, and with it every later notebook; these fingerprints let the 3.1
checker and the environment check say so. A fingerprint is of the text, with Windows line endings
read as Unix ones, so a checkout with CRLF matches too. tests/test_codegen.py fails, saying the new
values, when a contract in protos/ changes and this table does not.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from workshop import PROTOS

FINGERPRINTS = {  # sha256 of each protos/*.proto as shipped, line endings as "\n"
    "chat.proto": "17fc3770374ebbcf3985df915fffbe894897db9e213091231f93c01f6eae1ca9",
    "files.proto": "57be7d441e967e444f5c830673229f558b46d169122e1d1d37692ebecde83a77",
    "users.proto": "267c82015428f30e530414d2dba02ec59d2c307b9dba83b641338094c3f273d5",
}


def fingerprint(path: Path) -> str:
    """sha256 of a contract's text, whatever line endings the checkout gave it."""
    return hashlib.sha256(Path(path).read_bytes().replace(b"\r\n", b"\n")).hexdigest()


def is_as_shipped(path: Path) -> bool:
    """True when protos/<name> is there and holds the text the kit shipped."""
    path = Path(path)
    return path.is_file() and FINGERPRINTS.get(path.name) == fingerprint(path)


def restore(name: str) -> str:
    """How to get one shipped contract back, in a clone and in a kit that was unzipped."""
    return f"git checkout protos/{name}   (in a kit you unzipped: take protos/{name} from the download again)"


def not_as_shipped(proto_dir: Path = PROTOS) -> dict[str, str]:
    """{file name: "changed", "missing" or "added"} for each contract in `proto_dir` that is not as the kit shipped."""
    found = {name: "changed" for name in FINGERPRINTS
             if (proto_dir / name).is_file() and not is_as_shipped(proto_dir / name)}
    found.update((name, "missing") for name in FINGERPRINTS if not (proto_dir / name).is_file())
    found.update((path.name, "added") for path in proto_dir.glob("*.proto") if path.name not in FINGERPRINTS)
    return dict(sorted(found.items()))
