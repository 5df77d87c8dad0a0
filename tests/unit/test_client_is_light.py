"""The client is light: an app server that embeds it loads httpx and calkeeper's core and contract, nothing else.

The import runs in a new interpreter, so that what this test session loaded does not count. How long it
takes is measured by ``make bench`` (``bench/import_bench.py``), not here: a timing would be flaky.
"""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "argon2", "fastapi", "starlette", "uvicorn", "typer", "click", "rich", "pygments",
         "pydantic", "jinja2", "cryptography", "psycopg", "prometheus_client")
OURS = ("calkeeper.client", "calkeeper.core", "calkeeper.contract")


def modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    return set(json.loads(done.stdout))


def test_importing_the_client_loads_no_database_web_or_cli_library() -> None:
    loaded = modules_after("import calkeeper.client")
    assert "httpx" in loaded
    assert sorted(m for m in loaded if m.split(".")[0] in HEAVY) == []


def test_importing_the_client_loads_only_its_own_core_and_contract_modules_of_calkeeper() -> None:
    ours = {m for m in modules_after("from calkeeper.client import CalkeeperClient, RemoteSite")
            if m.startswith("calkeeper")}
    assert sorted(m for m in ours if m != "calkeeper" and not m.startswith(OURS)) == []


def test_the_package_still_offers_its_names_when_asked_for_them() -> None:
    loaded = modules_after("import calkeeper\n"
                           "assert calkeeper.open_site and calkeeper.FrozenClock and calkeeper.LocalSite")
    assert "calkeeper.site" in loaded and "sqlalchemy" in loaded
