"""A database outage, as one node sees it: since when, and whether opens may still be answered from memory.

While the database is unreachable, an open the decision cache can answer from what the node knew
before (a user holding a Named CAL, or a Document CAL for that document, not marked for removal, on
the machine it serves) is granted in *degraded mode* for at most ``window`` after the outage began;
what such a grant must write (its session, "last used") waits in memory, bounded, and is written when
the database answers again. Everything else (a first-time claim, a Session or Usage CAL) waits for the
database: the caller answers 503 with Retry-After. Between two tries of the database the node does not
knock again for ``retry_seconds``, so those answers are fast.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from calkeeper.core.clock import Clock
from calkeeper.core.errors import StoreUnavailable
from calkeeper.store.unit_of_work import UnitOfWork

DEGRADED_WINDOW = timedelta(minutes=5)
RETRY_SECONDS = 1.0


class Outage:
    """The node's view of its database's availability and of the degraded window."""

    def __init__(self, *, uow: UnitOfWork, clock: Clock, window: timedelta = timedelta(0),
                 retry_seconds: float = RETRY_SECONDS) -> None:
        self.uow, self.clock = uow, clock
        self.window = window
        self.retry_seconds = retry_seconds
        self.tried_at = float("-inf")

    @property
    def since(self) -> datetime | None:
        """When the database stopped answering this node, while it does not."""
        return self.uow.unavailable_since

    def degraded_until(self) -> datetime | None:
        """Until when opens may be answered from memory; None when not in an outage or degraded mode is off."""
        since = self.since
        if since is None or self.window <= timedelta(0):
            return None
        return since + self.window

    def may_answer_from_memory(self) -> bool:
        until = self.degraded_until()
        return until is not None and self.clock.now() < until

    def wait_before_trying(self) -> StoreUnavailable | None:
        """During an outage, the error to answer at once when the database was tried less than a moment ago."""
        since = self.since
        if since is None:
            return None
        now = self.clock.monotonic()
        if now - self.tried_at >= self.retry_seconds:
            self.tried_at = now
            return None
        return StoreUnavailable(f"the CAL database is unavailable (since {since:%Y-%m-%d %H:%M:%S} UTC); "
                                "nothing was changed. Try again in a moment")
