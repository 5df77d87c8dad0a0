"""Reclaiming the CALs of inactive users: those not used for N days (or never, and assigned N days ago).

A reclaim removes each CAL by the same rules as an admin's removal (``NamedCals`` and ``DocumentCals``):
a CAL used within the last 7 days is quarantined until last used + 7 days, never freed early. A dry
run lists the candidates and changes nothing. The upkeep runs it on a schedule when one is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from calkeeper.contract.views import ReclaimEntry, ReclaimReport
from calkeeper.core.documents import match_document
from calkeeper.core.errors import InvalidInput
from calkeeper.core.identities import Identity
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.document_cals import DocumentCals
from calkeeper.usecases.named_cals import NamedCals

KINDS = ("named", "document")


@dataclass(frozen=True)
class ReclaimSchedule:
    """Reclaim CALs unused for ``inactive_days`` every ``every_hours`` (``inactive_days`` 0: never on its own)."""

    inactive_days: int = 0
    cal_type: str = ""
    every_hours: float = 24.0


class Reclaim:
    """List or remove the Named and Document CALs of users inactive for N days."""

    def __init__(self, *, admin: AdminTransactions, named_cals: NamedCals, document_cals: DocumentCals) -> None:
        self.admin = admin
        self.named_cals = named_cals
        self.document_cals = document_cals

    def reclaim(self, *, inactive_days: int, cal_type: str = "", dry_run: bool = False,
                actor: str | None = None) -> ReclaimReport:
        """Remove (or, in a dry run, list) the CALs not used for ``inactive_days``; reported CAL by CAL."""
        if not 1 <= inactive_days <= 36_500:
            raise InvalidInput("the number of inactive days is 1 to 36500")
        if cal_type not in ("", *KINDS):
            raise InvalidInput(f"reclaim Named or Document CALs ('named', 'document'), not '{cal_type}'")
        actor = self.admin.actor(actor)
        context = self.admin.read() if dry_run else self.admin.change()
        with context as tx:
            cals = tx.assignments.inactive(before=tx.now - timedelta(days=inactive_days), kind=cal_type)
            entries: list[ReclaimEntry] = []
            documents = tx.documents.all() if not dry_run and any(c.document is not None for c in cals) else []
            for cal in cals:
                kind = "document" if cal.document is not None else "named"
                if dry_run:
                    entries.append(ReclaimEntry(cal.holder.name, kind, cal.document, cal.assigned_at, cal.last_used,
                                                "candidate"))
                    continue
                holder = Identity(cal.holder.name, cal.holder.key, cal.holder.kind)
                if cal.document is None:
                    outcome = self.named_cals.remove_in(tx, [holder], actor)[0]
                else:
                    record = match_document(documents, cal.document)
                    outcome = self.document_cals.remove_in(tx, record, [holder], actor)[0]
                entries.append(ReclaimEntry(cal.holder.name, kind, cal.document, cal.assigned_at, cal.last_used,
                                            outcome.outcome, outcome.quarantined_until))
            if not dry_run and entries:
                tx.history.audit(actor, "cal.reclaimed", f"{len(entries)} CALs", inactive_days=inactive_days,
                                 cal_type=cal_type or "named+document")
        return ReclaimReport(inactive_days, dry_run, entries)
