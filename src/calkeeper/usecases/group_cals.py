"""Giving one member of a group a CAL, and taking it back, inside the caller's transaction.

Assigning to a group once and syncing a group rule do the same for each member as an admin's list
does for each name, with two differences: a member for whom no CAL is left is reported, not a reason
to assign nobody; and a CAL is taken back exactly as a removal is (quarantine, domain section 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calkeeper.core.cals import CalType, quarantine_end
from calkeeper.core.documents import DocumentRecord
from calkeeper.core.identities import Identity
from calkeeper.core.license import LicenseTerms
from calkeeper.store.unit_of_work import Transaction


@dataclass(frozen=True)
class CalTarget:
    """Which CAL: a Named CAL, or a Document CAL for one document."""

    cal_type: str  # "named" or "document"
    document: DocumentRecord | None = None

    @property
    def label(self) -> str:
        return "Named User CAL" if self.document is None else f"Document CAL for {self.document.path}"

    @property
    def audit_prefix(self) -> str:
        return "named_cal" if self.document is None else "document_cal"

    def details(self) -> dict[str, Any]:
        return {} if self.document is None else {"document": self.document.path}


def give_cal(tx: Transaction, identity: Identity, target: CalTarget, terms: LicenseTerms, *, actor: str,
             source: str) -> str:
    """Give one member a CAL: "assigned", "restored", "already assigned" or "no CAL left"."""
    names = tx.users.remember([identity])
    identity = Identity(names[identity.key], identity.key, identity.kind)
    document = target.document
    cal = tx.assignments.named(identity) if document is None else tx.assignments.document_cal(document.id, identity)
    if cal is not None and cal.quarantined(tx.now):
        tx.assignments.unmark_removed(cal)
        tx.history.audit(actor, f"{target.audit_prefix}.restored", identity.name, **target.details(), source=source)
        return "restored"
    if cal is not None and not cal.marked_for_removal:
        return "already assigned"
    if document is None:
        claimed = tx.claims.claim_named_cal(identity, in_license=terms.in_license(CalType.NAMED), source="manual")
    else:
        claimed = tx.claims.claim_document_cal(identity, document.info, in_license=terms.in_license(CalType.DOCUMENT),
                                               source="manual")
    if claimed is None:
        return "no CAL left"
    tx.history.audit(actor, f"{target.audit_prefix}.assigned", identity.name, **target.details(), source="manual",
                     given_by=source)
    return "assigned"


def take_cal(tx: Transaction, identity: Identity, target: CalTarget, *,
             actor: str, source: str) -> tuple[str, datetime | None]:
    """Take a CAL back: ("freed" | "quarantined" | "not held", quarantined until)."""
    document = target.document
    cal = tx.assignments.named(identity) if document is None else tx.assignments.document_cal(document.id, identity)
    if cal is None:
        return "not held", None
    if cal.marked_for_removal:
        return "quarantined", cal.quarantined_until
    until = quarantine_end(cal.last_used, tx.now)
    tx.assignments.mark_removed(cal, until)
    outcome = "quarantined" if until else "freed"
    tx.history.audit(actor, f"{target.audit_prefix}.{outcome}", cal.holder.name, **target.details(),
                     last_used=cal.last_used, quarantined_until=until, taken_by=source)
    return outcome, until
