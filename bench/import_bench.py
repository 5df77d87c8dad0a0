"""How long an app server waits for ``import calkeeper.client``, beside ``import httpx`` under it.

    .venv/bin/python -m bench.import_bench [--runs 15]

Each figure is the median wall-clock time of that many new interpreters running ``python -c STATEMENT``
(``-X importtime`` is left out: it slows imports down). Target: ``import calkeeper.client`` within
150 ms, and close to httpx as the client loads it (without httpx's own command-line tool).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

STATEMENTS = {
    "python -c pass": "pass",
    "import httpx": "import httpx",
    # as calkeeper.client loads it (calkeeper.client.lean_httpx): without click, rich and pygments
    "import httpx, without its CLI": "import sys; sys.modules['httpx._main'] = None; import httpx",
    "import calkeeper.client": "import calkeeper.client",
}
TARGET_MS = 150.0
HEAVY = ("sqlalchemy", "alembic", "argon2", "fastapi", "starlette", "typer", "click", "rich", "pygments", "pydantic",
         "jinja2")


def median_ms(statement: str, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", statement], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def loaded(statement: str) -> set[str]:
    """The top-level packages loaded by a statement."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return set(json.loads(done.stdout))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="interpreters started per statement (default 15)")
    args = parser.parse_args(argv)
    for statement in STATEMENTS.values():  # write the bytecode caches first: every run then starts alike
        subprocess.run([sys.executable, "-c", statement], check=True)
    figures = {label: median_ms(statement, args.runs) for label, statement in STATEMENTS.items()}
    print(f"Import time, median of {args.runs} new interpreters")
    for label, ms in figures.items():
        print(f"  {label:<30} {ms:7.1f} ms")
    client, httpx = figures["import calkeeper.client"], figures["import httpx, without its CLI"]
    verdict = "within" if client <= TARGET_MS else "OVER"
    print(f"  calkeeper.client beyond its httpx: {client - httpx:+.1f} ms; {verdict} the {TARGET_MS:.0f} ms target")
    heavy = sorted(set(HEAVY) & loaded("import calkeeper.client"))
    print(f"  of {', '.join(HEAVY)}, it loads: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
