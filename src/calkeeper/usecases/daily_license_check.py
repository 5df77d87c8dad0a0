"""The daily check: ask the license authority for a newer LEF once a day, and apply it.

Off by default (``CALKEEPER_AUTHORITY_DAILY_CHECK=true`` turns it on). It is "Update license from
server" run by the server itself, with the same checks and the same safety: a LEF that is refused,
or an authority that cannot be reached, leaves the license in force as it was. After a failure it
tries again an hour later; the first failure of a kind is written to the audit trail
(``license.update_failed``), so the admin can see why the license did not change.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from calkeeper.contract.views import LicenseUpdate, LicenseView
from calkeeper.core.clock import Clock
from calkeeper.core.errors import CalkeeperError, StoreUnavailable

log = logging.getLogger("calkeeper.license")

CHECK_INTERVAL = timedelta(days=1)
RETRY_AFTER_FAILURE = timedelta(hours=1)
ACTOR = "calkeeper:daily-check"


class Updatable(Protocol):
    """The part of the licensing use cases the daily check uses."""

    clock: Clock

    def license(self) -> LicenseView | None: ...

    def update_license(self, *, actor: str | None = None) -> LicenseUpdate: ...

    def record_license_check_failure(self, *, error: CalkeeperError, actor: str) -> None: ...


@dataclass(frozen=True)
class CheckOutcome:
    """One run of the check: the update it made (or found unneeded), or the error that stopped it."""

    at: datetime
    update: LicenseUpdate | None = None
    error: CalkeeperError | None = None


class DailyLicenseCheck:
    """Runs "Update license from server" when a day has passed since the last successful check."""

    def __init__(self, site: Updatable, *, clock: Clock | None = None, interval: timedelta = CHECK_INTERVAL,
                 retry_after: timedelta = RETRY_AFTER_FAILURE) -> None:
        self.site = site
        self.clock = clock or site.clock
        self.interval, self.retry_after = interval, retry_after
        self.next_due: datetime | None = None  # None: due now (at start-up)
        self.last_error_code: str | None = None

    def due(self) -> bool:
        """True when the next check is due."""
        return self.next_due is None or self.clock.now() >= self.next_due

    def run_if_due(self) -> CheckOutcome | None:
        """Check the authority when due; None when it is not due yet (or no license is in force)."""
        if not self.due():
            return None
        now = self.clock.now()
        if self.site.license() is None:
            self.next_due = now + self.interval
            return None
        try:
            update = self.site.update_license(actor=ACTOR)
        except CalkeeperError as error:
            self.next_due = now + self.retry_after
            log.warning("daily license check failed (%s): %s", error.code, error.message)
            if error.code != self.last_error_code:
                self.site.record_license_check_failure(error=error, actor=ACTOR)
            self.last_error_code = error.code
            return CheckOutcome(now, error=error)
        self.next_due, self.last_error_code = now + self.interval, None
        if update.updated:
            log.info("daily license check applied a newer LEF: %s", update.changes or "no change in CALs")
        return CheckOutcome(now, update=update)


async def run_daily_checks(check: DailyLicenseCheck, *, poll_seconds: float = 300.0) -> None:
    """Run the check whenever it is due, until cancelled (the server runs this as a background task)."""
    while True:
        try:
            await asyncio.to_thread(check.run_if_due)
        except StoreUnavailable:
            log.info("the daily license check waits for the CAL database")  # due still: runs once it is back
        except Exception:  # a bug here must not stop the server; it is logged and retried
            log.exception("the daily license check failed unexpectedly")
        await asyncio.sleep(poll_seconds)
