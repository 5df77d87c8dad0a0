"""Use cases that act on the CAL data as a whole: backup, restore, clearing it; and the audit trail."""

from __future__ import annotations

import json
from pathlib import Path

from calkeeper.contract.views import AuditView, ClearOutcome
from calkeeper.core.cals import CalType
from calkeeper.core.errors import InMaintenance
from calkeeper.services.base import SiteBase
from calkeeper.store import backup as backups


class MaintenanceUseCases(SiteBase):
    def backup(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        """Write every setting, license, document and CAL record to a JSON file (the audit trail stays)."""
        target = Path(path)
        self.write_deferred_last_used()
        with self.uow(write=False) as tx:
            content = backups.dump(tx.connection)
        content["created_at"] = self.clock.now().isoformat()
        backups.write_file(target, content)
        with self.uow(write=True) as tx:
            tx.records.audit(self.actor_or_default(actor), "data.backed_up", str(target))
        return {name: len(rows) for name, rows in content["tables"].items()}

    def restore(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        """Replace the site's data with a backup, in one transaction; a bad file changes nothing."""
        source = Path(path)
        content = backups.read_file(source)
        with self.change() as tx:
            for cal_type in CalType:
                tx.claims.lock_pool(cal_type)
            counts = backups.load(tx.connection, content, postgres=tx.claims.postgres)
            tx.records.audit(self.actor_or_default(actor), "data.restored", str(source), rows=counts)
            return counts

    def clear_cal_data(self, *, backup_to: str | Path, actor: str | None = None) -> ClearOutcome:
        """Remove every CAL assignment, allocation, quarantine, session and usage record.

        The license, documents, their other settings, users and configuration stay. The server is put
        in maintenance (opens are refused meanwhile) and a backup is written first.
        """
        actor = self.actor_or_default(actor)
        with self.change() as tx:
            if tx.records.state()["maintenance"]:
                raise InMaintenance("the CAL server is already in maintenance; try again when it is done")
            tx.records.update_state(maintenance=True)
            tx.records.audit(actor, "maintenance.started", "server", reason="clear CAL data")
        try:
            self.backup(backup_to, actor=actor)
            with self.change() as tx:
                removed = tx.records.clear_cal_data()
                tx.records.update_state(maintenance=False)
                tx.records.audit(actor, "cal_data.cleared", "server", backup=str(backup_to), removed=removed)
        except BaseException:
            with self.change() as tx:
                tx.records.update_state(maintenance=False)
                tx.records.audit(actor, "maintenance.ended", "server", outcome="clearing CAL data failed")
            raise
        return ClearOutcome(str(backup_to), removed)

    def sweep(self) -> None:
        """Free CALs whose quarantine has ended (each is recorded in the audit trail)."""
        with self.change() as tx:
            del tx

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        """The newest entries of the audit trail: who changed what, when."""
        with self.uow(write=False) as tx:
            rows = tx.records.audit_entries(limit=limit, action=action, target=target)
        return [AuditView(r["id"], r["at"], r["actor"], r["action"], r["target"], json.loads(r["details"]))
                for r in rows]

    def denials(self, *, limit: int = 100) -> list[dict[str, object]]:
        """The newest refused opens: who, when, what, why."""
        with self.uow(write=False) as tx:
            return [dict(r) for r in tx.records.denials(limit=limit)]
