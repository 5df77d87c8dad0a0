"""The access gate's figures with usage history on and off, side by side (part of ``make bench``).

    .venv/bin/python -m bench.history_bench [--quick] [--json PATH] [--no-postgres]

Usage history counts each grant by user and document in memory and writes the counts with the dashboard's,
at most once a minute (docs/operations.md): it is meant to add nothing to an open. Two sites are built
alike, on the same kind of database, but for ``HistoryPolicy(enabled=...)`` (``CALKEEPER_HISTORY_ENABLED``),
and measured in rounds that alternate between them, so both see the same machine:

1. Repeat opens by holders of a Named CAL, the decision cache holding every holder: decisions per second of
   this thread's CPU time (one core's rate, however busy the machine is).
2. First-time claims: distinct new users opening a document, each given a dynamic Named CAL in a write
   transaction: claims per second of elapsed time.

After each round, outside the timings, the upkeep's work is done as a server does it once a minute (the
grants counted in memory and the sessions repeat opens started are written); its time is the third figure.
Each line prints history on, history off and their ratio (on / off; 1.00 is "costs nothing"). On SQLite,
then on PostgreSQL (``CALKEEPER_BENCH_PG`` or ``CALKEEPER_TEST_PG``; skipped with a line saying why when it
cannot be reached).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.engine_fixtures import (
    DOCUMENT,
    MACHINE,
    BenchClock,
    ThrowawayPostgres,
    apply_license,
    make_root,
    postgres_reachable,
)
from calkeeper.authority.signing import SigningKey, create_key
from calkeeper.bootstrap import build_application
from calkeeper.core.cals import CalType, Grant
from calkeeper.site import LocalSite
from calkeeper.usecases.admin import writing_pending
from calkeeper.usecases.usage_history import HistoryPolicy


@dataclass(frozen=True)
class Plan:
    holders: int  # users holding a Named CAL, opened again and again
    repeat_opens: int  # repeat opens a round, each site
    claims: int  # first-time claims a round, each site
    rounds: int


FULL = Plan(holders=2_000, repeat_opens=20_000, claims=300, rounds=5)
QUICK = Plan(holders=300, repeat_opens=3_000, claims=60, rounds=3)


def holder(i: int) -> str:
    return f"ACME\\holder{i:06d}"


def newcomer(flag: str, i: int) -> str:
    return f"ACME\\new{flag}{i:06d}"


def open_site(url: str, root: Path, key: SigningKey, clock: BenchClock, *, history: bool, plan: Plan) -> LocalSite:
    """A site with ``plan.holders`` Named CAL holders, each opened once (so the decision cache holds them)."""
    site = LocalSite(build_application(url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                                       root_folder=root, actor="bench", history=HistoryPolicy(enabled=history)))
    apply_license(site, key, named=plan.holders + plan.claims * plan.rounds + 10, document=10)
    site.update_cal_settings(allow_dynamic_assignment=True, allow_license_lease=False)
    names = [holder(i) for i in range(plan.holders)]
    for start in range(0, len(names), 500):
        site.assign_named_cals(names[start:start + 500])
    for name in names:
        site.open_document(name, DOCUMENT, machine=MACHINE)
    site.app.last_used.deferred = True  # as in a server: the sessions repeat opens start are written by the upkeep
    return site


def upkeep_writes(site: LocalSite) -> float:
    """What the upkeep writes after a round (the grants counted in memory, the deferred sessions): ms."""
    t0 = time.perf_counter()
    site.app.reports.flush_grant_counts()
    with writing_pending(site.app.uow, site.app.last_used):
        pass
    return (time.perf_counter() - t0) * 1000


def repeat_opens(site: LocalSite, names: list[str], count: int) -> float:
    """Repeat opens, the holders in turn: decisions per CPU second."""
    c0 = time.thread_time()
    for n in range(count):
        site.open_document(names[n % len(names)], DOCUMENT, machine=MACHINE)
    return count / (time.thread_time() - c0)


def first_claims(site: LocalSite, flag: str, start: int, count: int) -> float:
    """Distinct new users' first opens, each a dynamic Named CAL: claims per second of elapsed time."""
    t0 = time.perf_counter()
    decisions = [site.open_document(newcomer(flag, i), DOCUMENT, machine=MACHINE) for i in range(start, start + count)]
    elapsed = time.perf_counter() - t0
    for decision in decisions:
        if not (isinstance(decision, Grant) and decision.cal_type is CalType.NAMED and decision.dynamic):
            raise RuntimeError(f"expected a dynamic Named CAL grant, got {decision!r}")
    return count / elapsed


def measure(kind: str, urls: dict[str, str], workdir: Path, plan: Plan) -> dict[str, Any]:
    """Both sites built, then rounds alternating on and off (which goes first alternates too)."""
    names = [holder(i) for i in range(plan.holders)]
    key = create_key(workdir / f"keys-{kind}")
    clock = BenchClock(datetime.now(UTC).replace(second=5, microsecond=0))
    sites = {flag: open_site(url, make_root(workdir / f"documents-{kind}-{flag}"), key, clock,
                             history=flag == "on", plan=plan) for flag, url in urls.items()}
    try:
        opens: dict[str, list[float]] = {"on": [], "off": []}
        claims: dict[str, list[float]] = {"on": [], "off": []}
        upkeep: dict[str, list[float]] = {"on": [], "off": []}
        for flag in sites:
            upkeep_writes(sites[flag])  # what the warm-up left
        for number in range(plan.rounds):
            order = ("on", "off") if number % 2 == 0 else ("off", "on")
            for flag in order:
                opens[flag].append(repeat_opens(sites[flag], names, plan.repeat_opens))
            for flag in order:
                claims[flag].append(first_claims(sites[flag], flag, number * plan.claims, plan.claims))
            for flag in order:
                upkeep[flag].append(upkeep_writes(sites[flag]))
    finally:
        for site in sites.values():
            site.close()

    def line(rates: dict[str, list[float]]) -> dict[str, float]:
        on, off = statistics.median(rates["on"]), statistics.median(rates["off"])
        return {"on": on, "off": off, "ratio": on / off}

    return {"repeat_opens_per_cpu_s": line(opens), "first_claims_per_s": line(claims),
            "upkeep_write_ms_per_round": line(upkeep),
            "rounds": plan.rounds, "holders": plan.holders}


def print_results(results: dict[str, Any]) -> None:
    print("\nThe access gate with usage history on and off (median of the rounds; ratio = on / off)")
    print(f"{'database':<11} {'figure':<34} {'history on':>12} {'history off':>12} {'ratio':>7}")
    for kind, result in results.items():
        if "skipped" in result:
            print(f"{kind:<11} skipped: {result['skipped']}")
            continue
        for name, label in (("repeat_opens_per_cpu_s", "repeat opens / CPU s"),
                            ("first_claims_per_s", "first-time claims (Named) / s"),
                            ("upkeep_write_ms_per_round", "upkeep's write after a round, ms")):
            figure = result[name]
            print(f"{kind:<11} {label:<34} {figure['on']:>12,.0f} {figure['off']:>12,.0f} {figure['ratio']:>7.2f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Smaller sizes, for a check rather than figures.")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only.")
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="calkeeper-history-bench-") as folder:
        workdir = Path(folder)
        urls = {flag: f"sqlite:///{workdir / f'history-{flag}.db'}" for flag in ("on", "off")}
        results["SQLite"] = measure("sqlite", urls, workdir, plan)
        why = "--no-postgres" if args.no_postgres else postgres_reachable()
        if why is None:
            databases = {flag: ThrowawayPostgres() for flag in ("on", "off")}
            try:
                results["PostgreSQL"] = measure("postgres", {f: d.url for f, d in databases.items()}, workdir, plan)
            finally:
                for database in databases.values():
                    database.close()
        else:
            results["PostgreSQL"] = {"skipped": why}
    print_results(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
