"""What a running server does off the request path, on every tick of its background task.

- confirm (or reload) the decision cache, so no request waits for it;
- write the sessions that repeat opens started from memory (every tick);
- every few seconds, write the "last used" minutes and grant counts it kept in memory, and free the
  CALs whose quarantine has ended (each audited at the moment it ended), and end the sessions past
  their idle timeout or maximum length (``usecases.session_life``);
- every ``document_scan_seconds``, look at the root folder for documents added, gone or back.
"""

from __future__ import annotations

from calkeeper.core.clock import Clock
from calkeeper.store.unit_of_work import UnitOfWork
from calkeeper.usecases.access import Access
from calkeeper.usecases.admin import free_ended_quarantines, write_pending_last_used
from calkeeper.usecases.decision_cache import LastUsedWrites
from calkeeper.usecases.documents import Documents
from calkeeper.usecases.grant_tally import GrantTally
from calkeeper.usecases.session_life import SessionLife

WRITE_EVERY_SECONDS = 4.0
UPKEEP_ACTOR = "calkeeper"


class Upkeep:
    """The server's periodic work; ``tick`` is called twice per cache refresh period."""

    def __init__(self, *, uow: UnitOfWork, clock: Clock, access: Access, documents: Documents,
                 session_life: SessionLife, last_used: LastUsedWrites, grant_tally: GrantTally,
                 document_scan_seconds: float, write_every_seconds: float = WRITE_EVERY_SECONDS) -> None:
        self.uow, self.clock, self.access, self.documents = uow, clock, access, documents
        self.session_life = session_life
        self.last_used, self.grant_tally = last_used, grant_tally
        self.scan_every, self.write_every = document_scan_seconds, write_every_seconds
        self.written_at = self.scanned_at = clock.monotonic()

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
        with self.uow.write() as tx:
            write_pending_last_used(tx, self.last_used)
            if flush:
                self.grant_tally.flush(tx)
