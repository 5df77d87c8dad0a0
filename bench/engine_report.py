"""The engine benchmark's report: figures beside their baselines and targets, as a table."""

from __future__ import annotations

from typing import Any

from bench.engine_fixtures import Sizes

REPEAT_TARGET = 50_000.0  # decisions per second
ASSIGN_TARGET = 0.5  # x the single-row commit rate
PAGE_TARGET_MS = 50.0
MB = 1024 * 1024

def figures(result: dict[str, Any], kind: str, sizes: Sizes, bare: int) -> list[dict[str, Any]]:
    """The rows of the table (and of the JSON) for one backend."""
    w, listing = result["worker"], result["listing"]
    rows = []

    def row(key: str, label: str, value: float, unit: str, baseline: float | None, baseline_label: str,
            target: str, passed: bool | None, note: str = "") -> None:
        rows.append({"key": key, "figure": label, "value": value, "unit": unit, "baseline": baseline,
                     "baseline_label": baseline_label, "ratio": value / baseline if baseline else None,
                     "target": target, "result": "info" if passed is None else ("PASS" if passed else "MISS"),
                     "note": note})

    # Repeat opens are pure CPU in this process: counted per second of its CPU time (one core's rate, however
    # busy the machine is). So is SQLite's lookup; PostgreSQL's waits on the server, so it counts elapsed time.
    entries = w["cached_entries"]
    raw = w["raw_select"]
    raw_rate, raw_label = (raw["cpu"], "driver key SELECT") if kind == "sqlite" else (raw["wall"],
                                                                                       "driver key SELECT, wall")
    for key, label, holders in (("named", "Named CAL holder", sizes.holders),
                                ("document", "Document CAL holder", sizes.doc_holders)):
        r = w[f"repeat_{key}"]
        row(f"repeat_open_{key}", f"1. repeat opens, {label}", r["cpu"], "/s", raw_rate, raw_label,
            f">= {REPEAT_TARGET:,.0f}/s", r["cpu"] >= REPEAT_TARGET,
            f"{r['count']:,} opens cycling over {holders:,} holders, {entries:,} in the cache; per CPU-second; "
            f"elapsed-time rate {r['wall']:,.0f}/s (driver: {raw['wall']:,.0f}/s)")
    row("cold_open_named", "   first open of a holder (cache miss)", w["cold_named"], "/s", None, "", "", None,
        f"a write transaction each, in every process and after every admin change; {w['cold_named_count']:,} "
        f"opened so, the other {w['cache_filled_by_sql']:,} holders put in the cache from one SELECT")
    row("last_used_refresh", "   first open in a new minute", w["rollover"], "/s", None, "", "", None,
        f"each writes last_used once (a committed UPDATE); {w['rollover_count']:,} holders")
    for key, label, note in (
        ("assign_empty", "2. first-time assignments, empty pool", "pool empty at start"),
        ("assign_held", f"2. first-time assignments, {sizes.holders // 1000}k held", f"{sizes.holders:,} held"),
    ):
        a = result[key]
        row(key, label, a["value"], "/s", a["baseline"], "1-row commits", f">= {ASSIGN_TARGET}x baseline",
            a["ratio"] >= ASSIGN_TARGET,
            f"{a['count']:,} in {a['seconds']:.1f} s, {note}; each {a['wall_ms_each']:.2f} ms of which "
            f"{a['cpu_ms_each']:.2f} ms CPU in calkeeper")
    row("list_page_median", "3. list_named_cals page, median", listing["median_ms"], "ms",
        listing["raw_median_ms"], "driver page SELECT", f"< {PAGE_TARGET_MS:.0f} ms",
        listing["median_ms"] < PAGE_TARGET_MS,
        f"{listing['pages']} pages of 100 spread over {listing['rows']:,} rows; CPU median "
        f"{listing['cpu_median_ms']:.2f} ms")
    row("list_page_p99", "3. list_named_cals page, p99", listing["p99_ms"], "ms", listing["raw_p99_ms"],
        "driver page SELECT", f"< {PAGE_TARGET_MS:.0f} ms", listing["p99_ms"] < PAGE_TARGET_MS,
        f"max {listing['max_ms']:.1f} ms (driver: {listing['raw_max_ms']:.1f} ms)")
    per_entry = (w["rss_after"] - w["rss_site_open"]) / max(1, entries)
    row("rss", "4. RSS, decision cache full", w["rss_after"] / MB, "MB", bare / MB, "interpreter + calkeeper",
        "report", None, f"{entries:,} holders cached; about {per_entry:,.0f} bytes each over the open site's "
        f"{w['rss_site_open'] / MB:.1f} MB")
    return rows


def fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "ms":
        return f"{value:,.2f} ms" if value < 10 else f"{value:,.1f} ms"
    return f"{value:,.1f} {unit}"


def print_report(console: Any, report: dict[str, Any]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="calkeeper engine benchmark" + (" (--quick)" if report["meta"]["quick"] else ""),
                  show_lines=False)
    for name, justify in (("Backend", "left"), ("Figure", "left"), ("calkeeper", "right"), ("Baseline", "right"),
                          ("Ratio", "right"), ("Target", "right"), ("Result", "center")):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for backend, body in report["backends"].items():
        if "skipped" in body:
            table.add_row(backend, f"[yellow]skipped: {body['skipped']}[/]", "", "", "", "", "")
            table.add_section()
            continue
        for r in body["figures"]:
            colour = {"PASS": "green", "MISS": "red", "met": "green", "missed": "red"}.get(r["result"], "dim")
            base = f"{fmt(r['baseline'], r['unit'])} ({r['baseline_label']})" if r["baseline"] is not None else "-"
            ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
            table.add_row(backend, r["figure"], fmt(r["value"], r["unit"]), base, ratio, r["target"],
                          f"[{colour}]{r['result']}[/]")
        table.add_section()
    console.print(table)
    for backend, body in report["backends"].items():
        if "error" in body:
            console.print(f"[bold]{backend}[/] skipped: {escape(body['error'])}", highlight=False)
        if "figures" in body:
            console.print(f"[bold]{backend}[/]")
            for r in body["figures"]:
                if r["note"]:
                    console.print(f"  {r['figure'].strip()}: {r['note']}")
    meta = report["meta"]
    console.print(f"[dim]{meta['python']} · SQLite {meta['sqlite']} · {meta['cpus']} CPUs · load "
                  f"{meta['load_start']} -> {meta['load_end']} · {meta['seconds']:.0f} s[/]")
