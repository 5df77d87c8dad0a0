"""Document CALs assigned by hand out of a document's allocation: assign, remove, restore, list."""

from __future__ import annotations

from calkeeper.contract.views import AssignedCal, AssignOutcome, CalPage, RemovalOutcome
from calkeeper.core.cals import CalType, Pool, quarantine_end
from calkeeper.core.documents import DocumentRecord, match_document
from calkeeper.core.errors import InvalidInput, NoCalAvailable, NoLicense, NotQuarantined, UnknownUser
from calkeeper.core.identities import Identity, parse_identity_list
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions, audit_freed
from calkeeper.usecases.documents import Documents
from calkeeper.usecases.named_cals import assigned_view

DOCUMENT_SORTS = ("user", "last_used", "quarantined_until", "source")


class DocumentCals:
    """The Document CALs an admin manages for each document."""

    def __init__(self, *, admin: AdminTransactions, documents: Documents) -> None:
        self.admin = admin
        self.documents = documents

    def assign_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[AssignOutcome]:
        """Assign Document CALs for one document out of its allocation; all or nothing."""
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            identities = parse_identity_list(users)
            record = self.documents.resolve(tx, document, actor=actor)
            terms = tx.licenses.terms()
            if terms is None:
                raise NoLicense("no license is in force: apply the server license before assigning CALs")
            names = tx.users.remember(identities)
            held = {i.key: tx.assignments.document_cal(record.id, i) for i in identities}
            needed = sum(1 for cal in held.values() if cal is None or (cal.marked_for_removal
                                                                       and not cal.quarantined(tx.now)))
            pool = tx.assignments.pools(terms)[CalType.DOCUMENT]
            outcomes: list[AssignOutcome] = []
            for identity in identities:
                identity = Identity(names[identity.key], identity.key, "user")
                cal = held[identity.key]
                if cal is not None and cal.quarantined(tx.now):
                    tx.assignments.unmark_removed(cal)
                    tx.history.audit(actor, "document_cal.restored", identity.name, document=record.path)
                    outcomes.append(AssignOutcome(identity.name, "restored"))
                    continue
                if cal is not None and not cal.marked_for_removal:
                    outcomes.append(AssignOutcome(identity.name, "already assigned"))
                    continue
                claimed = tx.claims.claim_document_cal(identity, record.info,
                                                       in_license=terms.in_license(CalType.DOCUMENT), source="manual")
                if claimed is None:
                    raise _no_document_cal(record, pool, needed)
                tx.history.audit(actor, "document_cal.assigned", identity.name, document=record.path,
                                 source="manual")
                outcomes.append(AssignOutcome(identity.name, "assigned"))
            audit_freed(tx)
            return outcomes

    def remove_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[RemovalOutcome]:
        """Remove Document CALs: freed at once, or quarantined until last used + 7 days."""
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            record = self.documents.resolve(tx, document, actor=actor)
            return self._remove(tx, record, parse_identity_list(users), actor)

    def restore_document_cals(self, document: str, users: str | list[str], *,
                              actor: str | None = None) -> list[AssignOutcome]:
        """Undo Document CAL removals while their quarantine lasts."""
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            record = self.documents.resolve(tx, document, actor=actor)
            return self._restore(tx, record, parse_identity_list(users), actor)

    def apply_document_changes(self, document: str, *, remove: list[str], restore: list[str],
                               cals_allocated: int | None = None, allow_dynamic_assignment: bool | None = None,
                               actor: str | None = None) -> tuple[list[RemovalOutcome], list[AssignOutcome]]:
        """The console's one Apply on a document: staged removals and restores, and its allocation and dynamic
        assignment when given, in one transaction, all or nothing."""
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            record = self.documents.resolve(tx, document, actor=actor)
            restored = self._restore(tx, record, parse_identity_list(restore), actor) if restore else []
            removed = self._remove(tx, record, parse_identity_list(remove), actor) if remove else []
            if cals_allocated is not None or allow_dynamic_assignment is not None:
                self.documents.change_settings(tx, record.path, cals_allocated=cals_allocated,
                                               allow_dynamic_assignment=allow_dynamic_assignment, actor=actor)
            return removed, restored

    def remove_in(self, tx: Transaction, record: DocumentRecord, identities: list[Identity],
                  actor: str) -> list[RemovalOutcome]:
        """Remove Document CALs inside the caller's transaction (a reclaim's), by the rules of a removal."""
        return self._remove(tx, record, identities, actor)

    def _remove(self, tx: Transaction, record: DocumentRecord, identities: list[Identity],
                actor: str) -> list[RemovalOutcome]:
        outcomes = []
        for identity in identities:
            cal = tx.assignments.document_cal(record.id, identity)
            if cal is None:
                raise UnknownUser(f"{identity.name} holds no Document CAL for {record.path}; nothing was removed")
            if cal.marked_for_removal:
                outcomes.append(RemovalOutcome(cal.holder.name, "quarantined", cal.quarantined_until, record.path))
                continue
            until = quarantine_end(cal.last_used, tx.now)
            tx.assignments.mark_removed(cal, until)
            outcome = "quarantined" if until else "freed"
            tx.history.audit(actor, f"document_cal.{outcome}", cal.holder.name, document=record.path,
                             last_used=cal.last_used, quarantined_until=until)
            outcomes.append(RemovalOutcome(cal.holder.name, outcome, until, record.path))
        return outcomes

    def _restore(self, tx: Transaction, record: DocumentRecord, identities: list[Identity],
                 actor: str) -> list[AssignOutcome]:
        outcomes = []
        for identity in identities:
            cal = tx.assignments.document_cal(record.id, identity)
            if cal is None or not cal.marked_for_removal:
                state = "holds no Document CAL" if cal is None else "is not marked for removal"
                raise NotQuarantined(f"{identity.name} {state} for {record.path}; there is nothing to restore")
            tx.assignments.unmark_removed(cal)
            tx.history.audit(actor, "document_cal.restored", cal.holder.name, document=record.path)
            outcomes.append(AssignOutcome(cal.holder.name, "restored"))
        return outcomes

    def document_cal_page(self, document: str, *, search: str = "", sort: str = "user", limit: int = 50,
                          offset: int = 0, count: bool = True) -> CalPage:
        """A page of a known document's holders, narrowed by a search; sorted by ``user``, ``last_used`` or
        ``quarantined_until`` (``-`` before it for the reverse). Without ``count`` its total is not counted
        (0): a caller holding the document's view has it as ``cals_assigned``."""
        if not 1 <= limit <= 1000 or offset < 0:
            raise InvalidInput("a page holds 1 to 1000 rows, from an offset of 0 or more")
        if sort.lstrip("-") not in DOCUMENT_SORTS:
            raise InvalidInput(f"sort by one of {', '.join(DOCUMENT_SORTS)}, not '{sort}'")
        with self.admin.read() as tx:
            record = match_document(tx.documents.all(), document)
            cals = tx.assignments.of_document(record.id, record.path, search=search, sort=sort, limit=limit,
                                              offset=offset)
            total = tx.assignments.count_of_document(record.id, search=search) if count or search else 0
        return CalPage([assigned_view(c) for c in cals], None, total)

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        """The users holding Document CALs for a document, quarantined ones included."""
        self.documents.discover(document)
        with self.admin.read() as tx:
            record = match_document(tx.documents.all(), document)
            return [assigned_view(c) for c in tx.assignments.of_document(record.id, record.path)]


def _no_document_cal(record: DocumentRecord, pool: Pool, needed: int) -> NoCalAvailable:
    """Why the list cannot be assigned, naming the real cause: the license's pool, or the document's allocation."""
    details = {"needed": needed, "in_license": pool.in_license, "assigned_in_pool": pool.assigned,
               "allocated": record.cals_allocated, "assigned": record.cals_assigned}
    if pool.assigned + needed > pool.in_license:
        return NoCalAvailable(
            f"the license now has {pool.in_license} Document CALs and {pool.assigned} are assigned "
            f"({pool.quarantined} of them quarantined); the list needs {needed} more, so nothing was assigned. "
            "Remove Document CALs, or buy more and update the license", details=details)
    free = max(0, record.cals_allocated - record.cals_assigned)
    return NoCalAvailable(
        f"the list needs {needed} Document CAL{'' if needed == 1 else 's'} for {record.path} and {free} of its "
        f"{record.cals_allocated} allocated {'is' if free == 1 else 'are'} free ({record.cals_assigned} assigned); "
        "raise the number of CALs allocated to this document. Nothing was assigned", details=details)
