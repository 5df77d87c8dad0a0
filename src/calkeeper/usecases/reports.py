"""What happened: the audit trail, refused opens, and grants per hour for the dashboard."""

from __future__ import annotations

from datetime import datetime, timedelta

from calkeeper.contract.views import AuditView, DenialView
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.grant_tally import GrantTally, grants_per_hour


class Reports:
    """History an admin reads."""

    def __init__(self, *, admin: AdminTransactions, grant_tally: GrantTally) -> None:
        self.admin = admin
        self.grant_tally = grant_tally

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        """The newest entries of the audit trail: who changed what, when."""
        with self.admin.uow.read() as tx:
            return tx.history.audit_entries(limit=limit, action=action, target=target)

    def audit_page(self, *, action: str = "", target: str = "", document: str = "", since: datetime | None = None,
                   until: datetime | None = None, limit: int = 50, offset: int = 0) -> tuple[list[AuditView], int]:
        """A page of the audit trail narrowed by action, user or target, document (with the CAL events on it)
        and time, newest first; and how many entries it holds."""
        with self.admin.uow.read() as tx:
            return tx.history.audit_page(action=action, target=target, document=document, since=since, until=until,
                                         limit=limit, offset=offset)

    def audit_actions(self) -> list[str]:
        """The actions the audit trail holds, for its filter."""
        with self.admin.uow.read() as tx:
            return tx.history.audit_actions()

    def denial_count(self) -> int:
        """How many refused opens are recorded."""
        with self.admin.uow.read() as tx:
            return tx.history.denial_count()

    def denials(self, *, limit: int = 100) -> list[DenialView]:
        """The newest refused opens: who, when, what, why."""
        with self.admin.uow.read() as tx:
            return tx.history.denials(limit=limit)

    def flush_grant_counts(self) -> None:
        """Write the grants counted in memory since the last write (the dashboard's chart reads them)."""
        with self.admin.uow.write() as tx:
            self.grant_tally.flush(tx)

    def grant_history(self, *, hours: int = 24) -> dict[str, list[tuple[datetime, int]]]:
        """Grants per hour and CAL type over the last hours (this node's unwritten counts included)."""
        with self.admin.uow.write() as tx:
            self.grant_tally.flush(tx)
            return grants_per_hour(tx, since=tx.now - timedelta(hours=hours - 1))
