"""First-time claims of each kind, in process: a site set up so that every open of a new user takes one
CAL of the kind measured (dynamic Named, dynamic Document, Session, Usage), optionally with 100,000 CALs
of that kind already held, and the tools to count statements and profile one claim.

    .venv/bin/python -m bench.claim_kinds [--no-postgres] [--claims N] [--profile]
    .venv/bin/python -m bench.claim_kinds --measure [--no-postgres] [--claims N] [--held N]

prints statements per claim for each kind and, with ``--profile``, where the CPU of a claim goes; with
``--measure``, claims per second beside the raw one-row commit rate measured in the same run, empty and
with 100,000 CALs of the kind held (``make bench`` prints the same figures, see ``bench.engine_bench``).
It imports nothing of calkeeper beyond ``open_site`` and the table models, so the same file measures
an older tree (``PYTHONPATH=<tree>/src``).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import shutil
import statistics
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import calkeeper
from bench.engine_fixtures import (
    DOCUMENT,
    MACHINE,
    BenchClock,
    CommitBaseline,
    ThrowawayPostgres,
    make_root,
    postgres_reachable,
)
from calkeeper.authority.signing import SigningKey, create_key, make_lef, sign_lef
from calkeeper.core.cals import CalType, Grant
from calkeeper.core.serials import control_number, new_serial
from calkeeper.store.schema import Document, DocumentCal, NamedCal, SessionCal, UsageCal, User

KINDS = {"named": CalType.NAMED, "document": CalType.DOCUMENT, "session": CalType.SESSION, "usage": CalType.USAGE}
HEADROOM = 200_000  # CALs in license beyond those held: a run never finds its pool full


def _license(site: calkeeper.LocalSite, key: SigningKey, kind: str, capacity: int) -> None:
    counts = {"named": 1, "document": 0, "session": 0, "usage": 0}
    counts[kind] = capacity
    serial = new_serial()
    lef = sign_lef(make_lef(serial=serial, owner="Bench Site", organization="Bench Org",
                            named=counts["named"], document=counts["document"], session=counts["session"],
                            usage=counts["usage"], maintenance_until=date(2027, 12, 31)), key)
    site.apply_license(serial=serial, control=control_number(serial), owner="Bench Site",
                       organization="Bench Org", lef=lef)


class KindSite:
    """A site on which every open of a new user is a first-time claim of one kind."""

    def __init__(self, kind: str, url: str, workdir: Path, *, held: int = 0) -> None:
        self.kind = kind
        self.pinned = datetime.now(UTC).replace(microsecond=0)
        self.clock = BenchClock(self.pinned)
        folder = workdir / f"{kind}-{held}"
        folder.mkdir(parents=True, exist_ok=True)
        key = create_key(folder / "authority-keys")
        root = make_root(folder / "documents")
        self.site = calkeeper.open_site(url, clock=self.clock, trusted_keys={key.key_id: key.private.public_key()},
                                        root_folder=root, actor="bench")
        _license(self.site, key, kind, held + HEADROOM)
        self.site.scan_documents()
        self.site.update_cal_settings(allow_dynamic_assignment=kind == "named")
        if kind == "document":
            self.site.update_document(DOCUMENT, cals_allocated=held + HEADROOM, allow_dynamic_assignment=True)
        if held:
            self._hold(held)
        self.n = 0

    def _hold(self, count: int) -> None:
        """``count`` CALs of the kind already held, put in with bulk SQL, then counted as the server counts."""
        now, minute = self.pinned, self.pinned.replace(second=0)
        with self.site.app.engine.begin() as conn:
            doc_id = conn.execute(sa.select(Document.id).where(Document.path == DOCUMENT)).scalar_one()
            for first in range(0, count, 10_000):
                names = [f"BENCH\\held{i:06d}" for i in range(first, min(first + 10_000, count))]
                if self.kind in ("named", "document"):
                    conn.execute(sa.insert(User), [{"key": n.casefold(), "name": n, "first_seen": now} for n in names])
                if self.kind == "named":
                    rows: list[dict[str, Any]] = [
                        {"identity_kind": "user", "identity_key": n.casefold(), "identity_name": n,
                         "source": "manual", "assigned_at": now, "last_used": minute} for n in names]
                    conn.execute(sa.insert(NamedCal), rows)
                elif self.kind == "document":
                    rows = [{"document_id": doc_id, "user_key": n.casefold(), "user_name": n, "source": "manual",
                             "assigned_at": now, "last_used": minute} for n in names]
                    conn.execute(sa.insert(DocumentCal), rows)
                elif self.kind == "session":
                    rows = [{"client_key": f"user:{n.casefold()}:ajax", "user_name": n, "machine": MACHINE,
                             "client": "ajax", "acquired_at": now} for n in names]
                    conn.execute(sa.insert(SessionCal), rows)
                else:
                    rows = [{"holder_key": n.casefold(), "user_name": n, "machine": MACHINE, "document_id": doc_id,
                             "consumed_at": now, "expires_at": now + timedelta(hours=1),
                             "returns_at": now + timedelta(days=28)} for n in names]
                    conn.execute(sa.insert(UsageCal), rows)
            recount = _recount()
            if recount is not None:
                recount(conn)

    def claim(self) -> Any:
        """One first-time open of a new user; raises unless it took a CAL of the kind measured."""
        self.n += 1
        decision = self.site.open_document(f"BENCH\\{self.kind}{self.n:07d}", DOCUMENT, machine=MACHINE)
        if not (isinstance(decision, Grant) and decision.cal_type is KINDS[self.kind]):
            raise RuntimeError(f"expected a {self.kind} grant, got {decision!r}")
        return decision

    def close(self) -> None:
        self.site.close()


def _recount() -> Callable[[Any], Any] | None:
    """The server's own recount of its pool counters, where the tree measured keeps counters."""
    try:
        from calkeeper.store.counters import recount  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    return recount  # type: ignore[no-any-return,unused-ignore]


@contextmanager
def counted_statements(engine: sa.Engine) -> Iterator[Counter[str]]:
    """Statements the engine runs in this thread meanwhile, by their first word (BEGIN and COMMIT included)."""
    counts: Counter[str] = Counter()
    me = threading.get_ident()

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if threading.get_ident() == me:
            counts[statement.split(None, 1)[0].upper()] += 1

    def on_commit(conn: Any) -> None:
        if threading.get_ident() == me:
            counts["COMMIT"] += 1

    sa.event.listen(engine, "before_cursor_execute", on_execute)
    sa.event.listen(engine, "commit", on_commit)
    try:
        yield counts
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_execute)
        sa.event.remove(engine, "commit", on_commit)


def measure(empty: KindSite, held: KindSite | None, baseline: CommitBaseline, *, claims: int, rounds: int
            ) -> dict[str, Any]:
    """Claims per second in rounds, each round: raw commits, claims on the empty site, claims on the held one.

    On a shared machine the disk's speed changes from second to second, so every figure is the median
    over rounds of what was measured side by side in one round: the rates, and the ratios of claims to
    the raw commits just before them and of the held site to the empty one.
    """
    size = max(1, claims // rounds)
    per_round: dict[str, list[float]] = {"base": [], "empty": [], "held": []}

    def timed(call: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        for _ in range(size):
            call()
        return size / (time.perf_counter() - t0)

    for _ in range(rounds):
        per_round["base"].append(timed(lambda: baseline.run(1)))
        per_round["empty"].append(timed(empty.claim))
        if held is not None:
            per_round["held"].append(timed(held.claim))
    base, got = per_round["base"], per_round["empty"]
    result = {"value": statistics.median(got), "baseline": statistics.median(base),
              "ratio": statistics.median(e / b for e, b in zip(got, base, strict=True)),
              "ratio_range": (min(e / b for e, b in zip(got, base, strict=True)),
                              max(e / b for e, b in zip(got, base, strict=True))),
              "count": size * rounds}
    if held is not None:
        ratios = [h / e for h, e in zip(per_round["held"], got, strict=True)]
        result.update(held=statistics.median(per_round["held"]), held_ratio=statistics.median(ratios),
                      held_range=(min(ratios), max(ratios)),
                      held_vs_base=statistics.median(h / b for h, b in zip(per_round["held"], base, strict=True)))
    return result


def profile_kind(kind: str, url: str, workdir: Path, *, claims: int, profile: bool) -> dict[str, Any]:
    ks = KindSite(kind, url, workdir)
    try:
        for _ in range(20):
            ks.claim()  # warm: compiled statements, connections
        with counted_statements(ks.site.app.engine) as counts:
            for _ in range(claims):
                ks.claim()
        per_claim = {k: v / claims for k, v in counts.items()}
        result: dict[str, Any] = {"statements": per_claim}
        c0 = time.thread_time()
        for _ in range(claims):
            ks.claim()
        result["cpu_ms"] = (time.thread_time() - c0) / claims * 1000
        if profile:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(claims):
                ks.claim()
            prof.disable()
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(18)
            result["profile"] = out.getvalue()
            result["by_package"] = _by_package(prof, claims)
        return result
    finally:
        ks.close()


def _by_package(prof: cProfile.Profile, claims: int) -> dict[str, float]:
    """Own CPU time per claim (ms) by where the code lives: sqlalchemy, the driver, calkeeper, the rest."""
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    spent: Counter[str] = Counter()
    for (filename, _line, name), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        if "sqlalchemy" in filename:
            where = "sqlalchemy"
        elif "psycopg" in filename or "sqlite3" in filename or name.startswith("<method 'execute' of 'sqlite3"):
            where = "driver"
        elif "calkeeper" in filename:
            where = "calkeeper"
        elif filename == "~":
            where = "driver" if "sqlite3" in name or "psycopg" in name else "builtins"
        else:
            where = "other"
        spent[where] += tottime
    return {k: round(v / claims * 1000, 3) for k, v in spent.most_common()}


CLAIM_TARGET = 0.5  # x the raw one-row commit rate
HELD_TARGET = 0.9  # x the figure with none held
LABELS = {"named": "dynamic Named", "document": "dynamic Document", "session": "Session", "usage": "Usage"}


def claim_figures(backend: str, open_database: Callable[[str], tuple[str, Callable[[], None]]], workdir: Path, *,
                  claims: int, held: int, rounds: int = 20, say: Callable[[str], None] = print
                  ) -> list[dict[str, Any]]:
    """First-time claims of each kind into an empty pool and with ``held`` CALs held, beside raw commits.

    ``open_database(name)`` gives a fresh database's URL and a function that drops it. The raw one-row
    commits go through the same driver with the same durability settings (``CommitBaseline``); see
    ``measure`` for how the rounds are interleaved.
    """
    rows: list[dict[str, Any]] = []
    baseline_url, drop_baseline = open_database("baseline")
    baseline = CommitBaseline(backend, baseline_url, workdir)
    try:
        for kind in KINDS:
            say(f"  first-time {LABELS[kind]} claims, none held and {held:,} held")
            opened: list[tuple[KindSite, Callable[[], None]]] = []
            try:
                for count in (0, held):
                    url, drop = open_database(f"{kind}{count}")
                    opened.append((KindSite(kind, url, workdir, held=count), drop))
                for ks, _ in opened:
                    for _ in range(20):
                        ks.claim()  # warm
                got = measure(opened[0][0], opened[1][0], baseline, claims=claims, rounds=rounds)
            finally:
                for ks, drop in opened:
                    ks.close()
                    drop()
            low, high = got["ratio_range"]
            rows.append(_row(f"5. first-time {LABELS[kind]} claims", got["value"], got["baseline"],
                             "raw one-row commits", got["ratio"], f">= {CLAIM_TARGET}x", got["ratio"] >= CLAIM_TARGET,
                             f"medians of {rounds} rounds of {got['count'] // rounds}; the ratio ranged "
                             f"{low:.2f}x to {high:.2f}x over the rounds"))
            low, high = got["held_range"]
            rows.append(_row(f"   the same, {held:,} held", got["held"], got["value"], "none held",
                             got["held_ratio"], f">= {HELD_TARGET}x", got["held_ratio"] >= HELD_TARGET,
                             f"{got['held_vs_base']:.2f}x the raw commits; held/empty ranged {low:.2f}x "
                             f"to {high:.2f}x over the rounds"))
    finally:
        baseline.close()
        drop_baseline()
    return rows


def _row(figure: str, value: float, baseline: float, label: str, ratio: float, target: str, met: bool,
         note: str) -> dict[str, Any]:
    return {"figure": figure, "value": value, "unit": "/s", "baseline": baseline, "baseline_label": label,
            "ratio": ratio, "target": target, "result": "met" if met else "missed", "note": note}


def sqlite_databases(workdir: Path) -> Callable[[str], tuple[str, Callable[[], None]]]:
    def open_database(name: str) -> tuple[str, Callable[[], None]]:
        path = workdir / f"{name}.db"

        def drop() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}", drop
    return open_database


def postgres_databases(name: str) -> tuple[str, Callable[[], None]]:
    pg = ThrowawayPostgres()
    return pg.url, pg.close


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--measure", action="store_true",
                        help="measure rates beside the raw commit baseline, empty and with --held CALs held")
    parser.add_argument("--held", type=int, default=100_000)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="calkeeper-claims-"))
    if args.measure:
        try:
            for backend, databases in (("sqlite", sqlite_databases(workdir)), ("postgres", postgres_databases)):
                if backend == "postgres" and (args.no_postgres or postgres_reachable() is not None):
                    continue
                for r in claim_figures(backend, databases, workdir, claims=args.claims, held=args.held):
                    print(f"{backend:8} {r['figure']:40} {r['value']:9,.0f}/s  baseline {r['baseline']:9,.0f}/s "
                          f"({r['baseline_label']})  {r['ratio']:.2f}x  target {r['target']}: {r['result']}  "
                          f"[{r['note']}]", flush=True)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        return 0
    try:
        backends: list[tuple[str, Callable[[], str], Callable[[], None]]] = [
            ("sqlite", lambda: f"sqlite:///{workdir / 'claims.db'}", lambda: None)]
        if not args.no_postgres and postgres_reachable() is None:
            holder: dict[str, ThrowawayPostgres] = {}

            def pg_open() -> str:
                holder["pg"] = ThrowawayPostgres()
                return holder["pg"].url

            backends.append(("postgres", pg_open, lambda: holder["pg"].close()))
        for backend, opener, closer in backends:
            for kind in args.kinds.split(","):
                url = opener()
                if backend == "sqlite":
                    url = f"sqlite:///{workdir / f'{kind}.db'}"
                try:
                    result = profile_kind(kind, url, workdir, claims=args.claims, profile=args.profile)
                finally:
                    closer()
                shown = ", ".join(f"{k} {v:g}" for k, v in sorted(result["statements"].items()))
                total = sum(v for k, v in result["statements"].items())
                print(f"{backend:8} {kind:8} {total:5.1f} statements a claim ({shown}); "
                      f"{result['cpu_ms']:.2f} ms CPU a claim")
                if args.profile:
                    print(f"         own CPU by package, ms a claim: {result['by_package']}")
                    print(result["profile"])
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
