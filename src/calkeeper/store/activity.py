"""Usage history: grants and denials counted by hour and by day, and the peak of each pool by hour."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from calkeeper.core.documents import document_key
from calkeeper.core.identities import user_key
from calkeeper.infra.database import table_of
from calkeeper.store.schema import ActivityCount, DenialRecord, PoolUsage

activity_t = table_of(ActivityCount)
pool_usage_t = table_of(PoolUsage)
denial_t = table_of(DenialRecord)
CELL = ["bucket", "span", "outcome", "cal_type", "code", "user_key", "document_key"]
DIMENSIONS = {"user": ("user_key",), "document": ("document_key",), "code": ("code",), "cal_type": ("cal_type",),
              "bucket": ("bucket",)}

# (hour, outcome, CAL type or "", reason code or "", user name or None, document path)
Cell = tuple[datetime, str, str, str, str | None, str]


def doc_digest(path: str) -> str:
    """A short fixed-length key for a document path (paths are too long for a unique index on every database)."""
    return hashlib.sha256(document_key(path).encode()).hexdigest()[:32]


class Activity:
    def __init__(self, connection: Connection, now: datetime, *, postgres: bool) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres

    def _upsert(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        maker = pg_insert if self.postgres else sqlite_insert
        stmt = maker(activity_t).values(rows)
        stmt = stmt.on_conflict_do_update(index_elements=CELL, set_={"count": activity_t.c.count + stmt.excluded.count})
        self.connection.execute(stmt)

    def add(self, counts: Mapping[Cell, int], *, span: str = "hour") -> None:
        """Add counted grants and denials to their hours."""
        merged: dict[tuple[Any, ...], dict[str, Any]] = {}
        for (bucket, outcome, cal_type, code, user, document), n in counts.items():
            row = {"bucket": bucket, "span": span, "outcome": outcome, "cal_type": cal_type, "code": code,
                   "user_key": user_key(user) if user else "", "user_name": user, "document_key": doc_digest(document),
                   "document": document, "count": n}
            cell = tuple(row[c] for c in CELL)
            if cell in merged:
                merged[cell]["count"] += n
            else:
                merged[cell] = row
        self._upsert(list(merged.values()))

    def roll_up(self, *, before: datetime) -> int:
        """Fold the hour rows before a time into day rows; how many hour rows were folded."""
        rows = self.connection.execute(
            select(activity_t).where(activity_t.c.span == "hour", activity_t.c.bucket < before)
        ).mappings().all()
        if not rows:
            return 0
        days: dict[tuple[Any, ...], dict[str, Any]] = {}
        for r in rows:
            day = r["bucket"].replace(hour=0, minute=0, second=0, microsecond=0)
            cell = (day, r["outcome"], r["cal_type"], r["code"], r["user_key"], r["document_key"])
            if cell in days:
                days[cell]["count"] += r["count"]
            else:
                days[cell] = {**{k: r[k] for k in [*CELL, "user_name", "document", "count"]},
                              "bucket": day, "span": "day"}
        self.connection.execute(delete(activity_t).where(activity_t.c.span == "hour", activity_t.c.bucket < before))
        values = list(days.values())
        for start in range(0, len(values), 500):
            self._upsert(values[start:start + 500])
        return len(rows)

    def prune(self, *, before: datetime) -> int:
        """Forget history (counts, pool peaks, denials) older than a time; how many rows went."""
        gone = self.connection.execute(delete(activity_t).where(activity_t.c.bucket < before)).rowcount
        gone += self.connection.execute(delete(pool_usage_t).where(pool_usage_t.c.hour < before)).rowcount
        gone += self.connection.execute(delete(denial_t).where(denial_t.c.at < before)).rowcount
        return int(gone)

    def totals(self, *, outcome: str, since: datetime, until: datetime, by: tuple[str, ...],
               where: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
        """Counts summed over the period, grouped by columns of ``bucket``, ``cal_type``, ``code``,
        ``user_key``, ``document_key`` (each group names its user and document as last seen)."""
        columns = [activity_t.c[name] for name in by]
        names = []
        if "user_key" in by:
            names.append(func.max(activity_t.c.user_name).label("user_name"))
        if "document_key" in by:
            names.append(func.max(activity_t.c.document).label("document"))
        conditions = [activity_t.c.outcome == outcome, activity_t.c.bucket >= since, activity_t.c.bucket < until]
        for column, value in (where or {}).items():
            conditions.append(activity_t.c[column] == value)
        query = (select(*columns, *names, func.sum(activity_t.c.count).label("count"))
                 .where(and_(*conditions)).group_by(*columns))
        return [dict(r) for r in self.connection.execute(query).mappings()]

    def note_pool_peaks(self, hour: datetime, in_use: Mapping[str, tuple[int, int]]) -> None:
        """Record the CALs in use now as the hour's peak of each pool, when higher than the one recorded."""
        maker = pg_insert if self.postgres else sqlite_insert
        rows = [{"hour": hour, "cal_type": t, "peak": used, "in_license": licensed}
                for t, (used, licensed) in in_use.items()]
        if not rows:
            return
        stmt = maker(pool_usage_t).values(rows)
        bigger = func.max(pool_usage_t.c.peak, stmt.excluded.peak) if not self.postgres else \
            func.greatest(pool_usage_t.c.peak, stmt.excluded.peak)
        stmt = stmt.on_conflict_do_update(index_elements=["hour", "cal_type"],
                                          set_={"peak": bigger, "in_license": stmt.excluded.in_license})
        self.connection.execute(stmt)

    def pool_usage(self, *, since: datetime, until: datetime) -> list[tuple[datetime, str, int, int]]:
        """(hour, CAL type, peak in use, in license) over a period, in time order."""
        rows = self.connection.execute(
            select(pool_usage_t).where(pool_usage_t.c.hour >= since, pool_usage_t.c.hour < until)
            .order_by(pool_usage_t.c.hour, pool_usage_t.c.cal_type)
        ).mappings()
        return [(r["hour"], r["cal_type"], r["peak"], r["in_license"]) for r in rows]

    def denial_count(self, *, since: datetime, code: str) -> int:
        """Denials of a reason code recorded since a time."""
        return int(self.connection.execute(
            select(func.count()).select_from(denial_t).where(denial_t.c.at >= since, denial_t.c.code == code)
        ).scalar_one())
