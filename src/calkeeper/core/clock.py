"""Where calkeeper reads the time from. The rules never call ``datetime.now`` themselves."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of the current UTC time and of a monotonic counter for cache freshness."""

    def now(self) -> datetime: ...

    def monotonic(self) -> float: ...


class SystemClock:
    """The real time."""

    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        return datetime.now(UTC)

    def monotonic(self) -> float:
        """Return seconds from an arbitrary start, never going back."""
        return time.monotonic()


class FrozenClock:
    """A clock that moves only when told to; for tests and embedders that replay time."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
        self._monotonic = 0.0

    def now(self) -> datetime:
        """Return the frozen time."""
        return self._now

    def monotonic(self) -> float:
        """Return seconds advanced since the clock was made."""
        return self._monotonic

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        if delta < timedelta(0):
            raise ValueError("a clock does not go back")
        self._now += delta
        self._monotonic += delta.total_seconds()

    def set(self, moment: datetime) -> None:
        """Jump to ``moment`` (forward only)."""
        self.advance(moment - self._now)


def to_minute(moment: datetime) -> datetime:
    """Truncate a time to the minute, the precision of "last used"."""
    return moment.replace(second=0, microsecond=0)


def as_utc(moment: datetime) -> datetime:
    """Attach UTC to a naive time read back from a database that drops the zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
