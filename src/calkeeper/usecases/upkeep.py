"""What a running server does off the request path, on every tick of its background task.

- confirm (or reload) the decision cache, so no request waits for it;
- every few seconds, write the "last used" minutes and grant counts it kept in memory;
- every ``document_scan_seconds``, look at the root folder for documents added, gone or back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from calkeeper.usecases.admin import write_pending_last_used

if TYPE_CHECKING:
    from calkeeper.bootstrap import Application

WRITE_EVERY_SECONDS = 4.0
UPKEEP_ACTOR = "calkeeper"


class Upkeep:
    """The server's periodic work; ``tick`` is called twice per cache refresh period."""

    def __init__(self, app: Application, *, document_scan_seconds: float,
                 write_every_seconds: float = WRITE_EVERY_SECONDS) -> None:
        self.app = app
        self.scan_every, self.write_every = document_scan_seconds, write_every_seconds
        started = app.clock.monotonic()
        self.written_at = self.scanned_at = started

    def tick(self) -> None:
        app, now = self.app, self.app.clock.monotonic()
        app.access.keep_cache_fresh()
        if now - self.written_at >= self.write_every:
            self.written_at = now
            self.write_deferred(only_due=True)
        if now - self.scanned_at >= self.scan_every:
            self.scanned_at = now
            app.documents.scan_documents(actor=UPKEEP_ACTOR)

    def write_deferred(self, *, only_due: bool = False) -> None:
        """Write deferred "last used" minutes, and the grant counts (when a minute has passed, or always)."""
        app = self.app
        flush = app.grant_tally.due() or not only_due
        if not app.last_used.pending and not flush:
            return
        with app.uow.write() as tx:
            write_pending_last_used(tx, app.last_used)
            if flush:
                app.grant_tally.flush(tx)
