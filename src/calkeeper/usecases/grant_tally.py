"""Opens granted per hour and CAL type: counted in memory on every grant, written in batches.

With usage history on, each grant is also counted by user and document (``activity_counts``), in the
same batch: recording history adds no write to an open.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import datetime, timedelta

from calkeeper.core.cals import CalType
from calkeeper.store.activity import Cell
from calkeeper.store.unit_of_work import Transaction


def hour_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


class GrantTally:
    """Grants not yet written, by (hour, CAL type); written at most once a minute, and on demand."""

    FLUSH_EVERY_SECONDS = 60.0

    def __init__(self, *, history: bool = True) -> None:
        self.history = history  # count grants by user and document too, for the usage reports
        self.activity: Counter[Cell] = Counter()
        self.pending: Counter[tuple[datetime, str]] = Counter()
        self.lock = threading.Lock()
        self.flushed_at = time.monotonic()
        self.bucket: tuple[datetime, datetime] | None = None  # the hour the last grant fell in, and its end

    def add(self, moment: datetime, cal_type: CalType, user: str | None = None, document: str = "") -> None:
        bucket = self.bucket  # one read: another thread may replace it, never half of it
        if bucket is None or not bucket[0] <= moment < bucket[1]:  # a new hour: the only time it is computed
            start = hour_of(moment)
            bucket = self.bucket = (start, start + timedelta(hours=1))
        hour = bucket[0]
        with self.lock:
            self.pending[(hour, cal_type.value)] += 1
            if self.history and document:
                self.activity[(hour, "grant", cal_type.value, "", user, document)] += 1

    def due(self) -> bool:
        """True when the counts have waited a minute (the chart is by the hour)."""
        return bool(self.pending) and time.monotonic() - self.flushed_at > self.FLUSH_EVERY_SECONDS

    def take(self) -> tuple[Counter[tuple[datetime, str]], Counter[Cell]]:
        """The pending counts (by hour and type; by user and document), to be written in a transaction."""
        with self.lock:
            pending, self.pending = self.pending, Counter()
            activity, self.activity = self.activity, Counter()
            self.flushed_at = time.monotonic()
        return pending, activity

    def put_back(self, taken: tuple[Counter[tuple[datetime, str]], Counter[Cell]]) -> None:
        counts, activity = taken
        with self.lock:
            self.pending.update(counts)
            self.activity.update(activity)

    def flush(self, tx: Transaction) -> None:
        """Add the pending counts to the tables inside the caller's transaction (kept if it does not commit)."""
        taken = self.take()
        tx.if_not_committed.append(lambda: self.put_back(taken))
        counts, activity = taken
        tx.history.add_grant_counts(counts)
        if activity:
            tx.activity.add(activity)


def grants_per_hour(tx: Transaction, *, since: datetime) -> dict[str, list[tuple[datetime, int]]]:
    """Grants per hour for each CAL type since a time, with empty hours filled in."""
    found = tx.history.grant_counts(since=hour_of(since))
    hours = []
    moment, end = hour_of(since), hour_of(tx.now)
    while moment <= end:
        hours.append(moment)
        moment += timedelta(hours=1)
    return {t.value: [(h, found.get((h, t.value), 0)) for h in hours] for t in CalType}
