"""Use cases for Named User CALs and the server-wide CAL settings (the console's General tab)."""

from __future__ import annotations

from calkeeper.contract.views import (
    AssignedCal,
    AssignOutcome,
    CalOverview,
    CalPage,
    CalSettings,
    PoolView,
    RemovalOutcome,
)
from calkeeper.core.cals import CalType, IdentificationMode, quarantine_end
from calkeeper.core.errors import InvalidInput, NoCalAvailable, NoLicense, NotQuarantined, UnknownUser
from calkeeper.core.identities import Identity, parse_identity_list
from calkeeper.services.base import SiteBase, assigned_cal
from calkeeper.store.claims import named_t
from calkeeper.store.unit_of_work import Transaction


class NamedCalUseCases(SiteBase):
    def cal_overview(self) -> CalOverview:
        """Pools per CAL type (in license, assigned, quarantined, free, excess) and the settings."""
        with self.uow(write=False) as tx:
            terms = self.terms(tx)
            pools = tx.records.pools(terms)
            state = tx.records.state()
        views = [
            PoolView(p.cal_type.value, p.cal_type.label, p.in_license, p.assigned, p.quarantined, p.free,
                     p.excess, p.allocated, p.unallocated)
            for p in pools.values()
        ]
        settings = CalSettings(
            allow_dynamic_assignment=bool(state["allow_dynamic_assignment"]),
            allow_license_lease=bool(state["allow_license_lease"]),
            identification_mode=state["identification_mode"],
            lease_allowed_by_license=bool(terms.lease_allowed) if terms else False,
            maintenance=bool(state["maintenance"]),
        )
        return CalOverview(views, settings, terms is not None)

    def update_cal_settings(
        self,
        *,
        allow_dynamic_assignment: bool | None = None,
        allow_license_lease: bool | None = None,
        identification_mode: str | None = None,
        actor: str | None = None,
    ) -> CalSettings:
        """Change "Allow dynamic CAL assignment", "Allow license lease" or the identification mode."""
        values: dict[str, object] = {}
        if allow_dynamic_assignment is not None:
            values["allow_dynamic_assignment"] = allow_dynamic_assignment
        if allow_license_lease is not None:
            values["allow_license_lease"] = allow_license_lease
        if identification_mode is not None:
            try:
                values["identification_mode"] = IdentificationMode(identification_mode).value
            except ValueError:
                raise InvalidInput(
                    f"the identification mode is 'user' or 'machine', not '{identification_mode}'"
                ) from None
        with self.change() as tx:
            if values:
                tx.records.update_state(**values)
                tx.records.audit(self.actor_or_default(actor), "cal.settings_changed", "server", **values)
        return self.cal_overview().settings

    def _identity_kind(self, tx: Transaction) -> str:
        return "machine" if tx.records.state()["identification_mode"] == "machine" else "user"

    def assign_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        """Assign Named CALs by hand to a ';' list of users (machines, when identifying by machine).

        All or nothing: an invalid entry, or too few free CALs for the whole list, assigns nobody.
        A user whose CAL is quarantined gets it back (restored).
        """
        actor = self.actor_or_default(actor)
        with self.change() as tx:
            identities = parse_identity_list(users, kind=self._identity_kind(tx))
            terms = self.terms(tx)
            if terms is None:
                raise NoLicense("no license is in force: apply the server license before assigning CALs")
            names = tx.records.remember_users(identities)
            outcomes: list[AssignOutcome] = []
            for identity in identities:
                identity = Identity(names[identity.key], identity.key, identity.kind)
                row = tx.records.named_row(identity)
                if row is not None and row["quarantined_until"] and row["quarantined_until"] > tx.now:
                    tx.records.unmark_removed(named_t, row["id"])
                    tx.records.audit(actor, "named_cal.restored", identity.name)
                    outcomes.append(AssignOutcome(identity.name, "restored"))
                elif row is not None and row["removed_at"] is None:
                    outcomes.append(AssignOutcome(identity.name, "already assigned"))
                else:
                    claimed = tx.claims.claim_named_cal(
                        identity, in_license=terms.in_license(CalType.NAMED), source="manual"
                    )
                    if claimed is None:
                        wanted = sum(1 for o in outcomes if o.outcome == "assigned") + 1
                        free = tx.records.pools(terms)[CalType.NAMED].free
                        raise NoCalAvailable(
                            f"not enough free Named User CALs: the list needs at least {wanted} and "
                            f"{free + wanted - 1} {'is' if free + wanted - 1 == 1 else 'are'} free "
                            f"({terms.in_license(CalType.NAMED)} in license); nothing was assigned",
                            details={"needed": wanted, "free": free + wanted - 1},
                        )
                    tx.records.audit(actor, "named_cal.assigned", identity.name, source="manual")
                    outcomes.append(AssignOutcome(identity.name, "assigned"))
            self.audit_freed(tx)
            return outcomes

    def remove_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[RemovalOutcome]:
        """Remove Named CALs ("Apply" of the staged red X's): each is freed at once or quarantined.

        Used within the last 7 days: quarantined until last used + 7 days, still occupied, restorable.
        Never used, or not for 7 days: freed at once. All or nothing.
        """
        with self.change() as tx:
            identities = parse_identity_list(users, kind=self._identity_kind(tx))
            return self._remove_named_in(tx, identities, self.actor_or_default(actor))

    def restore_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        """Undo removals while their quarantine lasts: the same CAL, with its history, to the same user."""
        with self.change() as tx:
            identities = parse_identity_list(users, kind=self._identity_kind(tx))
            return self._restore_named_in(tx, identities, self.actor_or_default(actor))

    def apply_named_changes(
        self, *, remove: list[str], restore: list[str], actor: str | None = None
    ) -> tuple[list[RemovalOutcome], list[AssignOutcome]]:
        """The console's Apply: staged removals and restores in one transaction, all or nothing."""
        with self.change() as tx:
            kind = self._identity_kind(tx)
            actor = self.actor_or_default(actor)
            restored = self._restore_named_in(tx, parse_identity_list(restore, kind=kind), actor) if restore else []
            removed = self._remove_named_in(tx, parse_identity_list(remove, kind=kind), actor) if remove else []
            return removed, restored

    def _remove_named_in(self, tx: Transaction, identities: list[Identity], actor: str) -> list[RemovalOutcome]:
        outcomes = []
        for identity in identities:
            row = tx.records.named_row(identity)
            if row is None:
                raise UnknownUser(f"{identity.name} holds no Named User CAL; nothing was removed")
            if row["removed_at"] is not None:
                outcomes.append(RemovalOutcome(row["identity_name"], "quarantined", row["quarantined_until"]))
                continue
            until = quarantine_end(row["last_used"], tx.now)
            tx.records.mark_removed(named_t, row["id"], until)
            outcome = "quarantined" if until else "freed"
            tx.records.audit(actor, f"named_cal.{outcome}", row["identity_name"],
                             last_used=row["last_used"], quarantined_until=until)
            outcomes.append(RemovalOutcome(row["identity_name"], outcome, until))
        return outcomes

    def _restore_named_in(self, tx: Transaction, identities: list[Identity], actor: str) -> list[AssignOutcome]:
        outcomes = []
        for identity in identities:
            row = tx.records.named_row(identity)
            if row is None or row["removed_at"] is None:
                state = "holds no Named User CAL" if row is None else "is not marked for removal"
                raise NotQuarantined(f"{identity.name} {state}; there is nothing to restore")
            tx.records.unmark_removed(named_t, row["id"])
            tx.records.audit(actor, "named_cal.restored", row["identity_name"])
            outcomes.append(AssignOutcome(row["identity_name"], "restored"))
        return outcomes

    def find_users(self, text: str, *, limit: int = 50) -> list[str]:
        """Users known to this site whose name contains the text (the built-in user list)."""
        with self.uow(write=False) as tx:
            return [r["name"] for r in tx.records.users(search=text.strip(), limit=limit)]

    def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "", sort: str = "user",
                        offset: int = 0) -> CalPage:
        """A page of assigned Named CALs (quarantined ones included).

        In name order a page starts after the name ``after`` (fast at any depth); other orders
        (``-user``, ``last_used``, ``-last_used``, ``quarantined_until``, ``source``) start at ``offset``.
        """
        if not 1 <= limit <= 1000:
            raise InvalidInput("a page holds 1 to 1000 rows")
        if sort not in SORTS:
            raise InvalidInput(f"sort by one of {', '.join(SORTS)}, not '{sort}'")
        if offset < 0:
            raise InvalidInput("the offset cannot be negative")
        self.write_deferred_last_used()
        with self.uow(write=False) as tx:
            rows = tx.records.list_named(after=after.casefold(), limit=limit + 1, search=search, sort=sort,
                                         offset=offset)
            total = tx.records.count_named(search=search)
        items = [assigned_cal(r) for r in rows[:limit]]
        more = len(rows) > limit
        return CalPage(items, rows[limit - 1]["identity_key"] if more and sort == "user" else None, total)

    def quarantined_cals(self, *, limit: int = 100) -> list[AssignedCal]:
        """Named and Document CALs in quarantine, the soonest free first."""
        with self.uow(write=False) as tx:
            rows = tx.records.quarantined(limit=limit)
        return [AssignedCal(user=r["user"], identity_kind="user", source="", assigned_at=r["quarantined_until"],
                            last_used=None, quarantined_until=r["quarantined_until"], document=r["document"])
                for r in rows]


SORTS = ("user", "-user", "last_used", "-last_used", "quarantined_until", "-quarantined_until", "source")
