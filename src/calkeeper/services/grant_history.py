"""Opens granted per hour and CAL type: counted in memory on every grant, written in batches."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from calkeeper.core.cals import CalType
from calkeeper.store.schema import GrantCount
from calkeeper.store.unit_of_work import Transaction

counts_t = GrantCount.__table__


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class GrantTally:
    """Grants not yet written, by (hour, CAL type); written at most once a minute, and on demand."""

    FLUSH_EVERY_SECONDS = 60.0

    def __init__(self) -> None:
        self.pending: Counter[tuple[datetime, str]] = Counter()
        self.lock = threading.Lock()
        self.flushed_at = time.monotonic()

    def add(self, moment: datetime, cal_type: CalType) -> None:
        with self.lock:
            self.pending[(hour_of(moment), cal_type.value)] += 1

    def due(self) -> bool:
        """True when the counts have waited a minute (the chart is by the hour)."""
        return bool(self.pending) and time.monotonic() - self.flushed_at > self.FLUSH_EVERY_SECONDS

    def flush(self, tx: Transaction) -> None:
        """Add the pending counts to the table inside the caller's transaction."""
        with self.lock:
            pending, self.pending = self.pending, Counter()
            self.flushed_at = time.monotonic()
        if not pending:
            return
        maker = pg_insert if tx.claims.postgres else sqlite_insert
        rows = [{"hour": hour, "cal_type": cal_type, "granted": n} for (hour, cal_type), n in pending.items()]
        stmt = maker(counts_t).values(rows)
        stmt = stmt.on_conflict_do_update(index_elements=["hour", "cal_type"],
                                          set_={"granted": counts_t.c.granted + stmt.excluded.granted})
        tx.connection.execute(stmt)


def grants_per_hour(tx: Transaction, *, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
    """Grants per hour for each CAL type since a time, with empty hours filled in."""
    rows = tx.connection.execute(
        select(counts_t).where(counts_t.c.hour >= hour_of(since)).order_by(counts_t.c.hour)
    ).mappings().all()
    found = {(r["hour"], r["cal_type"]): r["granted"] for r in rows}
    hours = []
    moment, end = hour_of(since), hour_of(tx.now)
    while moment <= end:
        hours.append(moment)
        moment += timedelta(hours=1)
    return {t.value: [(h, found.get((h, t.value), 0)) for h in hours] for t in CalType}
