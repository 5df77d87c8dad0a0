"""The engine benchmark behind ``make bench``: calkeeper's figures beside the raw database's, in one run.

    .venv/bin/python -m bench.engine_bench [--quick] [--json PATH] [--no-postgres] [--profile]

On SQLite, then on PostgreSQL (skipped, with a line saying why, when the server cannot be reached):

1. Repeat opens by users who already hold a Named CAL, or a Document CAL, through ``Site.open_document``,
   one thread, the decision cache holding every holder: decisions per second of CPU time (one core's rate,
   however busy the machine is; the elapsed-time rate is in the notes). Baseline: the driver's own rate
   (sqlite3 / psycopg, no SQLAlchemy) for the equivalent key lookup, ``SELECT id, last_used FROM named_cals
   WHERE identity_kind = ? AND identity_key = ? AND removed_at IS NULL``, over the same users (SQLite per
   CPU second too; PostgreSQL in elapsed time, as it waits on the server). Target: >= 50,000/s.
   Beside it, for information: the first open of a holder in a process (a cache miss, decided in a write
   transaction) and the first open of a holder in a new minute (it writes last_used).
2. First-time dynamic Named CAL assignments (distinct new users opening a document), once into an empty
   pool and once with 100,000 CALs already assigned: assignments per second. Baseline: single-row
   committed transactions (one INSERT + COMMIT; SQLite in WAL with synchronous=FULL, PostgreSQL with
   psycopg in autocommit), run in rounds interleaved with calkeeper's so both see the same disk and load.
   Target: >= 0.5x the baseline.
3. ``Site.list_named_cals(after=..., limit=100)`` over 100,000 assigned Named CALs, on pages spread
   evenly over the whole list: ms a page (median, p99, max). Baseline: the page's SELECT run straight
   through the driver. Target: < 50 ms a page.
4. Resident memory (RSS) of a fresh process whose decision cache holds every holder, after serving repeat
   opens for all of them, beside a fresh interpreter that only imports calkeeper. Reported, no target.
5. First-time claims of each kind (dynamic Named, dynamic Document, Session, Usage; ``bench.claim_kinds``),
   in process, one thread: claims per second into an empty pool, beside the raw one-row commit rate
   measured in rounds interleaved with them (target: >= 0.5x), and the same with 100,000 CALs of the kind
   already held (``--quick``: 10,000), beside the empty figure (target: no more than 10% below it).

Setup is bulk SQL (100,000 Named CAL holders and 10,000 Document CAL holders). The clock's wall time is
pinned at the start of the run, its monotonic time is real (so the cache re-checks the generation every
0.5 s as in production): no minute boundary falls inside a measurement. Figures 1 and 4 run in a fresh
child process (``--worker``). There, first opens go through the API for a few seconds (that is the cache
miss figure); the cache entries of the remaining holders are then made from one SELECT, exactly as those
first opens would make them (entries already made by the API are checked against it), since 100,000 first
opens at a few hundred a second would not fit the run's five minutes.

The PostgreSQL server is ``CALKEEPER_BENCH_PG`` or ``CALKEEPER_TEST_PG`` (default
postgresql+psycopg://postgres@127.0.0.1:5432/test); the benchmark makes a throwaway database there and
drops it afterwards. SQLite files go to a temporary folder (``--workdir`` to keep them).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import calkeeper
from bench.claim_kinds import claim_figures, postgres_databases, sqlite_databases
from bench.engine_fixtures import (
    DOCUMENT,
    FULL,
    MACHINE,
    PG_ADMIN_URL,
    QUICK,
    BenchClock,
    CommitBaseline,
    Sizes,
    ThrowawayPostgres,
    apply_license,
    bare_rss,
    doc_holder,
    holder,
    make_root,
    postgres_reachable,
    rate,
    raw_lookup,
    raw_page,
    rss,
)
from bench.engine_report import figures, print_report
from calkeeper.authority.signing import create_key
from calkeeper.core.cals import CalType, Grant
from calkeeper.core.documents import document_key
from calkeeper.core.identities import machine_key, user_key
from calkeeper.store import counters
from calkeeper.store.schema import Document, DocumentCal, NamedCal, User
from calkeeper.usecases.admin import writing_pending
from calkeeper.usecases.decision_cache import HeldCal

ROOT = Path(__file__).resolve().parent.parent




def measure_assignments(
    site: calkeeper.LocalSite, baseline: CommitBaseline, users: list[str], *, round_size: int, budget_s: float | None
) -> dict[str, Any]:
    """First-time dynamic assignments, in rounds each preceded by as many baseline commits."""
    api_n = base_n = 0
    api_t = base_t = api_cpu = 0.0
    for start in range(0, len(users), round_size):
        batch = users[start:start + round_size]
        t0 = time.perf_counter()
        baseline.run(len(batch))
        base_t += time.perf_counter() - t0
        base_n += len(batch)
        t0, c0 = time.perf_counter(), time.thread_time()
        decisions = [site.open_document(user, DOCUMENT, machine=MACHINE) for user in batch]
        api_t += time.perf_counter() - t0
        api_cpu += time.thread_time() - c0
        api_n += len(batch)
        for d in decisions:
            if not (isinstance(d, Grant) and d.cal_type is CalType.NAMED and d.dynamic):
                raise RuntimeError(f"expected a dynamic Named CAL grant, got {d!r}")
        if budget_s is not None and api_t >= budget_s:
            break
    api, base = api_n / api_t, base_n / base_t
    return {"value": api, "baseline": base, "ratio": api / base, "count": api_n, "seconds": api_t,
            "cpu_ms_each": api_cpu / api_n * 1000, "wall_ms_each": api_t / api_n * 1000, "baseline_count": base_n}


def bulk_insert(site: calkeeper.LocalSite, sizes: Sizes, now: datetime) -> float:
    """Named CALs for ``holders`` users and Document CALs of DOCUMENT for ``doc_holders`` more, by bulk SQL."""
    minute = now.replace(second=0, microsecond=0)  # last_used is current: the first open writes nothing
    start = time.perf_counter()
    with site.app.engine.begin() as conn:
        doc_id = conn.execute(sa.select(Document.id).where(Document.path_key == document_key(DOCUMENT))).scalar_one()
        for first in range(0, sizes.holders, 10_000):
            names = [holder(i) for i in range(first, min(first + 10_000, sizes.holders))]
            conn.execute(sa.insert(User),
                         [{"key": user_key(n), "name": n, "first_seen": now} for n in names])
            conn.execute(sa.insert(NamedCal), [
                {"identity_kind": "user", "identity_key": user_key(n), "identity_name": n, "source": "manual",
                 "assigned_at": now, "last_used": minute} for n in names])
        names = [doc_holder(i) for i in range(sizes.doc_holders)]
        conn.execute(sa.insert(User), [{"key": user_key(n), "name": n, "first_seen": now} for n in names])
        conn.execute(sa.insert(DocumentCal), [
            {"document_id": doc_id, "user_key": user_key(n), "user_name": n, "source": "manual",
             "assigned_at": now, "last_used": minute} for n in names])
        counters.recount(conn)  # the rows went in around the server: count them as it does
    return time.perf_counter() - start


def measure_listing(site: calkeeper.LocalSite, kind: str, url: str, now: datetime, pages: int) -> dict[str, Any]:
    """list_named_cals on pages spread evenly over the whole list, and the same SELECT through the driver."""
    with site.app.engine.connect() as conn:
        keys = list(conn.execute(sa.select(NamedCal.identity_key).order_by(NamedCal.identity_key)).scalars())
    page_count = math.ceil(len(keys) / 100)
    sample = sorted({round(i * (page_count - 1) / max(1, pages - 1)) for i in range(pages)})
    afters = [keys[p * 100 - 1] if p else "" for p in sample]
    query, close = raw_page(kind, url, now)
    site.list_named_cals(limit=100)  # warm the statement caches
    query("")
    times, cpu, raw_times = [], [], []
    total = None
    for page_no, after in zip(sample, afters, strict=True):  # each page through calkeeper, then the driver
        t0, c0 = time.perf_counter(), time.thread_time()
        page = site.list_named_cals(after=after, limit=100)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        expected = keys[page_no * 100:page_no * 100 + 100]
        if [user_key(item.user) for item in page.items] != expected:
            raise RuntimeError(f"page {page_no} is not the expected rows")
        total = page.total
        t0 = time.perf_counter()
        rows = query(after)
        raw_times.append((time.perf_counter() - t0) * 1000)
        if [r[2] for r in rows[:100]] != expected:
            raise RuntimeError(f"the driver's page {page_no} is not the expected rows")
    close()

    def p99(values: list[float]) -> float:
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]

    return {"median_ms": statistics.median(times), "p99_ms": p99(times), "max_ms": max(times),
            "cpu_median_ms": statistics.median(cpu), "raw_median_ms": statistics.median(raw_times),
            "raw_p99_ms": p99(raw_times), "raw_max_ms": max(raw_times),
            "pages": len(times), "rows": len(keys), "total_reported": total}


# -- the child process: repeat opens and memory --------------------------------------------------


def fill_cache(site: calkeeper.LocalSite) -> int:
    """Put every active Named and Document CAL in the decision cache as its first open would; return how many.

    Entries already there (made by opens through the API) must match the rows, which checks the fill. Rows
    are streamed, so that the fill leaves no big result behind in the memory figure.
    """
    state = site.app.cache.state
    assert state is not None
    added = 0

    def put(entries: dict[Any, HeldCal], key: tuple[Any, Any], cal_id: int, last_used: datetime | None) -> None:
        nonlocal added
        held = entries.get(key)
        if held is None:
            entries[key] = HeldCal(cal_id, last_used, machine_key(MACHINE))
            added += 1
        elif held.cal_id != cal_id or held.last_used != last_used:
            raise RuntimeError(f"the cache's entry for {key} is {held}, the row says {cal_id}, {last_used}")

    with site.app.engine.connect() as plain:
        conn = plain.execution_options(yield_per=2000)  # a server-side cursor where there is one
        named = sa.select(NamedCal.identity_kind, NamedCal.identity_key, NamedCal.id, NamedCal.last_used)
        for kind, key, cal_id, last_used in conn.execute(named.where(NamedCal.removed_at.is_(None))):
            put(state.named, (kind, key), cal_id, last_used)
        document = sa.select(DocumentCal.user_key, DocumentCal.document_id, DocumentCal.id, DocumentCal.last_used)
        for user_key, document_id, cal_id, last_used in conn.execute(
                document.where(DocumentCal.removed_at.is_(None))):
            put(state.document_cals, (user_key, document_id), cal_id, last_used)
    return added


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    rss_start = rss()
    kind, url, sizes = spec["kind"], spec["url"], Sizes(**spec["sizes"])
    clock = BenchClock(datetime.fromisoformat(spec["pinned"]))
    site = calkeeper.open_site(url, clock=clock, root_folder=Path(spec["root"]))
    named = [holder(i) for i in range(sizes.holders)]
    docs = [doc_holder(i) for i in range(sizes.doc_holders)]
    open_ = site.open_document
    site.cal_overview()
    rss_open = rss()
    out: dict[str, Any] = {"rss_start": rss_start, "rss_site_open": rss_open}

    # First open of each holder in this process: a cache miss, decided in a write transaction. Done
    # through the API for cold_budget_s (that is the figure); the rest of the holders are put in the cache
    # from one SELECT, as the HeldCal entries those first opens would have made (checked on the sample).
    for label, users, cal_type in (("named", named, CalType.NAMED), ("document", docs, CalType.DOCUMENT)):
        done, t0 = 0, time.perf_counter()
        while done < len(users) and (done < 100 or time.perf_counter() - t0 < sizes.cold_budget_s / 2):
            for u in users[done:done + 100]:
                d = open_(u, DOCUMENT, machine=MACHINE)
                if not (isinstance(d, Grant) and d.cal_type is cal_type and not d.dynamic):
                    raise RuntimeError(f"{u} was not granted the {label} CAL it holds: {d!r}")
            done = min(len(users), done + 100)
        out[f"cold_{label}"] = done / (time.perf_counter() - t0)
        out[f"cold_{label}_count"] = done
    out["cache_filled_by_sql"] = fill_cache(site)
    state = site.app.cache.state
    assert state is not None
    out["cached_entries"] = len(state.named) + len(state.document_cals)
    if out["cached_entries"] < len(named) + len(docs):  # the holders, and the users assigned dynamically before
        raise RuntimeError(f"the cache holds {out['cached_entries']} entries, fewer than {len(named) + len(docs)}")

    # repeat opens: the decision cache serves them, and (as in a server) the sessions they start are
    # written by the upkeep in batches; here once the rates are measured, before the memory figure
    site.app.last_used.deferred = True
    out["repeat_named"] = asdict(rate(lambda u: open_(u, DOCUMENT, machine=MACHINE), named, sizes.open_seconds))
    out["repeat_document"] = asdict(rate(lambda u: open_(u, DOCUMENT, machine=MACHINE), docs, sizes.open_seconds))
    for users, cal_type in ((named[::997], CalType.NAMED), (docs[::97], CalType.DOCUMENT)):
        for u in users:
            d = open_(u, DOCUMENT, machine=MACHINE)
            if not (isinstance(d, Grant) and d.cal_type is cal_type):
                raise RuntimeError(f"a repeat open of {u} was not served by its CAL: {d!r}")
    with writing_pending(site.app.uow, site.app.last_used):
        pass
    out["rss_after"] = rss()

    # the driver's key lookup over the same users
    lookup, close = raw_lookup(kind, url)
    for u in named[:1000]:
        lookup(user_key(u))
    keys = [user_key(u) for u in named]
    out["raw_select"] = asdict(rate(lookup, keys, sizes.open_seconds))
    close()

    if spec.get("profile"):
        import cProfile
        import io
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for u in named:
            open_(u, DOCUMENT, machine=MACHINE)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(18)
        out["profile"] = text.getvalue()

    # the minute moves on: each holder's first open in it writes last_used once
    clock.advance(timedelta(minutes=1))
    done, t0 = 0, time.perf_counter()
    while done < sizes.rollover and (done < 50 or time.perf_counter() - t0 < sizes.cold_budget_s / 2):
        for u in named[done:done + 50]:
            open_(u, DOCUMENT, machine=MACHINE)
        done += 50
    out["rollover"] = done / (time.perf_counter() - t0)
    out["rollover_count"] = done

    site.close()
    return out


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "bench.engine_bench", "--worker", json.dumps(spec)],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"the benchmark's child process failed:\n{proc.stderr[-4000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


# -- one backend ---------------------------------------------------------------------------------


def run_backend(kind: str, url: str, workdir: Path, sizes: Sizes, *, profile: bool, say: Callable[[str], None]
                ) -> dict[str, Any]:
    pinned = datetime.now(UTC)
    clock = BenchClock(pinned)
    key = create_key(workdir / "authority-keys")
    root = make_root(workdir / "documents")
    site = calkeeper.open_site(url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="bench")
    named_in_license = sizes.holders + sizes.fresh_assignments + sizes.held_assignments + 1_000
    apply_license(site, key, named=named_in_license, document=sizes.doc_holders + 100)
    site.scan_documents()
    site.update_cal_settings(allow_dynamic_assignment=True)
    site.set_document_allocation(DOCUMENT, sizes.doc_holders)
    baseline = CommitBaseline(kind, url, workdir)
    result: dict[str, Any] = {"named_in_license": named_in_license}
    try:
        say(f"  first-time assignments into an empty pool (up to {sizes.fresh_assignments:,} or "
            f"{sizes.assign_budget_s:.0f} s)")
        fresh = [f"BENCH\\n{i:06d}" for i in range(sizes.fresh_assignments)]
        result["assign_empty"] = measure_assignments(site, baseline, fresh, round_size=sizes.round_size,
                                                     budget_s=sizes.assign_budget_s)
        say(f"  bulk insert of {sizes.holders:,} Named and {sizes.doc_holders:,} Document CAL holders")
        result["bulk_insert_s"] = bulk_insert(site, sizes, pinned)
        say(f"  listing, {sizes.pages} pages spread over the list")
        result["listing"] = measure_listing(site, kind, url, pinned, sizes.pages)
        say(f"  first-time assignments with {sizes.holders:,} held (up to {sizes.held_assignments:,} "
            f"or {sizes.assign_budget_s:.0f} s)")
        later = [f"BENCH\\m{i:06d}" for i in range(sizes.held_assignments)]
        result["assign_held"] = measure_assignments(site, baseline, later, round_size=sizes.round_size,
                                                    budget_s=sizes.assign_budget_s)
    finally:
        baseline.close()
        site.close()
    say("  repeat opens and memory, in a fresh process")
    result["worker"] = run_worker({"kind": kind, "url": url, "sizes": asdict(sizes), "pinned": pinned.isoformat(),
                                   "root": str(root), "profile": profile})
    return result


# -- report --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine_bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (10k holders), about a minute")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON to PATH")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the repeat-open path")
    parser.add_argument("--workdir", metavar="DIR", help="where the SQLite files go (default: a temporary folder)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    from rich.console import Console
    from rich.markup import escape

    console = Console()
    if not console.is_terminal:
        console = Console(width=170)
    sizes = QUICK if args.quick else FULL
    kind_claims = 300 if args.quick else 1_500  # first-time claims of each kind, per figure
    started = time.perf_counter()
    meta: dict[str, Any] = {
        "quick": args.quick, "sizes": asdict(sizes), "python": f"Python {platform.python_version()}",
        "sqlite": sqlite3.sqlite_version, "cpus": os.cpu_count(), "calkeeper": calkeeper.__version__,
        "load_start": " ".join(f"{x:.1f}" for x in os.getloadavg()), "started_at": datetime.now(UTC).isoformat(),
    }
    bare = bare_rss()
    report: dict[str, Any] = {"meta": meta, "bare_rss": bare, "backends": {}}
    base_dir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="calkeeper-bench-"))
    profiles = {}

    def say(text: str) -> None:
        console.print(f"[dim]{escape(text)}[/]", highlight=False)

    try:
        workdir = base_dir / "sqlite"
        workdir.mkdir(parents=True, exist_ok=False)
        say("SQLite")
        result = run_backend("sqlite", f"sqlite:///{workdir / 'calkeeper.db'}", workdir, sizes,
                             profile=args.profile, say=say)
        say("SQLite: first-time claims of each kind")
        claims = claim_figures("sqlite", sqlite_databases(workdir), workdir, claims=kind_claims,
                               held=sizes.holders, say=say)
        report["backends"]["SQLite"] = {"figures": figures(result, "sqlite", sizes, bare) + claims, "raw": result}
        profiles["SQLite"] = result["worker"].pop("profile", None)

        reason = "--no-postgres" if args.no_postgres else postgres_reachable()
        if reason is not None:
            say(f"PostgreSQL skipped: {reason}")
            where = sa.engine.make_url(PG_ADMIN_URL).render_as_string()
            report["backends"]["PostgreSQL"] = (
                {"skipped": "--no-postgres"} if args.no_postgres
                else {"skipped": f"not reachable at {where}", "error": reason})
        else:
            say("PostgreSQL")
            pg = ThrowawayPostgres()
            try:
                workdir = base_dir / "postgres"
                workdir.mkdir(parents=True, exist_ok=False)
                result = run_backend("postgres", pg.url, workdir, sizes, profile=args.profile, say=say)
                engine = sa.create_engine(pg.url)
                with engine.connect() as conn:
                    meta["postgres"] = conn.exec_driver_sql("SHOW server_version").scalar()
                engine.dispose()
            finally:
                pg.close()
            say("PostgreSQL: first-time claims of each kind")
            claims = claim_figures("postgres", postgres_databases, workdir, claims=kind_claims, held=sizes.holders,
                                   say=say)
            report["backends"]["PostgreSQL"] = {"figures": figures(result, "postgres", sizes, bare) + claims,
                                                "raw": result}
            profiles["PostgreSQL"] = result["worker"].pop("profile", None)
    finally:
        if not args.workdir:
            shutil.rmtree(base_dir, ignore_errors=True)
    meta["load_end"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    meta["seconds"] = time.perf_counter() - started
    print_report(console, report)
    for backend, text in profiles.items():
        if text:
            console.print(f"[bold]repeat-open profile, {backend}[/] (one open per holder, by own time)")
            console.print(text, markup=False, highlight=False)
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        console.print(f"[dim]figures written to {path}[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
