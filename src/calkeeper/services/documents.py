"""Use cases for documents and their Document CALs (the console's Documents > Document CALs tab)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import RowMapping

from calkeeper.contract.views import AssignedCal, AssignOutcome, DocumentView, RemovalOutcome
from calkeeper.core.allocation import DocumentInfo
from calkeeper.core.cals import CalType, quarantine_end
from calkeeper.core.errors import (
    AllocationRefused,
    InvalidInput,
    NoCalAvailable,
    NoLicense,
    NotQuarantined,
    UnknownDocument,
    UnknownUser,
)
from calkeeper.core.identities import Identity, parse_identity_list
from calkeeper.services.base import SiteBase, assigned_cal
from calkeeper.store.claims import doccal_t
from calkeeper.store.unit_of_work import Transaction

DOCUMENT_SUFFIXES = {".qvw", ".qvf"}


def find_documents(root: Path) -> list[str]:
    """Every document under the root folder (and folders mounted under it), as relative POSIX paths."""
    if not root.is_dir():
        return []
    found = []
    for path in root.rglob("*"):
        if path.suffix.lower() in DOCUMENT_SUFFIXES and path.is_file() and not path.name.startswith("."):
            found.append(path.relative_to(root).as_posix())
    return sorted(found)


def document_info(row: RowMapping) -> DocumentInfo:
    return DocumentInfo(
        id=row["id"], path=row["path"], allow_dynamic_assignment=bool(row["allow_dynamic_assignment"]),
        cals_allocated=row["cals_allocated"], missing=row["missing_since"] is not None,
    )


def match_document(rows: list[RowMapping], name: str) -> RowMapping:
    """Find a document by its path, case-insensitively; the extension and folders may be left out."""
    key = name.strip().replace("\\", "/").casefold()
    for test in (
        lambda r: r["path_key"] == key,
        lambda r: r["path_key"].rsplit(".", 1)[0] == key,
        lambda r: r["path_key"].rsplit("/", 1)[-1] in {key, *(key + s for s in DOCUMENT_SUFFIXES)},
    ):
        hits = [r for r in rows if test(r)]
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise UnknownDocument(
                f"'{name}' matches several documents ({', '.join(r['path'] for r in hits)}); give the full path"
            )
    known = ", ".join(r["path"] for r in rows) or "none"
    raise UnknownDocument(f"unknown document '{name}': it is not in the root folder (documents: {known})")


class DocumentUseCases(SiteBase):
    def scan_documents(self, *, actor: str | None = None) -> list[DocumentView]:
        """Bring the document list in line with the root folder; documents that went missing are flagged."""
        if self.root_folder is not None:
            on_disk = {p.casefold(): p for p in find_documents(self.root_folder)}
            with self.uow(write=False) as tx:
                rows = tx.records.documents()
            known = {r["path_key"]: r for r in rows}
            stale = (set(on_disk) != set(known)) or any(
                (r["missing_since"] is None) != (k in on_disk) for k, r in known.items()
            )
            if stale:
                with self.change() as tx:
                    self._sync(tx, on_disk, actor)
        return self.list_documents(scan=False)

    def _sync(self, tx: Transaction, on_disk: dict[str, str], actor: str | None) -> None:
        actor = self.actor_or_default(actor)
        rows = {r["path_key"]: r for r in tx.records.documents()}
        for key, path in on_disk.items():
            row = rows.get(key)
            if row is None:
                tx.records.add_document(path)
                tx.records.audit(actor, "document.found", path)
            elif row["missing_since"] is not None:
                tx.records.update_document(row["id"], missing_since=None)
                tx.records.audit(actor, "document.returned", path)
        for key, row in rows.items():
            if key not in on_disk and row["missing_since"] is None:
                tx.records.update_document(row["id"], missing_since=tx.now)
                tx.records.audit(actor, "document.missing", row["path"], cals_kept=row["cals_assigned"])
        tx.records.update_state()

    def list_documents(self, *, scan: bool = True) -> list[DocumentView]:
        """The documents of the root folder with their allocation; missing ones are flagged."""
        if scan and self.root_folder is not None:
            return self.scan_documents()
        with self.uow(write=False) as tx:
            rows = tx.records.documents()
        return [
            DocumentView(r["path"], r["cals_allocated"], r["cals_assigned"], bool(r["allow_dynamic_assignment"]),
                         r["missing_since"])
            for r in rows
        ]

    def _document(self, tx: Transaction, name: str) -> RowMapping:
        return match_document(tx.records.documents(), name)

    def _scan_if_unknown(self, document: str) -> None:
        """A document the admin names that is not known yet may be new in the root folder: look again."""
        if self.root_folder is None:
            return
        with self.uow(write=False) as tx:
            try:
                self._document(tx, document)
                return
            except UnknownDocument:
                pass
        self.scan_documents()

    def set_document_allocation(self, document: str, cals: int, *, actor: str | None = None) -> DocumentView:
        """Set "Number of CALs allocated to this Document" within the pool and above what is assigned."""
        if cals < 0:
            raise InvalidInput(f"the number of CALs allocated to a document cannot be negative (got {cals})")
        self._scan_if_unknown(document)
        with self.change() as tx:
            tx.claims.lock_pool(CalType.DOCUMENT)
            row = self._document(tx, document)
            tx.claims.lock_document(row["id"])
            row = self._document(tx, document)
            terms = self.terms(tx)
            in_license = terms.in_license(CalType.DOCUMENT) if terms else 0
            others = sum(r["cals_allocated"] for r in tx.records.documents() if r["id"] != row["id"])
            if cals > row["cals_allocated"] and others + cals > in_license:
                raise AllocationRefused(
                    f"only {max(0, in_license - others)} Document CALs can be allocated to {row['path']} "
                    f"({in_license} in license, {others} allocated to other documents)",
                    details={"unallocated": max(0, in_license - others)},
                )
            if cals < row["cals_assigned"]:
                raise AllocationRefused(
                    f"{row['cals_assigned']} Document CALs of {row['path']} are assigned (or quarantined); "
                    f"the allocation cannot drop below that"
                )
            tx.records.update_document(row["id"], cals_allocated=cals)
            tx.records.audit(self.actor_or_default(actor), "document.allocation_changed", row["path"],
                             before=row["cals_allocated"], after=cals)
        return self._view(document)

    def set_document_dynamic(self, document: str, allow: bool, *, actor: str | None = None) -> DocumentView:
        """Turn the document's "Allow dynamic CAL assignment" on or off."""
        self._scan_if_unknown(document)
        with self.change() as tx:
            row = self._document(tx, document)
            tx.records.update_document(row["id"], allow_dynamic_assignment=allow)
            tx.records.audit(self.actor_or_default(actor), "document.dynamic_changed", row["path"], allow=allow)
        return self._view(document)

    def document(self, document: str) -> DocumentView:
        """One document by name (matched as the access gate matches it), looking at the root folder again
        when the name is not known yet."""
        try:
            return self._view(document)
        except UnknownDocument:
            if self.root_folder is None:
                raise
            self.scan_documents()
            return self._view(document)

    def _view(self, document: str) -> DocumentView:
        with self.uow(write=False) as tx:
            r = self._document(tx, document)
        return DocumentView(r["path"], r["cals_allocated"], r["cals_assigned"], bool(r["allow_dynamic_assignment"]),
                            r["missing_since"])

    def assign_document_cals(
        self, document: str, users: str | list[str], *, actor: str | None = None
    ) -> list[AssignOutcome]:
        """Assign Document CALs for one document out of its allocation; all or nothing."""
        actor = self.actor_or_default(actor)
        self._scan_if_unknown(document)
        with self.change() as tx:
            identities = parse_identity_list(users)
            row = self._document(tx, document)
            terms = self.terms(tx)
            if terms is None:
                raise NoLicense("no license is in force: apply the server license before assigning CALs")
            info = document_info(row)
            names = tx.records.remember_users(identities)
            outcomes: list[AssignOutcome] = []
            for identity in identities:
                identity = Identity(names[identity.key], identity.key, "user")
                held = tx.records.document_cal_row(row["id"], identity)
                if held is not None and held["quarantined_until"] and held["quarantined_until"] > tx.now:
                    tx.records.unmark_removed(doccal_t, held["id"])
                    tx.records.audit(actor, "document_cal.restored", identity.name, document=row["path"])
                    outcomes.append(AssignOutcome(identity.name, "restored"))
                    continue
                if held is not None and held["removed_at"] is None:
                    outcomes.append(AssignOutcome(identity.name, "already assigned"))
                    continue
                claimed = tx.claims.claim_document_cal(
                    identity, info, in_license=terms.in_license(CalType.DOCUMENT), source="manual"
                )
                if claimed is None:
                    raise NoCalAvailable(
                        f"not enough Document CALs for {row['path']}: {row['cals_allocated']} allocated, "
                        f"{row['cals_assigned']} already assigned, the list needs more; raise the number of "
                        "CALs allocated to this document. Nothing was assigned",
                        details={"allocated": row["cals_allocated"], "assigned": row["cals_assigned"]},
                    )
                tx.records.audit(actor, "document_cal.assigned", identity.name, document=row["path"], source="manual")
                outcomes.append(AssignOutcome(identity.name, "assigned"))
            self.audit_freed(tx)
            return outcomes

    def remove_document_cals(
        self, document: str, users: str | list[str], *, actor: str | None = None
    ) -> list[RemovalOutcome]:
        """Remove Document CALs: freed at once, or quarantined until last used + 7 days."""
        with self.change() as tx:
            row = self._document(tx, document)
            return self._remove_document_in(tx, row, parse_identity_list(users), self.actor_or_default(actor))

    def restore_document_cals(
        self, document: str, users: str | list[str], *, actor: str | None = None
    ) -> list[AssignOutcome]:
        """Undo Document CAL removals while their quarantine lasts."""
        with self.change() as tx:
            row = self._document(tx, document)
            return self._restore_document_in(tx, row, parse_identity_list(users), self.actor_or_default(actor))

    def apply_document_changes(
        self, document: str, *, remove: list[str], restore: list[str], actor: str | None = None
    ) -> tuple[list[RemovalOutcome], list[AssignOutcome]]:
        """The console's Apply on a document: staged removals and restores in one transaction."""
        with self.change() as tx:
            row = self._document(tx, document)
            actor = self.actor_or_default(actor)
            restored = self._restore_document_in(tx, row, parse_identity_list(restore), actor) if restore else []
            removed = self._remove_document_in(tx, row, parse_identity_list(remove), actor) if remove else []
            return removed, restored

    def _remove_document_in(self, tx: Transaction, row: RowMapping, identities: list[Identity],
                   actor: str) -> list[RemovalOutcome]:
        outcomes = []
        for identity in identities:
            held = tx.records.document_cal_row(row["id"], identity)
            if held is None:
                raise UnknownUser(f"{identity.name} holds no Document CAL for {row['path']}; nothing was removed")
            if held["removed_at"] is not None:
                outcomes.append(RemovalOutcome(held["user_name"], "quarantined", held["quarantined_until"],
                                               row["path"]))
                continue
            until = quarantine_end(held["last_used"], tx.now)
            tx.records.mark_removed(doccal_t, held["id"], until)
            outcome = "quarantined" if until else "freed"
            tx.records.audit(actor, f"document_cal.{outcome}", held["user_name"], document=row["path"],
                             last_used=held["last_used"], quarantined_until=until)
            outcomes.append(RemovalOutcome(held["user_name"], outcome, until, row["path"]))
        return outcomes

    def _restore_document_in(self, tx: Transaction, row: RowMapping, identities: list[Identity],
                    actor: str) -> list[AssignOutcome]:
        outcomes = []
        for identity in identities:
            held = tx.records.document_cal_row(row["id"], identity)
            if held is None or held["removed_at"] is None:
                state = "holds no Document CAL" if held is None else "is not marked for removal"
                raise NotQuarantined(f"{identity.name} {state} for {row['path']}; there is nothing to restore")
            tx.records.unmark_removed(doccal_t, held["id"])
            tx.records.audit(actor, "document_cal.restored", held["user_name"], document=row["path"])
            outcomes.append(AssignOutcome(held["user_name"], "restored"))
        return outcomes

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        """The users holding Document CALs for a document, quarantined ones included."""
        self._scan_if_unknown(document)
        self.write_deferred_last_used()
        with self.uow(write=False) as tx:
            row = self._document(tx, document)
            return [assigned_cal(r, document=row["path"]) for r in tx.records.list_document_cals(row["id"])]

    def release_missing_document(self, document: str, *, actor: str | None = None) -> dict[str, int | str]:
        """Release the CALs of a document that went missing from the root folder, and forget it."""
        self._scan_if_unknown(document)
        with self.change() as tx:
            row = self._document(tx, document)
            if row["missing_since"] is None:
                raise InvalidInput(f"{row['path']} is still in the root folder; only missing documents are released")
            tx.records.delete_document(row["id"])
            tx.records.audit(self.actor_or_default(actor), "document.released", row["path"],
                             cals_released=row["cals_assigned"], cals_allocated=row["cals_allocated"])
            return {"document": row["path"], "cals_released": row["cals_assigned"]}
