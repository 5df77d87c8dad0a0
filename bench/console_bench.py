"""The console benchmark behind ``make bench``: server time of the pages an admin opens most, at 100,000 CALs.

    .venv/bin/python -m bench.console_bench [--named 100000] [--holders 100000] [--repeat 15] [--loads 5]
                                            [--json PATH]

The demo site (SQLite) grown by bulk SQL (``bench.console_seed``) to ``--named`` Named CALs and a document
with ``--holders`` holders; a signed-in admin asks each page ``--repeat`` times through the app in this
process (no network, so the time is the server's: routing, the session check, the queries and the template).
Pages: the Dashboard; Assigned CALs (first page, a page deep in the list, sorted by last used, a search, the
quarantined filter); Document CALs of the big document (first page, a deep page, a search). Target: the
median of each under 200 ms.

Then the same pages load ``--loads`` times in Debian's Chromium (``/usr/bin/chromium``, driven by Playwright)
from the app served by uvicorn on a loopback port: the browser's own navigation timing gives the time to the
first byte, to the page ready for input (DOMContentLoaded) and to the load event (styles, script and favicon
fetched, the page laid out). Printed beside the server time; the target is on the server time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
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


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
NAVIGATION = """() => { const n = performance.getEntriesByType('navigation')[0];
  return [n.responseStart, n.domContentLoadedEventEnd, n.loadEventEnd, n.transferSize]; }"""


def serve(app: FastAPI) -> tuple[uvicorn.Server, threading.Thread, int]:
    """The app under uvicorn on a free loopback port, in a thread, as ``calkeeper serve`` runs it."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not (server.started and server.servers):
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console did not start for the browser half of the benchmark")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, port


def browser_loads(port: int, secret: str, paths: dict[str, str], loads: int) -> dict[str, dict[str, float]]:
    """Each page loaded ``loads`` times in Chromium after one warm-up load; medians of the navigation timing."""
    from playwright.sync_api import sync_playwright

    results: dict[str, dict[str, float]] = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 720})
            context.add_cookies([{"name": SESSION_COOKIE, "value": secret, "domain": "127.0.0.1", "path": "/"}])
            page = context.new_page()
            for name, path in paths.items():
                url = f"http://127.0.0.1:{port}{path}"
                page.goto(url, wait_until="load")
                timings = []
                for _ in range(loads):
                    answer = page.goto(url, wait_until="load")
                    if answer is None or answer.status != 200:
                        raise RuntimeError(f"{path} answered {answer.status if answer else 'nothing'} in the browser")
                    timings.append(page.evaluate(NAVIGATION))
                results[name] = {key: statistics.median(t[i] for t in timings)
                                 for i, key in enumerate(("first_byte_ms", "ready_ms", "load_ms"))}
        finally:
            browser.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--named", type=int, default=100_000)
    parser.add_argument("--holders", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--loads", type=int, default=5, help="loads of each page in Chromium; 0 skips the browser")
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
            if args.loads > 0:
                print(f"In Chromium, served by uvicorn on loopback (median of {args.loads} loads; first byte, "
                      "ready for input, load event)")
                server, thread, port = serve(create_app(settings, site=site))
                try:
                    loads = browser_loads(port, secret, pages(args.named, args.holders), args.loads)
                finally:
                    server.should_exit = True
                    thread.join(timeout=10)
                for name, load in loads.items():
                    results[name].update(load)
                    print(f"  {name:<42} first byte {load['first_byte_ms']:6.1f} ms  ready {load['ready_ms']:6.1f} ms"
                          f"  load {load['load_ms']:6.1f} ms")
        finally:
            site.close()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    over = [name for name, r in results.items() if r["median_ms"] >= TARGET_MS]
    print("  every page under the target" if not over else f"  over the target: {', '.join(over)}")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
