"""How long a 100,000-row CSV export takes, and how much memory it needs: the audit trail of a generated site.

    .venv/bin/python -m bench.export_bench [--rows 100000]

The rows are generated straight into a SQLite database; the export streams them through
``LocalSite.export_csv`` as the API and the console do. The figure that matters is the peak of memory
allocated by Python while exporting (tracemalloc), which stays near one batch of rows whatever the
list's length; the time is printed for the record, never asserted.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert

import calkeeper
from calkeeper.infra.database import table_of
from calkeeper.store.schema import AuditEntry


def run(rows: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        site = calkeeper.open_site(f"sqlite:///{folder}/bench.db")
        audit = table_of(AuditEntry)
        at = datetime(2026, 1, 1, tzinfo=UTC)
        with site.app.engine.begin() as connection:
            for start in range(0, rows, 10_000):
                connection.execute(insert(audit), [
                    {"at": at, "actor": "bench", "action": "named_cal.assigned", "target": f"ACME\\user{n:06d}",
                     "details": json.dumps({"source": "manual", "n": n})}
                    for n in range(start, min(rows, start + 10_000))])
        target = Path(folder) / "audit.csv"
        tracemalloc.start()
        started = time.perf_counter()
        written = site.export_csv("audit", target)
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = target.stat().st_size
        site.close()
    return {"rows": written, "seconds": round(seconds, 2), "peak_mib": round(peak / 2**20, 1),
            "file_mib": round(size / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    figures = run(parser.parse_args().rows)
    print(json.dumps(figures))
    print(f"export of {figures['rows']} rows: {figures['seconds']} s, peak Python memory {figures['peak_mib']} MiB "
          f"for a {figures['file_mib']} MiB file")


if __name__ == "__main__":
    main()
