"""A second server for 12.1's checker: the stockroom's contract with one change, its stockroom.v2.Ledger serving
Tally alone. The same file name, the same services: only asking the server tells its Ledger from the first's.

Importing this package writes that contract (from ../contracts/stockroom.proto, into contracts/, ignored by git)
and generates its code beside this file, as workshop.protos does for protos/. Its code claims the real file's
name, so no process may import both: the twin server loads it under a name of its own (ledger_server.py).
"""
import re
from pathlib import Path

from workshop.codegen import generate

HERE = Path(__file__).parent
LEDGER = "service Ledger {\n  rpc Tally(google.protobuf.Empty) returns (google.protobuf.Empty);\n}\n"


def twin_contract(original: str) -> str:
    """The stockroom's contract with its Ledger serving Tally alone, first of the file's services (a table of the
    file's first service is then the asked one's on this server, as on the first), and without the import of
    v2.Admin's file (declared, never served: nothing of the twin needs it)."""
    ledger = re.search(r"(?ms)^(// [^\n]*\n)*service Ledger \{.*?^\}\n", original)
    admin_import = re.search(r'(?m)^import "workshop/checkers/unseen/v2_admin.proto";.*\n', original)
    if ledger is None or admin_import is None or "\nservice Stockroom {" not in original:
        raise ValueError("the stockroom's contract changed: update the twin's (workshop/checkers/unseen/twin)")
    return original.replace(ledger.group(0), "").replace(admin_import.group(0), "").replace(
        "\nservice Stockroom {", f"\n{LEDGER}\nservice Stockroom {{", 1)


_contracts = HERE / "contracts"
_contracts.mkdir(exist_ok=True)
_twin = twin_contract((HERE.parent / "contracts" / "stockroom.proto").read_text())
if not (_contracts / "stockroom.proto").is_file() or (_contracts / "stockroom.proto").read_text() != _twin:
    (_contracts / "stockroom.proto").write_text(_twin)
for _stale in _contracts.glob("*.proto"):
    if _stale.name != "stockroom.proto":
        _stale.unlink()
# The package its code names is the first server's, so its file is workshop/checkers/unseen/stockroom.proto too.
generate(_contracts, HERE, "workshop.checkers.unseen")
