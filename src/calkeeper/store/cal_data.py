"""The site's data as a whole: a backup's content, restoring one, and clearing CAL data."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, update

from calkeeper.store import backup, counters
from calkeeper.store.claims import doc_t, doccal_t, named_t, session_cal_t, session_t, usage_t
from calkeeper.store.directory import rule_cals_t
from calkeeper.store.leases import lease_t
from calkeeper.store.site_state import bump_generation


def clear_cal_data(connection: Connection, *, now: datetime, actor: str = "clear") -> dict[str, int]:
    """Remove every assignment, allocation, quarantine, session and usage record, and end every license
    lease (its history stays); return how many of each.

    Group rules stay (they are configuration); the record of which CAL each rule gave goes with the CALs,
    so the next sync gives every member a CAL again as far as CALs last.
    """
    counts = {}
    connection.execute(delete(rule_cals_t))
    for name, table in (("sessions", session_t), ("session_cals", session_cal_t), ("usage_cals", usage_t),
                        ("document_cals", doccal_t), ("named_cals", named_t)):
        counts[name] = connection.execute(delete(table)).rowcount
    counts["document_allocations"] = connection.execute(
        update(doc_t).where(doc_t.c.cals_allocated > 0).values(cals_allocated=0)
    ).rowcount
    counts["license_leases"] = connection.execute(
        update(lease_t).where(lease_t.c.ended_at.is_(None))
        .values(ended_at=now, end_reason="cal_data_cleared", ended_by=actor)
    ).rowcount
    counters.zero(connection)
    bump_generation(connection)
    return counts


class SiteData:
    """The whole of a site's data, in one transaction."""

    def __init__(self, connection: Connection, now: datetime, *, postgres: bool) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres

    def dump(self) -> dict[str, Any]:
        """Every table but the audit trail, as a backup's JSON-ready content."""
        return backup.dump(self.connection)

    def load(self, tables: backup.Rows) -> dict[str, int]:
        """Replace the site's data with a checked backup's rows; how many rows of each table.

        The pool counters are counted anew from the rows loaded: a backup never says what they are.
        """
        counts = backup.load(self.connection, tables)
        counters.recount(self.connection, now=self.now)
        return counts

    def moved_rows(self) -> backup.Rows:
        """The rows a move carries beyond a backup: audit trail, API tokens, console users, counts, deliveries."""
        return backup.read_moved(self.connection)

    def add_moved(self, tables: backup.Rows) -> dict[str, int]:
        """Insert the rows another database's ``moved_rows`` gave; how many of each table."""
        return backup.add_moved(self.connection, tables)

    def row_counts(self) -> dict[str, int]:
        """The rows of every table a backup or a move holds."""
        return backup.count_rows(self.connection)

    def counters(self) -> dict[str, int]:
        """Every pool counter (and each document's), as it stands."""
        return counters.read(self.connection)

    def counter_drift(self) -> dict[str, tuple[int, int]]:
        """The pool counters that disagree with their rows (none, unless something is wrong)."""
        return counters.drift(self.connection)

    def reset_ids(self) -> None:
        """Start new ids after the restored ones (PostgreSQL's sequences; SQLite needs nothing)."""
        if self.postgres:
            backup.reset_ids(self.connection)

    def clear_cal_data(self, *, actor: str = "clear") -> dict[str, int]:
        """Remove every assignment, allocation, quarantine, session and usage record; end every lease."""
        return clear_cal_data(self.connection, now=self.now, actor=actor)
