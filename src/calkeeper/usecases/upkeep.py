"""What a running server does off the request path, on every tick of its background task.

- confirm (or reload) the decision cache, so no request waits for it;
- write the sessions that repeat opens started from memory (every tick);
- every few seconds, write the "last used" minutes and grant counts it kept in memory, and free the
  CALs whose quarantine has ended (each audited at the moment it ended), and end the sessions past
  their idle timeout or maximum length (``usecases.session_life``);
- every ``document_scan_seconds``, look at the root folder for documents added, gone or back;
- once a minute, note each pool's CALs in use (the hour's peak) and evaluate the alerts; once an hour,
  fold old usage history into days and forget what is past its retention;
- on their schedules (``Schedules``), reclaim the CALs of inactive users and write a backup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from calkeeper.core.clock import Clock
from calkeeper.core.errors import CalkeeperError
from calkeeper.store.unit_of_work import UnitOfWork
from calkeeper.usecases.access import Access
from calkeeper.usecases.admin import free_ended_quarantines, writing_pending
from calkeeper.usecases.decision_cache import LastUsedWrites
from calkeeper.usecases.documents import Documents
from calkeeper.usecases.grant_tally import GrantTally
from calkeeper.usecases.reclaim import ReclaimSchedule
from calkeeper.usecases.session_life import SessionLife

if TYPE_CHECKING:
    from calkeeper.usecases.alerts import Alerts
    from calkeeper.usecases.maintenance import Maintenance
    from calkeeper.usecases.reclaim import Reclaim
    from calkeeper.usecases.usage_history import UsageHistory

log = logging.getLogger("calkeeper.upkeep")

WRITE_EVERY_SECONDS = 4.0
UPKEEP_ACTOR = "calkeeper"
SCHEDULED_PREFIX = "scheduled-"


@dataclass(frozen=True)
class Operations:
    """The operations work of the upkeep: history, alerts, reclaim and backups on their schedules."""

    history: UsageHistory | None = None
    alerts: Alerts | None = None
    reclaim: Reclaim | None = None
    reclaim_schedule: ReclaimSchedule = field(default_factory=ReclaimSchedule)
    maintenance: Maintenance | None = None
    backups_dir: Path | None = None
    backup_every_hours: float = 0.0
    backup_keep: int = 14
    every_seconds: float = 60.0  # pools noted and alerts evaluated
    roll_up_seconds: float = 3600.0



class Upkeep:
    """The server's periodic work; ``tick`` is called twice per cache refresh period."""

    def __init__(self, *, uow: UnitOfWork, clock: Clock, access: Access, documents: Documents,
                 session_life: SessionLife, last_used: LastUsedWrites, grant_tally: GrantTally,
                 document_scan_seconds: float, write_every_seconds: float = WRITE_EVERY_SECONDS,
                 operations: Operations | None = None) -> None:
        self.uow, self.clock, self.access, self.documents = uow, clock, access, documents
        self.session_life = session_life
        self.last_used, self.grant_tally = last_used, grant_tally
        self.scan_every, self.write_every = document_scan_seconds, write_every_seconds
        self.written_at = self.scanned_at = clock.monotonic()
        self.operations = operations or Operations()
        # the first minute's work runs on the first tick; reclaims and backups wait one period
        self.noted_at = self.rolled_at = self.written_at - 10 ** 9
        self.reclaimed_at = self.backed_up_at = self.written_at

    def tick(self) -> None:
        now = self.clock.monotonic()
        self.access.keep_cache_fresh()
        if self.last_used.sessions:  # sessions granted from memory are written on the next tick
            self.write_deferred(only_due=True)
        if now - self.written_at >= self.write_every:
            self.written_at = now
            self.write_deferred(only_due=True)
            self.free_ended_quarantines()
            self.session_life.end_expired_sessions()
        if now - self.scanned_at >= self.scan_every:
            self.scanned_at = now
            self.documents.scan_documents(actor=UPKEEP_ACTOR)
        self.operate(now)

    def operate(self, now: float) -> None:
        """History, alerts, reclaims and backups when each is due; a failing one does not stop the others."""
        ops = self.operations
        for due, last, work in (
            (ops.every_seconds, "noted_at", self.note_and_alert),
            (ops.roll_up_seconds, "rolled_at", self.roll_up),
            (ops.reclaim_schedule.every_hours * 3600 if ops.reclaim_schedule.inactive_days else 0, "reclaimed_at",
             self.scheduled_reclaim),
            (ops.backup_every_hours * 3600, "backed_up_at", self.scheduled_backup),
        ):
            if due > 0 and now - getattr(self, last) >= due:
                setattr(self, last, now)
                try:
                    work()
                except (CalkeeperError, OSError) as error:
                    log.error("the upkeep's %s failed: %s", work.__name__.replace("_", " "), error)

    def note_and_alert(self) -> None:
        if self.operations.history is not None:
            self.write_deferred()  # grants counted in memory join the history first
            self.operations.history.note_pools()
        if self.operations.alerts is not None:
            self.operations.alerts.evaluate()

    def roll_up(self) -> None:
        if self.operations.history is not None:
            self.operations.history.roll_up()

    def scheduled_reclaim(self) -> None:
        ops = self.operations
        if ops.reclaim is not None:
            report = ops.reclaim.reclaim(inactive_days=ops.reclaim_schedule.inactive_days,
                                         cal_type=ops.reclaim_schedule.cal_type, actor=UPKEEP_ACTOR)
            if report.entries:
                log.info("reclaimed %d CALs unused for %d days", len(report.entries), report.inactive_days)

    def scheduled_backup(self) -> Path | None:
        """Write a backup into the backups folder and keep only the newest ``backup_keep`` scheduled ones."""
        ops = self.operations
        if ops.maintenance is None or ops.backups_dir is None:
            return None
        ops.backups_dir.mkdir(parents=True, exist_ok=True)
        target = ops.backups_dir / f"{SCHEDULED_PREFIX}{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json"
        ops.maintenance.backup(target, actor=UPKEEP_ACTOR)
        for old in sorted(ops.backups_dir.glob(f"{SCHEDULED_PREFIX}*.json"), reverse=True)[ops.backup_keep:]:
            old.unlink(missing_ok=True)
        return target

    def free_ended_quarantines(self) -> None:
        """Free the CALs whose quarantine has ended, and un-count the Session and Usage CALs whose time passed,
        without waiting for an admin's next change or a claim that finds its pool full."""
        with self.uow.read() as tx:
            quarantines, times = tx.claims.any_ended_quarantine(), tx.claims.any_time_passed()
        if quarantines:
            with self.uow.write() as tx:
                free_ended_quarantines(tx)
        if times:
            with self.uow.write() as tx:
                tx.claims.sweep_passed_times()

    def write_deferred(self, *, only_due: bool = False) -> None:
        """Write deferred "last used" minutes, and the grant counts (when a minute has passed, or always)."""
        flush = self.grant_tally.due() or not only_due
        if not self.last_used.any() and not flush:
            return
        with writing_pending(self.uow, self.last_used) as tx:
            if flush:
                self.grant_tally.flush(tx)
