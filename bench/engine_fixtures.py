"""What the engine benchmark measures on and against: holders, the pinned clock, sites and licenses, the
throwaway PostgreSQL database, and the driver-level baselines (raw commits, key lookups, pages)."""

from __future__ import annotations

import os
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil  # type: ignore[import-untyped]
import sqlalchemy as sa

import calkeeper
from calkeeper.authority.signing import SigningKey, make_lef, sign_lef
from calkeeper.core.serials import control_number, new_serial


@dataclass(frozen=True)
class Sizes:
    holders: int  # Named CAL holders put in with bulk SQL (listing, repeat opens, memory)
    doc_holders: int  # Document CAL holders of DOCUMENT (repeat opens)
    fresh_assignments: int  # first-time assignments into an empty pool (at most)
    held_assignments: int  # first-time assignments with ``holders`` already assigned (at most)
    assign_budget_s: float  # ... or each set until calkeeper has spent this long on it
    round_size: int  # assignments per round (each round: baseline burst, then calkeeper's)
    pages: int  # pages sampled from the listing
    open_seconds: float  # timed repeat opens per kind of holder
    rollover: int  # holders opened again after the minute moved on (last_used refresh), at most
    cold_budget_s: float  # first opens through the API for this long (and the rollover); the rest of the
    # cache is filled by SQL


FULL = Sizes(100_000, 10_000, 3_000, 2_000, 12.0, 100, 200, 3.0, 1_000, 8.0)
QUICK = Sizes(10_000, 1_000, 400, 300, 3.0, 50, 50, 1.0, 200, 2.0)


ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "CALKEEPER_BENCH_PG", os.environ.get("CALKEEPER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
)
DOCUMENTS = ["SalesFlash.qvw", "AR Analytix.qvw", "Contract Analytix.qvw"]
DOCUMENT = "SalesFlash.qvw"
MACHINE = "PC-17"

def holder(i: int) -> str:
    return f"BENCH\\h{i:06d}"


def doc_holder(i: int) -> str:
    return f"BENCH\\d{i:06d}"


class BenchClock:
    """Real monotonic time; wall time pinned (it still reads the real clock, so it costs what SystemClock does)."""

    def __init__(self, pinned: datetime) -> None:
        self.pinned = pinned

    def now(self) -> datetime:
        datetime.now(UTC)
        return self.pinned

    def monotonic(self) -> float:
        return time.monotonic()

    def advance(self, delta: timedelta) -> None:
        self.pinned += delta


# -- licenses and sites (the few lines of tests/kit.py the benchmark needs) --------------------------


def apply_license(site: calkeeper.LocalSite, key: SigningKey, *, named: int, document: int) -> None:
    serial = new_serial()
    lef = sign_lef(
        make_lef(serial=serial, owner="Bench Site", organization="Bench Org", named=named, document=document,
                 session=10, usage=0, maintenance_until=date(2027, 12, 31)),
        key,
    )
    site.apply_license(serial=serial, control=control_number(serial), owner="Bench Site",
                       organization="Bench Org", lef=lef)


def make_root(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in DOCUMENTS:
        (folder / name).write_bytes(b"QVW")
    return folder


def sqlite_path(url: str) -> str:
    database = sa.engine.make_url(url).database
    assert database
    return database


def psycopg_conninfo(url: str) -> str:
    return sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def postgres_reachable() -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        engine = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as error:  # any failure means: skip PostgreSQL
        return str(error).strip().splitlines()[0][:160]


class ThrowawayPostgres:
    """A fresh database on the PostgreSQL server, dropped on close."""

    def __init__(self) -> None:
        self.name = f"calkeeper_bench_{uuid.uuid4().hex[:12]}"
        self.admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
        self.url = sa.engine.make_url(PG_ADMIN_URL).set(database=self.name).render_as_string(hide_password=False)

    def close(self) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


# -- baselines -----------------------------------------------------------------------------------


class CommitBaseline:
    """Single-row committed transactions straight through the driver."""

    def __init__(self, kind: str, url: str, workdir: Path) -> None:
        self.kind = kind
        self.n = 0
        if kind == "sqlite":
            # a file of its own beside calkeeper's, with calkeeper's pragmas
            path = workdir / f"baseline-{uuid.uuid4().hex[:8]}.db"  # a file of each baseline's own
            self.conn: Any = sqlite3.connect(path, isolation_level=None)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=FULL")
            self.conn.execute("CREATE TABLE commits (id INTEGER PRIMARY KEY, k TEXT NOT NULL, at TEXT NOT NULL)")
        else:
            import psycopg

            self.conn = psycopg.connect(psycopg_conninfo(url), autocommit=True)
            self.conn.execute(
                "CREATE TABLE bench_commits (id BIGSERIAL PRIMARY KEY, k TEXT NOT NULL, at TEXT NOT NULL)")

    def run(self, count: int) -> None:
        conn, now = self.conn, datetime.now(UTC).isoformat()
        if self.kind == "sqlite":
            for _ in range(count):
                self.n += 1
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO commits (k, at) VALUES (?, ?)", (f"k{self.n}", now))
                conn.execute("COMMIT")
        else:
            for _ in range(count):
                self.n += 1
                conn.execute("INSERT INTO bench_commits (k, at) VALUES (%s, %s)", (f"k{self.n}", now))

    def close(self) -> None:
        self.conn.close()


def raw_lookup(kind: str, url: str) -> tuple[Callable[[str], Any], Callable[[], None]]:
    """The driver's key lookup of a Named CAL, and a function to close its connection."""
    if kind == "sqlite":
        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        query = ("SELECT id, last_used FROM named_cals WHERE identity_kind = ? AND identity_key = ? "
                 "AND removed_at IS NULL")
        execute = conn.execute

        def lookup(key: str) -> Any:
            return execute(query, ("user", key)).fetchone()

        return lookup, conn.close
    import psycopg

    pg = psycopg.connect(psycopg_conninfo(url), autocommit=True)
    cursor = pg.cursor()
    pg_query = ("SELECT id, last_used FROM named_cals WHERE identity_kind = %s AND identity_key = %s "
                "AND removed_at IS NULL")

    def pg_lookup(key: str) -> Any:
        return cursor.execute(pg_query, ("user", key), prepare=True).fetchone()

    return pg_lookup, pg.close


def raw_page(kind: str, url: str, now: datetime) -> tuple[Callable[[str], list[Any]], Callable[[], None]]:
    """The listing's page SELECT (occupying Named CALs after a key, in key order) straight through the driver."""
    columns = "id, identity_kind, identity_key, identity_name, source, assigned_at, last_used, removed_at, " \
              "quarantined_until"
    if kind == "sqlite":
        conn = sqlite3.connect(sqlite_path(url), isolation_level=None)
        stamp = now.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
        query = (f"SELECT {columns} FROM named_cals WHERE (quarantined_until IS NULL OR quarantined_until > ?) "
                 "AND identity_key > ? ORDER BY identity_key LIMIT 101")
        return (lambda after: conn.execute(query, (stamp, after)).fetchall()), conn.close
    import psycopg

    pg = psycopg.connect(psycopg_conninfo(url), autocommit=True)
    pg_query = (f"SELECT {columns} FROM named_cals WHERE (quarantined_until IS NULL OR quarantined_until > %s) "
                "AND identity_key > %s ORDER BY identity_key LIMIT 101")
    return (lambda after: pg.execute(pg_query, (now, after), prepare=True).fetchall()), pg.close


# -- measuring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    wall: float  # calls per second of elapsed time, over the whole run
    cpu: float  # calls per second of this thread's CPU time: the median of 10,000-call windows
    cpu_overall: float  # ... over the whole run
    count: int


def rate(call: Callable[[str], Any], items: Sequence[str], seconds: float) -> Rate:
    """Calls per second over the items, cycling, for at least ``seconds`` and one full pass.

    The CPU-time rate is what one core does whatever else the machine runs; its median over windows
    of 10,000 calls also leaves out the windows where another process shared the core's caches.
    """
    count, i, size = 0, 0, len(items)
    windows = []
    start, cpu_start = time.perf_counter(), time.thread_time()
    while True:
        window_start = time.thread_time()
        for _ in range(10_000):
            call(items[i])
            i += 1
            if i == size:
                i = 0
        count += 10_000
        windows.append(10_000 / (time.thread_time() - window_start))
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and count >= size:
            return Rate(count / elapsed, statistics.median(windows), count / (time.thread_time() - cpu_start), count)


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


def bare_rss() -> int:
    """RSS of a fresh interpreter that imports calkeeper (and psutil, to measure itself)."""
    out = subprocess.run(
        [sys.executable, "-c", "import calkeeper.site, psutil; print(psutil.Process().memory_info().rss)"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    return int(out.stdout.strip())
