"""Usage history: grants and denials by day, CAL type, user, document and reason, and each pool's peak in use.

Grants are counted in memory and written with the dashboard's counts (``grant_tally``); denials are
counted in the transaction that records them. The upkeep notes each pool's CALs in use once a minute
(the hour's peak), folds hour rows older than ``hourly_days`` into day rows, and forgets history older
than ``retention_days``: a year of a busy site stays a few hundred thousand rows at most.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from calkeeper.contract.views import ReportView
from calkeeper.core.cals import CalType
from calkeeper.core.errors import InvalidInput
from calkeeper.store.unit_of_work import UnitOfWork

REPORTS = {"usage": ("type", "day", "user", "document"), "denials": ("type", "day", "reason", "user", "document"),
           "peaks": ("type",)}
MAX_DAYS = 3660


@dataclass(frozen=True)
class HistoryPolicy:
    """How long usage history is kept: by hour for ``hourly_days``, then by day until ``retention_days``."""

    enabled: bool = True
    hourly_days: int = 31
    retention_days: int = 400


def _day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


class UsageHistory:
    """The usage reports, and the upkeep's sampling and rolling up of history."""

    def __init__(self, *, uow: UnitOfWork, policy: HistoryPolicy | None = None) -> None:
        self.uow = uow
        self.policy = policy or HistoryPolicy()

    # -- reports ---------------------------------------------------------------------------------

    def report(self, report: str, *, start: date | None = None, end: date | None = None,
               by: str = "type") -> ReportView:
        """A usage report over whole UTC days, from ``start`` to ``end`` inclusive (default: the last 30 days)."""
        if report not in REPORTS:
            raise InvalidInput(f"a report is one of {', '.join(REPORTS)}, not '{report}'")
        if by not in REPORTS[report]:
            raise InvalidInput(f"the {report} report is by {', '.join(REPORTS[report])}, not '{by}'")
        with self.uow.read() as tx:
            today = _day(tx.now)
            end = end or today
            start = start or end - timedelta(days=29)
            if start > end:
                raise InvalidInput(f"the report starts ({start}) after it ends ({end})")
            if (end - start).days >= MAX_DAYS:
                raise InvalidInput(f"a report covers at most {MAX_DAYS} days")
            since, until = _start(start), _start(end + timedelta(days=1))
            if report == "peaks":
                columns, rows = _peaks(tx.activity.pool_usage(since=since, until=until), start, end)
            else:
                outcome = "grant" if report == "usage" else "denial"
                columns, rows = _counts(tx, outcome, by, since, until, start, end)
        return ReportView(report, by, start, end, columns, rows)

    # -- the upkeep --------------------------------------------------------------------------------

    def note_pools(self) -> None:
        """Note how many CALs of each type are in use now, as this hour's peak when it is the highest yet."""
        if not self.policy.enabled:
            return
        with self.uow.write() as tx:
            terms = tx.licenses.terms()
            pools = tx.assignments.pools(terms)
            hour = tx.now.replace(minute=0, second=0, microsecond=0)
            tx.activity.note_pool_peaks(hour, {t.value: (p.assigned, p.in_license) for t, p in pools.items()})

    def roll_up(self) -> int:
        """Fold old hour rows into days and forget history past its retention; how many rows changed."""
        with self.uow.write() as tx:
            today = _start(_day(tx.now))
            folded = tx.activity.roll_up(before=today - timedelta(days=self.policy.hourly_days))
            return folded + tx.activity.prune(before=today - timedelta(days=self.policy.retention_days))


def _counts(tx: Any, outcome: str, by: str, since: datetime, until: datetime, start: date,
            end: date) -> tuple[list[str], list[list[Any]]]:
    noun = "grants" if outcome == "grant" else "denials"
    detail = "cal_type" if outcome == "grant" else "code"
    if by in ("type", "day"):
        found = tx.activity.totals(outcome=outcome, since=since, until=until, by=("bucket", detail))
        per_day: dict[tuple[date, str], int] = defaultdict(int)
        for r in found:
            per_day[(_day(r["bucket"]), r[detail] if by == "type" else "")] += int(r["count"])
        if by == "day":
            return ["day", noun], [[d.isoformat(), per_day.get((d, ""), 0)] for d in _days(start, end)]
        if outcome == "grant":
            peaks = {(d, t): (p, lic) for d, t, p, lic in _daily_peaks(tx.activity.pool_usage(since=since,
                                                                                           until=until))}
            rows = []
            for d in _days(start, end):
                for t in CalType:
                    peak, licensed = peaks.get((d, t.value), (None, None))
                    rows.append([d.isoformat(), t.value, per_day.get((d, t.value), 0), peak, licensed])
            return ["day", "cal_type", "grants", "peak_in_use", "in_license"], rows
        codes = sorted({code for (_, code) in per_day})
        return ["day", "reason", "denials"], [[d.isoformat(), code, per_day[(d, code)]]
                                              for d in _days(start, end) for code in codes if (d, code) in per_day]
    if by == "reason":
        found = tx.activity.totals(outcome=outcome, since=since, until=until, by=("code", "user_key"))
        reasons: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for r in found:
            reasons[r["code"]][0] += int(r["count"])
            reasons[r["code"]][1] += 1
        return ["reason", "denials", "users"], [[code, n, users] for code, (n, users)
                                                in sorted(reasons.items(), key=lambda item: -item[1][0])]
    if by == "user":
        found = tx.activity.totals(outcome=outcome, since=since, until=until, by=("user_key", detail))
        users: dict[str, dict[str, Any]] = {}
        for r in found:
            entry = users.setdefault(r["user_key"], {"name": r["user_name"] or "(anonymous)", "total": 0})
            entry["total"] += int(r["count"])
            entry[r[detail]] = entry.get(r[detail], 0) + int(r["count"])
        if outcome == "grant":
            types = [t.value for t in CalType]
            return ["user", noun, *types], [[e["name"], e["total"], *[e.get(t, 0) for t in types]]
                                            for e in sorted(users.values(), key=lambda e: (-e["total"], e["name"]))]
        return ["user", noun], [[e["name"], e["total"]]
                                for e in sorted(users.values(), key=lambda e: (-e["total"], e["name"]))]
    found = tx.activity.totals(outcome=outcome, since=since, until=until, by=("document_key", "user_key"))
    documents: dict[str, dict[str, Any]] = {}
    for r in found:
        entry = documents.setdefault(r["document_key"], {"name": r["document"], "total": 0, "users": 0})
        entry["total"] += int(r["count"])
        entry["users"] += 1
    return ["document", noun, "users"], [[e["name"], e["total"], e["users"]]
                                         for e in sorted(documents.values(), key=lambda e: (-e["total"], e["name"]))]


def _daily_peaks(hours: list[tuple[datetime, str, int, int]]) -> list[tuple[date, str, int, int]]:
    days: dict[tuple[date, str], tuple[int, int]] = {}
    for hour, cal_type, peak, licensed in hours:
        key = (_day(hour), cal_type)
        seen = days.get(key)
        days[key] = (peak, licensed) if seen is None or peak > seen[0] else seen
    return [(d, t, p, lic) for (d, t), (p, lic) in sorted(days.items())]


def _peaks(hours: list[tuple[datetime, str, int, int]], start: date, end: date) -> tuple[list[str], list[list[Any]]]:
    peaks = {(d, t): (p, lic) for d, t, p, lic in _daily_peaks(hours)}
    rows = []
    for d in _days(start, end):
        for t in CalType:
            if (d, t.value) in peaks:
                peak, licensed = peaks[(d, t.value)]
                rows.append([d.isoformat(), t.value, peak, licensed, max(0, licensed - peak)])
    return ["day", "cal_type", "peak_in_use", "in_license", "free_at_peak"], rows
