"""The import rules of the code hold, on its import graph: import-linter's contracts in pyproject.toml.

The core imports no framework and nothing of calkeeper but itself; nothing imports the CLI; the client
imports only the core and the contract; the contract only the core; the license authority nothing of
the CAL server; and calkeeper's top-level packages import each other without cycles.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"import contracts broken:\n{done.stdout}\n{done.stderr}"
