"""Documents: discovering them in the root folder, their settings, releasing missing ones.

Documents are discovered when an admin lists them or names one the site does not know yet, and by
the server's upkeep every ``document_scan_seconds``; never on the access gate's request path. A file
added to the root folder can therefore be opened at most that long after it appears. A file that
cannot be served (see ``calkeeper.core.documents.sort_out_documents``) is skipped, and reported by
``document_problems``: it never stops the others from being discovered.
"""

from __future__ import annotations

from calkeeper.contract.views import DocumentView, ReleaseOutcome
from calkeeper.core.cals import CalType
from calkeeper.core.documents import (
    DocumentProblem,
    DocumentRecord,
    RootFolderContents,
    document_key,
    documents_changed,
    match_document,
    sort_out_documents,
)
from calkeeper.core.errors import AllocationRefused, InvalidInput, UnknownDocument
from calkeeper.store.root_folder import RootFolder
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions


def document_view(d: DocumentRecord) -> DocumentView:
    return DocumentView(d.path, d.cals_allocated, d.cals_assigned, d.allow_dynamic_assignment, d.missing_since)


class Documents:
    """The documents of the root folder and their settings."""

    def __init__(self, *, admin: AdminTransactions, root_folder: RootFolder | None) -> None:
        self.admin = admin
        self.root_folder = root_folder

    # -- discovery ---------------------------------------------------------------------------------

    def scan_documents(self, *, actor: str | None = None) -> list[DocumentView]:
        """Bring the document list in line with the root folder; documents that went missing are flagged."""
        if self.root_folder is not None:
            with self.admin.uow.read() as tx:
                known = tx.documents.all()
            on_disk = self._contents(known).served
            if documents_changed(on_disk, known):
                with self.admin.change() as tx:
                    self._sync(tx, on_disk, self.admin.actor(actor))
        return self.list_documents(scan=False)

    def _contents(self, known: list[DocumentRecord]) -> RootFolderContents:
        """The document files on disk, sorted out into those served and those that cannot be."""
        assert self.root_folder is not None
        on_disk, folder_problems = self.root_folder.scan()
        contents = sort_out_documents(on_disk, known=[d.path for d in known])
        return RootFolderContents(contents.served, [*folder_problems, *contents.problems])

    def _sync(self, tx: Transaction, on_disk: list[str], actor: str) -> None:
        known = {d.key: d for d in tx.documents.all()}
        found = {document_key(p): p for p in on_disk}
        for key, path in found.items():
            record = known.get(key)
            if record is None:
                tx.documents.add(path)
                tx.history.audit(actor, "document.found", path)
            elif record.missing_since is not None:
                tx.documents.update(record.id, missing_since=None)
                tx.history.audit(actor, "document.returned", path)
        for key, record in known.items():
            if key not in found and record.missing_since is None:
                tx.documents.update(record.id, missing_since=tx.now)
                tx.history.audit(actor, "document.missing", record.path, cals_kept=record.cals_assigned)
        tx.site_state.bump()

    def resolve(self, tx: Transaction, name: str, *, actor: str | None = None) -> DocumentRecord:
        """The document an admin names, in a write transaction: looking at the root folder again when the
        name is not known yet (a file just added)."""
        try:
            return match_document(tx.documents.all(), name)
        except UnknownDocument:
            if self.root_folder is None:
                raise
            known = tx.documents.all()
            on_disk = self._contents(known).served
            if not documents_changed(on_disk, known):
                raise
            self._sync(tx, on_disk, self.admin.actor(actor))
            return match_document(tx.documents.all(), name)

    def discover(self, name: str) -> None:
        """Look at the root folder again when an admin names a document the site does not know yet."""
        if self.root_folder is None:
            return
        with self.admin.uow.read() as tx:
            try:
                match_document(tx.documents.all(), name)
                return
            except UnknownDocument:
                pass
        self.scan_documents()

    # -- reading -----------------------------------------------------------------------------------

    def list_documents(self, *, scan: bool = True) -> list[DocumentView]:
        """The documents of the root folder with their allocation; missing ones are flagged."""
        if scan and self.root_folder is not None:
            return self.scan_documents()
        with self.admin.uow.read() as tx:
            return [document_view(d) for d in tx.documents.all()]

    def document_problems(self) -> list[DocumentProblem]:
        """The document files of the root folder that cannot be served, and why."""
        if self.root_folder is None:
            return []
        with self.admin.uow.read() as tx:
            known = tx.documents.all()
        return self._contents(known).problems

    def document(self, document: str) -> DocumentView:
        """One document by name (matched as the access gate matches it), looking at the root folder again
        when the name is not known yet."""
        self.discover(document)
        with self.admin.uow.read() as tx:
            return document_view(match_document(tx.documents.all(), document))

    # -- settings ----------------------------------------------------------------------------------

    def update_document(self, document: str, *, cals_allocated: int | None = None,
                        allow_dynamic_assignment: bool | None = None, actor: str | None = None) -> DocumentView:
        """Set "Number of CALs allocated to this Document" and "Allow dynamic CAL assignment" in one change.

        The allocation stays within the pool's unallocated CALs and at or above the CALs assigned; when
        either setting is refused, neither changes.
        """
        if cals_allocated is not None and cals_allocated < 0:
            raise InvalidInput(f"the number of CALs allocated to a document cannot be negative (got {cals_allocated})")
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            return self.change_settings(tx, document, cals_allocated=cals_allocated,
                                        allow_dynamic_assignment=allow_dynamic_assignment, actor=actor)

    def change_settings(self, tx: Transaction, document: str, *, cals_allocated: int | None,
                        allow_dynamic_assignment: bool | None, actor: str) -> DocumentView:
        """``update_document``'s work inside a transaction a use case opened (the console's one Apply)."""
        if cals_allocated is not None and cals_allocated < 0:
            raise InvalidInput(f"the number of CALs allocated to a document cannot be negative (got {cals_allocated})")
        if cals_allocated is not None:
            tx.claims.lock_pool(CalType.DOCUMENT)
        record = self.resolve(tx, document, actor=actor)
        if cals_allocated is not None:
            tx.claims.lock_document(record.id)
            record = match_document(tx.documents.all(), record.path)  # as it is now that it is locked
            self._check_allocation(tx, record, cals_allocated)
            tx.documents.update(record.id, cals_allocated=cals_allocated)
            tx.history.audit(actor, "document.allocation_changed", record.path,
                             before=record.cals_allocated, after=cals_allocated)
        if allow_dynamic_assignment is not None:
            tx.documents.update(record.id, allow_dynamic_assignment=allow_dynamic_assignment)
            tx.history.audit(actor, "document.dynamic_changed", record.path, allow=allow_dynamic_assignment)
        return document_view(match_document(tx.documents.all(), record.path))

    def _check_allocation(self, tx: Transaction, record: DocumentRecord, cals: int) -> None:
        terms = tx.licenses.terms()
        in_license = terms.in_license(CalType.DOCUMENT) if terms else 0
        others = sum(d.cals_allocated for d in tx.documents.all() if d.id != record.id)
        if cals > record.cals_allocated and others + cals > in_license:
            raise AllocationRefused(
                f"only {max(0, in_license - others)} Document CALs can be allocated to {record.path} "
                f"({in_license} in license, {others} allocated to other documents)",
                details={"unallocated": max(0, in_license - others)},
            )
        if cals < record.cals_assigned:
            raise AllocationRefused(
                f"{record.cals_assigned} Document CALs of {record.path} are assigned (or quarantined); "
                f"the allocation cannot drop below that"
            )

    def set_document_allocation(self, document: str, cals: int, *, actor: str | None = None) -> DocumentView:
        """Set "Number of CALs allocated to this Document" within the pool and above what is assigned."""
        return self.update_document(document, cals_allocated=cals, actor=actor)

    def set_document_dynamic(self, document: str, allow: bool, *, actor: str | None = None) -> DocumentView:
        """Turn the document's "Allow dynamic CAL assignment" on or off."""
        return self.update_document(document, allow_dynamic_assignment=allow, actor=actor)

    def release_missing_document(self, document: str, *, actor: str | None = None) -> ReleaseOutcome:
        """Release the CALs of a document that went missing from the root folder, and forget it."""
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            record = self.resolve(tx, document, actor=actor)
            if record.missing_since is None:
                raise InvalidInput(f"{record.path} is still in the root folder; only missing documents are released")
            tx.documents.delete(record.id)
            tx.history.audit(actor, "document.released", record.path, cals_released=record.cals_assigned,
                             cals_allocated=record.cals_allocated)
            return ReleaseOutcome(record.path, record.cals_assigned)
