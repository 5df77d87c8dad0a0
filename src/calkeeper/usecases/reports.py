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
