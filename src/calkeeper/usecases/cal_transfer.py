"""Moving CAL assignments between sites: export every Named and Document CAL to a file, import one, all or nothing.

An import adds the file's CALs to the site in one transaction. Nothing is imported when any row is bad,
names a document the site does not know, is a CAL the site already holds, or when the CALs would put a
pool over the license; every problem is named. A document whose allocation is below the Document CALs it
would hold is allocated as many, as long as the license's Document CALs cover every allocation.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from calkeeper.contract.views import CalImport
from calkeeper.core.cals import CalType
from calkeeper.core.documents import document_key
from calkeeper.core.errors import InvalidInput, NoLicense
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.cal_rows import FORMATS, ImportedCal, csv_text, decoded, json_text, read_cals, refuse

_COLUMNS = ("source", "assigned_at", "last_used", "removed_at", "quarantined_until", "machine")


class CalTransfers:
    """Export and import of CAL assignments (CSV or JSON)."""

    def __init__(self, *, admin: AdminTransactions) -> None:
        self.admin = admin

    def export_text(self, *, format: str = "csv") -> tuple[str, int]:
        """Every Named and Document CAL as CSV or JSON text, read in one transaction; and how many."""
        if format not in FORMATS:
            raise InvalidInput(f"CALs export as {' or '.join(FORMATS)}, not '{format}'")
        with self.admin.read() as tx:  # "last used" as of now
            rows = tx.cal_transfer.rows()
            now = tx.now
        text = json_text(rows, exported_at=now) if format == "json" else "".join(csv_text(rows))
        return text, len(rows)

    def export(self, path: str | Path, *, format: str = "csv") -> int:
        """Write every Named and Document CAL to a file; how many."""
        text, count = self.export_text(format=format)
        target = Path(path)
        partial = target.with_name(f".{target.name}.part")
        try:
            partial.write_text(text, encoding="utf-8", newline="")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return count

    def import_file(self, path: str | Path, *, actor: str | None = None) -> CalImport:
        """Add the CALs of an export file to the site; all or nothing, every problem named."""
        source = Path(path)
        try:
            data = source.read_bytes()
        except FileNotFoundError:
            raise InvalidInput(f"there is no file at {source}; nothing was imported") from None
        except OSError as error:
            raise InvalidInput(f"{source} cannot be read ({error.strerror or error}); nothing was imported") from None
        return self.import_text(decoded(data), actor=actor)

    def import_text(self, text: str, *, actor: str | None = None) -> CalImport:
        """Add the CALs of a CSV or JSON text to the site; all or nothing, every problem named."""
        cals, problems = read_cals(text)
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            tx.claims.lock_pools(CalType.NAMED, CalType.DOCUMENT)
            occupying = [c for c in cals if c.quarantined_until is None or c.quarantined_until > tx.now]
            named, documents, raised = self._checked(tx, occupying, problems)
            if raised:
                for document_id, (_, allocation) in raised.items():
                    tx.documents.update(document_id, cals_allocated=allocation)
            tx.users.remember([c.holder for c in occupying if c.holder.kind == "user"])
            tx.cal_transfer.add(named, documents)
            outcome = CalImport(len(named), len(documents), {path: n for path, n in raised.values()},
                                len(cals) - len(occupying))
            tx.history.audit(actor, "cals.imported", "server", named=outcome.named, document=outcome.document,
                             allocations_raised=outcome.allocations_raised, already_free=outcome.already_free)
        return outcome

    def _checked(self, tx: Transaction, cals: list[ImportedCal], problems: list[str]) -> tuple[
            list[dict[str, Any]], list[dict[str, Any]], dict[int, tuple[str, int]]]:
        """The rows to insert and the allocations to raise; InvalidInput names every problem, the file's first."""
        terms = tx.licenses.terms()
        if terms is None and (cals or problems):
            raise NoLicense("no license is in force: apply the server license before importing CALs; "
                            "nothing was imported")
        known = {d.key: d for d in tx.documents.all()}
        held_named, held_documents = tx.cal_transfer.named_holders(), tx.cal_transfer.document_holders()
        problems = list(problems)
        named: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        for cal in cals:
            values = {c: getattr(cal, c) for c in _COLUMNS}
            if cal.named:
                if (cal.holder.kind, cal.holder.key) in held_named:
                    problems.append(f"row {cal.row} ({cal.holder.name}): this site already holds a Named CAL for it")
                named.append({**values, "identity_kind": cal.holder.kind, "identity_key": cal.holder.key,
                              "identity_name": cal.holder.name})
                continue
            document = known.get(document_key(cal.document or ""))
            if document is None:
                problems.append(f"row {cal.row} ({cal.holder.name}): this site has no document '{cal.document}'")
                continue
            if (document.id, cal.holder.key) in held_documents:
                problems.append(f"row {cal.row} ({cal.holder.name}): this site already holds a Document CAL for it "
                                f"on {document.path}")
            documents.append({**values, "document_id": document.id, "user_key": cal.holder.key,
                              "user_name": cal.holder.name})
        pools = tx.assignments.pools(terms)
        named_pool, document_pool = pools[CalType.NAMED], pools[CalType.DOCUMENT]
        if named_pool.assigned + len(named) > named_pool.in_license:
            problems.append(f"the file holds {len(named)} Named CALs and the site {named_pool.assigned}; the license "
                            f"allows {named_pool.in_license}")
        if document_pool.assigned + len(documents) > document_pool.in_license:
            problems.append(f"the file holds {len(documents)} Document CALs and the site {document_pool.assigned}; "
                            f"the license allows {document_pool.in_license}")
        raised: dict[int, tuple[str, int]] = {}
        coming = Counter(row["document_id"] for row in documents)
        for document in known.values():
            needed = document.cals_assigned + coming[document.id]
            if needed > document.cals_allocated:
                raised[document.id] = (document.path, needed)
        allocated = sum(raised.get(d.id, ("", d.cals_allocated))[1] for d in known.values())
        if raised and allocated > document_pool.in_license:
            problems.append(f"{', '.join(f'{path} needs {n}' for path, n in raised.values())} Document CALs allocated; "
                            f"{allocated} allocated in all would be over the {document_pool.in_license} the license "
                            "allows")
        refuse(problems)
        return named, documents, raised
