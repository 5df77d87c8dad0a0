"""Named User CALs assigned by hand: assign, remove (with quarantine), restore, list."""

from __future__ import annotations

from calkeeper.contract.views import AssignedCal, AssignOutcome, CalPage, RemovalOutcome
from calkeeper.core.assignments import CalAssignment
from calkeeper.core.cals import CalType, quarantine_end
from calkeeper.core.comparison import comparison_key
from calkeeper.core.errors import InvalidInput, NoCalAvailable, NoLicense, NotQuarantined, UnknownUser
from calkeeper.core.identities import Identity, parse_identity_list
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions, audit_freed

SORTS = ("user", "-user", "last_used", "-last_used", "quarantined_until", "-quarantined_until", "source")


def assigned_view(cal: CalAssignment) -> AssignedCal:
    """An assigned Named or Document CAL as the views show it."""
    return AssignedCal(user=cal.holder.name, identity_kind=cal.holder.kind, source=cal.source,
                       assigned_at=cal.assigned_at, last_used=cal.last_used,
                       quarantined_until=cal.quarantined_until, document=cal.document)


def _cals(count: int, label: str) -> str:
    return f"{count} new {label}{'' if count == 1 else 's'}"


def identity_kind(tx: Transaction) -> str:
    """What a Named CAL is tied to now: "user" or "machine"."""
    return "machine" if tx.site_state.get().identification_mode == "machine" else "user"


def either_kind(tx: Transaction) -> str:
    """A Named CAL of either kind, the one in use now preferred: CALs kept from before a mode switch stay manageable."""
    return "machine+user" if identity_kind(tx) == "machine" else "user+machine"


class NamedCals:
    """The Named User CALs an admin manages (dynamic ones are claimed by the access gate)."""

    def __init__(self, *, admin: AdminTransactions) -> None:
        self.admin = admin

    def assign_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        """Assign Named CALs by hand to a ';' list of users (machines, when identifying by machine).

        All or nothing: an invalid entry, or too few free CALs for the whole list, assigns nobody.
        A user whose CAL is quarantined gets it back (restored).
        """
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            identities = parse_identity_list(users, kind=identity_kind(tx))
            terms = tx.licenses.terms()
            if terms is None:
                raise NoLicense("no license is in force: apply the server license before assigning CALs")
            names = tx.users.remember(identities)
            many = tx.assignments.named_many(identities)
            held = {i.key: many.get((i.kind, i.key)) for i in identities}
            outcomes: list[AssignOutcome] = []
            fresh: list[Identity] = []
            for identity in identities:
                identity = Identity(names[identity.key], identity.key, identity.kind)
                cal = held[identity.key]
                if cal is not None and cal.quarantined(tx.now):
                    tx.assignments.unmark_removed(cal)
                    tx.history.audit(actor, "named_cal.restored", identity.name)
                    outcomes.append(AssignOutcome(identity.name, "restored"))
                elif cal is not None and not cal.marked_for_removal:
                    outcomes.append(AssignOutcome(identity.name, "already assigned"))
                else:
                    fresh.append(identity)
                    outcomes.append(AssignOutcome(identity.name, "assigned"))
            if fresh and not tx.claims.claim_named_cals(fresh, in_license=terms.in_license(CalType.NAMED),
                                                        source="manual"):
                pool = tx.assignments.pools(terms)[CalType.NAMED]
                needed = len(fresh)
                raise NoCalAvailable(
                    f"the list needs {_cals(needed, 'Named User CAL')} and {pool.free} "
                    f"{'is' if pool.free == 1 else 'are'} free ({pool.in_license} in license, "
                    f"{pool.assigned - pool.quarantined} assigned, {pool.quarantined} quarantined); "
                    "nothing was assigned",
                    details={"needed": needed, "free": pool.free, "in_license": pool.in_license,
                             "assigned": pool.assigned - pool.quarantined, "quarantined": pool.quarantined},
                )
            tx.history.audit_many(actor, "named_cal.assigned", [i.name for i in fresh], source="manual")
            audit_freed(tx)
            return outcomes

    def remove_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[RemovalOutcome]:
        """Remove Named CALs ("Apply" of the staged red X's): each is freed at once or quarantined.

        Used within the last 7 days: quarantined until last used + 7 days, still occupied, restorable.
        Never used, or not for 7 days: freed at once. All or nothing.
        """
        with self.admin.change() as tx:
            # a CAL of either kind can go: users' CALs kept from before a switch to machines, and the reverse
            identities = parse_identity_list(users, kind=either_kind(tx))
            return self._remove(tx, identities, self.admin.actor(actor))

    def restore_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        """Undo removals while their quarantine lasts: the same CAL, with its history, to the same user."""
        with self.admin.change() as tx:
            identities = parse_identity_list(users, kind=either_kind(tx))
            return self._restore(tx, identities, self.admin.actor(actor))

    def apply_named_changes(self, *, remove: list[str], restore: list[str],
                            actor: str | None = None) -> tuple[list[RemovalOutcome], list[AssignOutcome]]:
        """The console's Apply: staged removals and restores in one transaction, all or nothing."""
        with self.admin.change() as tx:
            kind, actor = either_kind(tx), self.admin.actor(actor)
            restored = self._restore(tx, parse_identity_list(restore, kind=kind), actor) if restore else []
            removed = self._remove(tx, parse_identity_list(remove, kind=kind), actor) if remove else []
            return removed, restored

    def remove_in(self, tx: Transaction, identities: list[Identity], actor: str) -> list[RemovalOutcome]:
        """Remove Named CALs inside the caller's transaction (a reclaim's), by the rules of a removal."""
        return self._remove(tx, identities, actor)

    def _remove(self, tx: Transaction, identities: list[Identity], actor: str) -> list[RemovalOutcome]:
        outcomes = []
        for identity in identities:
            cal = tx.assignments.named(identity)
            if cal is None:
                raise UnknownUser(f"{identity.name} holds no Named User CAL; nothing was removed")
            if cal.marked_for_removal:
                outcomes.append(RemovalOutcome(cal.holder.name, "quarantined", cal.quarantined_until))
                continue
            until = quarantine_end(cal.last_used, tx.now)
            tx.assignments.mark_removed(cal, until)
            outcome = "quarantined" if until else "freed"
            tx.history.audit(actor, f"named_cal.{outcome}", cal.holder.name, last_used=cal.last_used,
                             quarantined_until=until)
            outcomes.append(RemovalOutcome(cal.holder.name, outcome, until))
        return outcomes

    def _restore(self, tx: Transaction, identities: list[Identity], actor: str) -> list[AssignOutcome]:
        outcomes = []
        for identity in identities:
            cal = tx.assignments.named(identity)
            if cal is None or not cal.marked_for_removal:
                state = "holds no Named User CAL" if cal is None else "is not marked for removal"
                raise NotQuarantined(f"{identity.name} {state}; there is nothing to restore")
            tx.assignments.unmark_removed(cal)
            tx.history.audit(actor, "named_cal.restored", cal.holder.name)
            outcomes.append(AssignOutcome(cal.holder.name, "restored"))
        return outcomes

    def find_users(self, text: str, *, limit: int = 50) -> list[str]:
        """Users known to this site whose name contains the text (the built-in user list)."""
        with self.admin.uow.read() as tx:
            return [i.name for i in tx.users.search(text.strip(), limit=limit)]

    def find_users_page(self, text: str, *, limit: int = 50, offset: int = 0) -> tuple[list[str], int]:
        """A page of the users known to this site whose name contains the text, and how many there are."""
        with self.admin.uow.read() as tx:
            return [i.name for i in tx.users.search(text.strip(), limit=limit, offset=offset)], tx.users.count(
                text.strip())

    def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "", sort: str = "user",
                        offset: int = 0, source: str = "", quarantined: bool | None = None,
                        unused_days: int | None = None) -> CalPage:
        """A page of assigned Named CALs (quarantined ones included).

        In name order a page starts after the name ``after`` (fast at any depth); other orders
        (``-user``, ``last_used``, ``-last_used``, ``quarantined_until``, ``source``) start at ``offset``.
        ``source``, ``quarantined`` and ``unused_days`` (not used for that many days) narrow the list.
        """
        if not 1 <= limit <= 1000:
            raise InvalidInput("a page holds 1 to 1000 rows")
        if sort not in SORTS:
            raise InvalidInput(f"sort by one of {', '.join(SORTS)}, not '{sort}'")
        if offset < 0:
            raise InvalidInput("the offset cannot be negative")
        if source not in ("", "manual", "dynamic"):
            raise InvalidInput(f"the source is manual or dynamic, not '{source}'")
        if unused_days is not None and not 0 <= unused_days <= 36_500:
            raise InvalidInput("not used for 0 to 36,500 days")
        with self.admin.read() as tx:
            cals = tx.assignments.list_named(after=comparison_key(after), limit=limit + 1, sort=sort, offset=offset,
                                             search=search, source=source, quarantined=quarantined,
                                             unused_days=unused_days)
            total = tx.assignments.count_named(search=search, source=source, quarantined=quarantined,
                                               unused_days=unused_days)
        more = len(cals) > limit
        return CalPage([assigned_view(c) for c in cals[:limit]],
                       cals[limit - 1].holder.key if more and sort == "user" else None, total)

    def named_cal_holders(self, *, search: str = "", source: str = "", quarantined: bool | None = None,
                          unused_days: int | None = None) -> list[str]:
        """Every name a filtered Named CAL list holds, on all its pages ("all N matching this search")."""
        with self.admin.read() as tx:
            return tx.assignments.named_holders(search=search, source=source, quarantined=quarantined,
                                                unused_days=unused_days)

    def count_quarantined(self) -> int:
        """Named and Document CALs in quarantine now."""
        with self.admin.uow.read() as tx:
            return tx.assignments.count_quarantined()

    def quarantined_cals(self, *, limit: int = 100) -> list[AssignedCal]:
        """Named and Document CALs in quarantine, the soonest free first."""
        with self.admin.uow.read() as tx:
            rows = tx.assignments.quarantined(limit=limit)
        return [AssignedCal(user=user, identity_kind="user", source="", assigned_at=until, last_used=None,
                            quarantined_until=until, document=document) for user, document, until in rows]
