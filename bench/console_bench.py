"""The console benchmark behind ``make bench``: server time of the pages an admin opens most, at 100,000 CALs.

    .venv/bin/python -m bench.console_bench [--named 100000] [--holders 100000] [--repeat 15] [--json PATH]

The demo site (SQLite) grown by bulk SQL (``bench.console_seed``) to ``--named`` Named CALs and a document
with ``--holders`` holders; a signed-in admin asks each page ``--repeat`` times through the app in this
process (no network, so the time is the server's: routing, the session check, the queries and the template).
Pages: the Dashboard; Assigned CALs (first page, a page deep in the list, sorted by last used, a search, the
quarantined filter); Document CALs of the big document (first page, a deep page, a search). Target: the
median of each under 200 ms.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.console_seed import SCALE_DOCUMENT, seed_at_scale
from calkeeper.api.app import create_app
from calkeeper.console.web import SESSION_COOKIE
from calkeeper.core.keys import load_public_keys
from calkeeper.demo import set_up_demo
from calkeeper.settings import Settings
from calkeeper.site import LocalSite, open_site

TARGET_MS = 200.0


def pages(named: int, holders: int) -> dict[str, str]:
    deep_named, deep_holders = max(1, named // 50 * 3 // 4), max(1, holders // 50 * 3 // 4)
    return {
        "Dashboard": "/",
        "Assigned CALs, first page": "/cals/assigned",
        f"Assigned CALs, page {deep_named:,}": f"/cals/assigned?page={deep_named}",
        "Assigned CALs, sorted by last used": "/cals/assigned?sort=-last_used&page=10",
        "Assigned CALs, a search": "/cals/assigned?q=user0999",
        "Assigned CALs, quarantined and dynamic": "/cals/assigned?state=quarantined&source=dynamic",
        "Document CALs, first page": f"/documents?doc={SCALE_DOCUMENT}",
        f"Document CALs, page {deep_holders:,}": f"/documents?doc={SCALE_DOCUMENT}&page={deep_holders}",
        "Document CALs, a search": f"/documents?doc={SCALE_DOCUMENT}&q=rep0999",
    }


def build(folder: Path, *, named: int, holders: int) -> tuple[LocalSite, Settings, str, float]:
    settings = Settings(data_dir=folder)
    set_up_demo(settings)
    site = open_site(settings.database, trusted_keys=load_public_keys([settings.trusted_keys_dir]),
                     root_folder=settings.documents, actor="console-bench")
    site.create_console_user(username="bench", password="bench-password-1", role="admin")
    secret, _ = site.app.console_users.sign_in("bench", "bench-password-1")
    started = time.perf_counter()
    seed_at_scale(site, settings.authority_keys_dir, named=named, holders=holders)
    return site, settings, secret, time.perf_counter() - started


def measure(client: TestClient, path: str, repeat: int) -> dict[str, Any]:
    client.get(path)  # the first answer warms caches and compiles the templates
    times, size = [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        answer = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise RuntimeError(f"{path} answered {answer.status_code}")
        size = len(answer.content)
    times.sort()
    return {"path": path, "median_ms": statistics.median(times), "p90_ms": times[int(len(times) * 0.9) - 1],
            "max_ms": times[-1], "bytes": size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--named", type=int, default=100_000)
    parser.add_argument("--holders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print(f"Console pages, server time, at {args.named:,} Named CALs and a document of {args.holders:,} holders "
          f"(SQLite; median of {args.repeat}; target < {TARGET_MS:.0f} ms)")
    with tempfile.TemporaryDirectory(prefix="calkeeper-console-bench-") as folder:
        site, settings, secret, seeding = build(Path(folder), named=args.named, holders=args.holders)
        print(f"  bulk insert: {seeding:.1f} s")
        results: dict[str, dict[str, Any]] = {}
        try:
            with TestClient(create_app(settings, site=site), headers={"Accept": "text/html"}) as client:
                client.cookies.set(SESSION_COOKIE, secret)
                for name, path in pages(args.named, args.holders).items():
                    result = measure(client, path, args.repeat)
                    results[name] = result
                    verdict = "ok" if result["median_ms"] < TARGET_MS else "OVER TARGET"
                    print(f"  {name:<42} median {result['median_ms']:7.1f} ms  p90 {result['p90_ms']:7.1f} ms  "
                          f"{result['bytes'] / 1024:6.0f} KiB  {verdict}")
        finally:
            site.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    over = [name for name, r in results.items() if r["median_ms"] >= TARGET_MS]
    print("  every page under the target" if not over else f"  over the target: {', '.join(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
