"""The HTTP benchmark behind ``make bench``: the access gate over loopback beside a bare FastAPI endpoint.

    .venv/bin/python -m bench.http_bench [--seconds 8] [--connections 32] [--no-postgres] [--json PATH]

wrk (Debian's) drives each server on 127.0.0.1 with the same connections, threads and duration:

- baseline: a bare FastAPI app with one ``POST`` JSON endpoint that parses the same body and answers a
  small JSON object, served by uvicorn exactly as ``calkeeper serve`` serves calkeeper;
- repeat opens: ``POST /api/v1/access`` by 200 users who already hold a Named CAL (the decision
  cache answers; last used is written once a minute). Target: >= 0.75x the baseline's requests per
  second, p99 under 15 ms at 32 connections;
- first-time dynamic assignments: every request a new user, dynamic Named CAL assignment on and a
  license with a million Named CALs (a claim each). Target: >= 0.25x the baseline, p99 under 50 ms,
  no answer over 1 s (wrk's slowest); on PostgreSQL, 2 worker processes >= 1.6x one.

Each with 1 and 2 worker processes, on SQLite and on PostgreSQL (a throwaway database on
CALKEEPER_BENCH_PG / CALKEEPER_TEST_PG, dropped afterwards).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import httpx
import sqlalchemy as sa

import calkeeper
from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.bootstrap import bootstrap
from calkeeper.core.serials import control_number
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER, DEMO_SERIAL, set_up_demo
from calkeeper.settings import Settings
from calkeeper.site import LocalSite

PG = os.environ.get("CALKEEPER_BENCH_PG") or os.environ.get(
    "CALKEEPER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
HOLDERS = 200

BARE_APP = '''
from fastapi import FastAPI
from pydantic import BaseModel

class Body(BaseModel):
    user: str | None = None
    document: str
    machine: str | None = None
    client: str = "ajax"

def create():
    app = FastAPI()

    @app.post("/bare")
    async def bare(body: Body) -> dict:
        return {"granted": True, "cal_type": "named", "session_id": "N-0", "user": body.user,
                "document": body.document, "reason": "bare endpoint", "code": None, "dynamic": False}

    return app
'''

REPEAT_LUA = r'''
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"user": "BENCH\\\\holder%%d", "document": "SalesFlash.qvw", "machine": "PC-%%d"}',
                             n %% %(holders)d, n %% 50)
  return wrk.format("POST", "%(path)s", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %(token)s"}, body)
end
'''

FIRST_LUA = r'''
local counter = 0
setup = function(thread)
  counter = counter + 1
  thread:set("prefix", "%(run)s" .. counter)
end
local n = 0
request = function()
  n = n + 1
  local body = string.format('{"user": "NEW\\\\u%%s_%%d", "document": "SalesFlash.qvw", "machine": "PC-1"}', prefix, n)
  return wrk.format("POST", "/api/v1/access", {["Content-Type"] = "application/json",
                    ["Authorization"] = "Bearer %(token)s"}, body)
end
'''


@dataclass
class Figure:
    database: str
    workers: int
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: str
    baseline_rps: float | None = None
    max_ms: float = float("nan")

    @property
    def ratio(self) -> float | None:
        return self.rps / self.baseline_rps if self.baseline_rps else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], health: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server at {url} exited with {process.returncode}")
        try:
            if httpx.get(url + health, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not start in {timeout} s")


@contextmanager
def serve(args: list[str], env: dict[str, str], url: str, health: str = "/healthz") -> Iterator[None]:
    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        wait_ready(url, process, health)
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wrk(url: str, script: str, *, seconds: int, connections: int) -> tuple[float, float, float, float, str]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", handle.name, url],
                         capture_output=True, text=True, check=True).stdout
    os.unlink(handle.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def milliseconds(match: re.Match[str] | None) -> float:
        if not match:
            return float("nan")
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    def percentile(label: str) -> float:
        return milliseconds(re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)", out))

    slowest = milliseconds(re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)", out))

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = int(errors.group(1)) if errors else 0
    # wrk gives up on an answer after 2 s and counts a timeout: a request still queued, not a failure
    waited = int(socket_errors.group(4)) if socket_errors else 0
    if socket_errors:
        failed += sum(int(g) for g in socket_errors.groups()[:3])
    return rps, percentile("50"), percentile("99"), slowest, f"{failed} / {waited}"


def prepare_site(data_dir: Path, database_url: str | None) -> str:
    """A demo site with a million Named CALs, HOLDERS users holding one, and an admin token."""
    settings = Settings(data_dir=data_dir, database_url=database_url)
    set_up_demo(settings)
    site = LocalSite(bootstrap(settings))
    key = load_signing_key(settings.authority_keys_dir)
    lef = sign_lef(make_lef(serial=DEMO_SERIAL, owner=DEMO_OWNER, organization=DEMO_ORGANIZATION, named=1_000_000,
                            document=20, session=0, usage=0, maintenance_until=date(2027, 12, 31)), key)
    site.apply_license(serial=DEMO_SERIAL, control=control_number(DEMO_SERIAL), owner=DEMO_OWNER,
                       organization=DEMO_ORGANIZATION, lef=lef)
    site.update_cal_settings(allow_dynamic_assignment=True)
    site.assign_named_cals([f"BENCH\\holder{n}" for n in range(HOLDERS)])
    _, token = site.create_token(name="bench", role="gate")
    site.close()
    return token


@contextmanager
def database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
        return
    name = f"calkeeper_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(PG).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def run(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    work = Path(tempfile.mkdtemp(prefix="calkeeper-http-bench-"))
    bare_module = work / "bare_app.py"
    bare_module.write_text(BARE_APP)
    baselines: dict[int, Figure] = {}
    python = sys.executable
    for workers in (1, 2):
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = {**os.environ, "PYTHONPATH": str(work)}
        with serve([python, "-m", "uvicorn", "bare_app:create", "--factory", "--port", str(port), "--workers",
                    str(workers), "--log-level", "warning", "--no-access-log"], env, url, health="/docs"):
            script = REPEAT_LUA % {"holders": HOLDERS, "path": "/bare", "token": "x"}
            wrk(url, script, seconds=2, connections=args.connections)
            rps, p50, p99, slowest, errors = wrk(url, script, seconds=args.seconds, connections=args.connections)
            baselines[workers] = Figure("-", workers, "bare FastAPI endpoint", rps, p50, p99, errors, max_ms=slowest)
            figures.append(baselines[workers])
            print(f"  bare endpoint, {workers} worker(s): {rps:,.0f} req/s, p99 {p99:.1f} ms", flush=True)
    kinds = ["sqlite"] + ([] if args.no_postgres else ["postgres"])
    for kind in kinds:
        for workers in (1, 2):
            with database(kind) as database_url:
                data_dir = work / f"{kind}-{workers}"
                token = prepare_site(data_dir, database_url)
                port = free_port()
                url = f"http://127.0.0.1:{port}"
                env = {k: v for k, v in os.environ.items() if not k.startswith("CALKEEPER_")}
                env["CALKEEPER_DATA_DIR"] = str(data_dir)
                if database_url:
                    env["CALKEEPER_DATABASE_URL"] = database_url
                with serve([python, "-m", "calkeeper.cli", "serve", "--port", str(port), "--workers",
                            str(workers)], env, url):
                    script = REPEAT_LUA % {"holders": HOLDERS, "path": "/api/v1/access", "token": token}
                    wrk(url, script, seconds=2, connections=args.connections)  # warm every worker's cache
                    rps, p50, p99, slowest, errors = wrk(url, script, seconds=args.seconds,
                                                         connections=args.connections)
                    figures.append(Figure(kind, workers, "repeat opens", rps, p50, p99, errors,
                                          baselines[workers].rps, slowest))
                    print(f"  {kind}, {workers} worker(s), repeat opens: {rps:,.0f} req/s, p99 {p99:.1f} ms",
                          flush=True)
                    script = FIRST_LUA % {"run": uuid.uuid4().hex[:6], "token": token}
                    rps, p50, p99, slowest, errors = wrk(url, script, seconds=args.seconds,
                                                         connections=args.connections)
                    figures.append(Figure(kind, workers, "first-time assignments", rps, p50, p99, errors,
                                          baselines[workers].rps, slowest))
                    print(f"  {kind}, {workers} worker(s), first-time: {rps:,.0f} req/s, p99 {p99:.1f} ms",
                          flush=True)
    shutil.rmtree(work, ignore_errors=True)
    return figures


REPEAT_TARGET = (0.75, 15.0)  # x the bare endpoint, p99 ms
FIRST_TARGET = (0.25, 50.0, 1000.0)  # x the bare endpoint, p99 ms, slowest ms
SCALE_TARGET = 1.6  # first-time opens on PostgreSQL, 2 worker processes against one


def target_of(f: Figure) -> str:
    """The issue's target for a figure, and whether this run met it."""
    ratio = f.ratio or 0
    if f.scenario == "repeat opens":
        met = ratio >= REPEAT_TARGET[0] and f.p99_ms < REPEAT_TARGET[1]
        return f"{'met' if met else 'missed'} (>={REPEAT_TARGET[0]}x, p99<{REPEAT_TARGET[1]:g} ms)"
    if f.scenario == "first-time assignments":
        met = ratio >= FIRST_TARGET[0] and f.p99_ms < FIRST_TARGET[1] and f.max_ms < FIRST_TARGET[2]
        return f"{'met' if met else 'missed'} (>={FIRST_TARGET[0]}x, p99<{FIRST_TARGET[1]:g} ms, none >1 s)"
    return ""


def scaling(figures: list[Figure]) -> list[str]:
    """First-time opens with 2 worker processes against 1, per database, with the PostgreSQL target."""
    lines = []
    for kind in ("sqlite", "postgres"):
        by_workers = {f.workers: f.rps for f in figures
                      if f.database == kind and f.scenario == "first-time assignments"}
        if 1 in by_workers and 2 in by_workers and by_workers[1]:
            ratio = by_workers[2] / by_workers[1]
            target = (f"target >= {SCALE_TARGET}x: {'met' if ratio >= SCALE_TARGET else 'missed'}"
                      if kind == "postgres" else "(one writer at a time: no target)")
            lines.append(f"{kind}: first-time opens, 2 processes {by_workers[2]:,.0f}/s against 1 process "
                         f"{by_workers[1]:,.0f}/s = {ratio:.2f}x {target}")
    return lines


def report(figures: list[Figure], connections: int) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"HTTP on loopback, wrk -t2 -c{connections} (calkeeper {calkeeper.__version__})",
                  title_justify="left")
    for column in ("database", "workers", "scenario", "req/s", "p50 ms", "p99 ms", "slowest ms", "failed / over 2 s",
                   "vs bare", "target"):
        table.add_column(column)
    for f in figures:
        table.add_row(f.database, str(f.workers), f.scenario, f"{f.rps:,.0f}", f"{f.p50_ms:.2f}", f"{f.p99_ms:.2f}",
                      f"{f.max_ms:,.0f}", f.errors, f"{f.ratio:.2f}x" if f.ratio else "", target_of(f))
    console = Console(width=170)
    console.print(table)
    for line in scaling(figures):
        console.print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk (make bench does it)")
    print("HTTP benchmark (each figure beside a bare FastAPI endpoint served the same way):", flush=True)
    figures = run(args)
    report(figures, args.connections)
    if args.json:
        args.json.write_text(json.dumps([asdict(f) | {"ratio": f.ratio} for f in figures], indent=2))


if __name__ == "__main__":
    main()
