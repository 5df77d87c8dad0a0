"""CAL data as a whole: backup, restore, clearing it (the seed's "delete CalData.pgo"), freeing quarantines."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.contract.views import BackupFileView, ClearOutcome
from calkeeper.core.cals import CalType
from calkeeper.core.clock import Clock
from calkeeper.core.errors import BackupError, InMaintenance, LicenseRejected
from calkeeper.core.license import LicenseTerms, check_license, check_recorded_license
from calkeeper.store import backup as backups
from calkeeper.store.backup_rows import check_rows, check_unlicensed, license_row, rekeyed
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions, writing_pending

# What each pool holds, as a refused restore names it.
HELD = {CalType.NAMED: "Named CALs", CalType.DOCUMENT: "Document CALs", CalType.SESSION: "Session CALs in use",
        CalType.USAGE: "Usage CALs in use"}


# What a backup's listing says it holds, table by table.
HOLDS = {"named_cals": "Named CALs", "document_cals": "Document CALs", "session_cals": "Session CALs",
         "usage_cals": "Usage CALs", "documents": "documents", "users": "users", "sessions": "sessions",
         "license_leases": "leases", "directory_users": "directory users", "licenses": "licenses"}


def list_backups(folder: Path, *, limit: int = 20) -> list[BackupFileView]:
    """The newest backups in a folder with their size and what each says it holds (read from its head only)."""
    if not folder.exists():
        return []
    found = []
    for path in folder.glob("*.json"):
        try:
            stat = path.stat()
        except OSError:
            continue  # removed meanwhile (the upkeep keeps the newest only)
        found.append((stat.st_mtime, path, stat.st_size))
    found.sort(key=lambda item: item[0], reverse=True)
    return [BackupFileView(path.name, datetime.fromtimestamp(mtime, UTC), size, backups.read_summary(path))
            for mtime, path, size in found[:limit]]


class Maintenance:
    """Backups, restores and clearing CAL data."""

    def __init__(self, *, admin: AdminTransactions, clock: Clock,
                 trusted_keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.admin = admin
        self.clock = clock
        self.trusted_keys = dict(trusted_keys)  # the authority's pinned keys, as "Apply license" uses them

    def backup(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        """Write every setting, license, document and CAL record to a JSON file (the audit trail stays)."""
        target = Path(path)
        if self.admin.last_used.any():
            with writing_pending(self.admin.uow, self.admin.last_used):
                pass
        with self.admin.uow.snapshot() as tx:  # consistent while the server goes on serving
            content = tx.site_data.dump()
        content["created_at"] = self.clock.now().isoformat()
        backups.write_file(target, content)
        with self.admin.uow.write() as tx:
            tx.history.audit(self.admin.actor(actor), "data.backed_up", str(target))
        return {name: len(rows) for name, rows in content["tables"].items()}

    def backup_summary(self, path: str | Path) -> dict[str, int]:
        """How many rows each table of a backup holds, after the checks of the file a restore makes first;
        nothing is written."""
        return {name: len(rows) for name, rows in backups.read_file(Path(path)).tables.items()}

    def restore(self, path: str | Path, *, actor: str | None = None,
                moved: backups.Rows | None = None) -> dict[str, int]:
        """Replace the site's data with a backup, in one transaction; a bad file changes nothing.

        Before anything is written: the file must be the one written (its digest), every license in it
        must pass the license checks against this server's pinned keys (the one in force as "Apply
        license" checks it now, older ones as they were checked when applied; the terms come from the
        LEF), and every row must hold what live input could. Once the rows are in, no pool may be over
        the license, or the transaction is rolled back. ``moved``: the rows a move to this database carries
        beyond the backup (``SiteData.moved_rows`` of the site moved), inserted in the same transaction.
        """
        source = Path(path)
        backup = backups.read_file(source)
        licenses, in_force = self._checked_licenses(backup.tables["licenses"])
        rows = backup.tables if backup.version >= backups.KEYED_AS_WINDOWS else rekeyed(backup.tables)
        check_rows(rows)
        check_unlicensed(rows)
        tables = {**rows, "licenses": licenses}
        with self.admin.change() as tx:
            for cal_type in CalType:
                tx.claims.lock_pool(cal_type)
            counts = tx.site_data.load(tables)
            _refuse_over_license(tx, in_force)
            if moved is not None:
                counts |= tx.site_data.add_moved(moved)
            tx.site_data.reset_ids()
            tx.history.audit(self.admin.actor(actor), "data.restored", str(source), rows=counts,
                             digest="checked" if backup.sealed else "none: a version 1 backup has no digest")
            return counts

    def snapshot_for_move(self, path: Path) -> tuple[dict[str, int], backups.Rows, dict[str, int]]:
        """Write a backup to ``path`` and read what a move carries besides, all as of one moment: the backup's
        rows per table, the other tables' rows, and the pool counters."""
        if self.admin.last_used.any():
            with writing_pending(self.admin.uow, self.admin.last_used):
                pass
        with self.admin.uow.snapshot() as tx:
            content = tx.site_data.dump()
            moved, counters = tx.site_data.moved_rows(), tx.site_data.counters()
        content["created_at"] = self.clock.now().isoformat()
        backups.write_file(path, content)
        return {name: len(rows) for name, rows in content["tables"].items()}, moved, counters

    def _checked_licenses(self, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], LicenseTerms | None]:
        """The backup's license rows as their LEFs say, oldest first, and the terms of the one in force."""
        rows = sorted(rows, key=lambda row: int(row["id"]))
        checked, terms = [], None
        for row in rows:
            given = {k: row[k] for k in ("serial", "control", "owner", "organization", "lef_text")}
            in_force = row is rows[-1]
            try:
                if in_force:
                    terms = check_license(**given, trusted_keys=self.trusted_keys, now=self.clock.now())
                else:
                    terms = check_recorded_license(**given, trusted_keys=self.trusted_keys,
                                                   applied_at=row["applied_at"])
            except LicenseRejected as error:
                which = "license in force" if in_force else f"license applied on {row['applied_at']:%Y-%m-%d}"
                raise LicenseRejected(f"nothing was restored: the backup's {which} fails the license checks: "
                                      f"{error.message}", code=error.code, details=error.details) from None
            checked.append(license_row(row, terms))
        return checked, terms

    def clear_cal_data(self, *, backup_to: str | Path, actor: str | None = None) -> ClearOutcome:
        """Remove every CAL assignment, allocation, quarantine, session and usage record, and end every lease.

        The license, documents, their other settings, users and configuration stay. Three steps, each
        its own transaction: the server goes into maintenance (opens are refused meanwhile), a backup
        is written, then the data is cleared and maintenance ends; a failure ends maintenance too.
        """
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            if tx.site_state.get().maintenance:
                raise InMaintenance("the CAL server is already in maintenance; try again when it is done")
            tx.site_state.update(maintenance=True)
            tx.history.audit(actor, "maintenance.started", "server", reason="clear CAL data")
        try:
            self.backup(backup_to, actor=actor)
            with self.admin.change() as tx:
                removed = tx.site_data.clear_cal_data(actor=actor)
                tx.site_state.update(maintenance=False)
                tx.history.audit(actor, "cal_data.cleared", "server", backup=str(backup_to), removed=removed)
        except BaseException:
            with self.admin.change() as tx:
                tx.site_state.update(maintenance=False)
                tx.history.audit(actor, "maintenance.ended", "server", outcome="clearing CAL data failed")
            raise
        return ClearOutcome(str(backup_to), removed)

    def sweep(self) -> None:
        """Free CALs whose quarantine has ended (each is recorded in the audit trail), and un-count the Session
        and Usage CALs whose time has passed."""
        with self.admin.change() as tx:  # the admin transaction frees ended quarantines before anything else
            tx.claims.sweep_passed_times()


def _refuse_over_license(tx: Transaction, terms: LicenseTerms | None) -> None:
    """Refuse restored rows that hold more CALs than the license: in a pool, allocated, or on a document."""
    pools = tx.assignments.pools(terms)
    over = [f"{pool.assigned} {HELD[cal_type]}, the license allows {pool.in_license}"
            for cal_type, pool in pools.items() if pool.assigned > pool.in_license]
    documents = pools[CalType.DOCUMENT]
    if (documents.allocated or 0) > documents.in_license:
        over.append(f"{documents.allocated} Document CALs allocated to documents, the license allows "
                    f"{documents.in_license}")
    over += [f"{d.cals_assigned} Document CALs for {d.path}, which has {d.cals_allocated} allocated"
             for d in tx.documents.all() if d.cals_assigned > d.cals_allocated]
    if over:
        raise BackupError(f"nothing was restored: the backup holds {'; '.join(over)}. A restore never puts the "
                          "site over its license", code="backup_over_license")
