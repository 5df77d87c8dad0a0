"""Use cases for the server license: apply it, show it, and its history."""

from __future__ import annotations

from sqlalchemy import RowMapping

from calkeeper.core.cals import CalType
from calkeeper.core.license import check_license
from calkeeper.services.base import SiteBase, terms_from_row
from calkeeper.services.views import LicenseChange, LicenseView


def license_view(row: RowMapping, now_expired: bool) -> LicenseView:
    terms = terms_from_row(row)
    assert terms is not None
    return LicenseView(
        serial=terms.serial, control=terms.control, owner=terms.owner, organization=terms.organization,
        status="expired" if now_expired else "valid",
        cals={t.value: terms.in_license(t) for t in CalType},
        lease_allowed=terms.lease_allowed, time_limit=terms.time_limit,
        maintenance_until=terms.maintenance_until, key_id=terms.key_id,
        applied_at=row["applied_at"], applied_by=row["applied_by"], lef=terms.lef_text,
    )


class LicenseUseCases(SiteBase):
    def apply_license(
        self, *, serial: str, control: str, owner: str, organization: str, lef: str, actor: str | None = None
    ) -> LicenseView:
        """Check a license (control number, signature, serial, CALs, dates) and put it in force.

        A refused license raises LicenseRejected naming the failed check; the license in force stays.
        When the new LEF holds fewer CALs of a type than are assigned, nothing is unassigned: the pool
        reports the excess and grants none of that type until assignments drop below the new count.
        """
        terms = check_license(
            serial=serial, control=control, owner=owner, organization=organization, lef_text=lef,
            trusted_keys=self.trusted_keys, now=self.clock.now(),
        )
        with self.change() as tx:
            before = self.terms(tx)
            tx.records.insert_license(terms, self.actor_or_default(actor))
            changes = {
                t.value: f"{before.in_license(t) if before else 0} -> {terms.in_license(t)}"
                for t in CalType
                if (before.in_license(t) if before else 0) != terms.in_license(t)
            }
            tx.records.audit(self.actor_or_default(actor), "license.applied", terms.serial,
                             owner=terms.owner, organization=terms.organization, key_id=terms.key_id,
                             changes=changes)
            row = tx.records.license_row()
            assert row is not None
            return license_view(row, terms.expired(tx.now))

    def license(self) -> LicenseView | None:
        """The license in force, or None when none was applied."""
        with self.uow(write=False) as tx:
            row = tx.records.license_row()
            if row is None:
                return None
            terms = terms_from_row(row)
            assert terms is not None
            return license_view(row, terms.expired(tx.now))

    def license_history(self) -> list[LicenseChange]:
        """Every license applied, newest first, with what each changed."""
        with self.uow(write=False) as tx:
            rows = tx.records.license_history()
        history = []
        for index, row in enumerate(rows):
            previous = rows[index + 1] if index + 1 < len(rows) else None
            cals = {t.value: row[f"{t.value}_cals"] for t in CalType}
            changes = {}
            for t in CalType:
                old = previous[f"{t.value}_cals"] if previous else 0
                if old != cals[t.value]:
                    changes[t.value] = f"{old} -> {cals[t.value]}"
            if previous and previous["serial"] != row["serial"]:
                changes["serial"] = f"{previous['serial']} -> {row['serial']}"
            history.append(LicenseChange(row["applied_at"], row["applied_by"], row["serial"], cals, changes))
        return history
