"""Use cases for the server license: apply it (pasted or fetched from the authority), update it from the
authority, show it, and its history."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import RowMapping

from calkeeper.contract.views import LicenseChange, LicenseUpdate, LicenseView
from calkeeper.core.cals import CalType
from calkeeper.core.errors import CalkeeperError, InvalidInput, NoLicense
from calkeeper.core.license import check_license
from calkeeper.core.serials import check_serial_and_control
from calkeeper.services.base import SiteBase, terms_from_row

# What the license history and "Update license from server" report as changed, besides CAL counts.
_TERMS = {"serial": "serial", "key_id": "signing key", "maintenance_until": "maintenance until",
          "time_limit": "time limit", "lease_allowed": "license lease"}


def license_changes(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> dict[str, str]:
    """What changed between two stored licenses (rows of ``licenses``): CAL counts, then the other terms."""
    changes = {}
    for t in CalType:
        old = before[f"{t.value}_cals"] if before else 0
        if old != after[f"{t.value}_cals"]:
            changes[t.value] = f"{old} -> {after[f'{t.value}_cals']}"
    for column, label in _TERMS.items():
        if before is not None and before[column] != after[column]:
            changes[label] = f"{_shown(before[column])} -> {_shown(after[column])}"
    return changes


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "allowed" if value else "not allowed"
    return str(value)


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
        self, *, serial: str, control: str, owner: str, organization: str, lef: str | None = None,
        actor: str | None = None,
    ) -> LicenseView:
        """Check a license (control number, signature, serial, CALs, dates) and put it in force.

        Without a LEF, it is fetched from the license authority first (see ``fetch_lef``).
        A refused license raises LicenseRejected naming the failed check; the license in force stays.
        When the new LEF holds fewer CALs of a type than are assigned, nothing is unassigned: the pool
        reports the excess and grants none of that type until assignments drop below the new count.
        """
        source = "pasted"
        if lef is None:
            lef = self.fetch_lef(serial=serial, control=control, owner=owner, organization=organization)
            source = "authority"
        view, _ = self._put_in_force(serial=serial, control=control, owner=owner, organization=organization,
                                     lef=lef, actor=actor, source=source)
        return view

    def fetch_lef(
        self, *, serial: str, control: str, owner: str, organization: str,
        lease_key: Ed25519PublicKey | None = None,
    ) -> str:
        """Ask the license authority for the newest LEF of a serial (the control number is checked first).

        Raises InvalidInput ``authority_not_configured``, LicenseRejected ``serial_not_found`` or
        AuthorityUnavailable; nothing is changed on this server.
        """
        serial, control = check_serial_and_control(serial, control)
        if self.authority is None:
            raise InvalidInput(
                "no license authority is configured on this server (CALKEEPER_AUTHORITY_URL); "
                "paste the LEF the vendor sent instead", code="authority_not_configured",
            )
        return self.authority.fetch_lef(serial=serial, control=control, owner=owner.strip(),
                                        organization=organization.strip(), lease_key=lease_key)

    def update_license(
        self, *, actor: str | None = None, lease_key: Ed25519PublicKey | None = None
    ) -> LicenseUpdate:
        """"Update license from server": fetch the newest LEF for the serial in force and apply it.

        Every check of "Apply license" runs; a failure leaves the license in force exactly as it was.
        A LEF identical to the one in force is not applied again (``updated`` is False).
        ``lease_key`` is the site's lease-signing public key, for the authority to vouch for.
        """
        current = self.license()
        if current is None:
            raise NoLicense("no license is in force to update; apply one first with its serial, control number, "
                            "owner and organization")
        text = self.fetch_lef(serial=current.serial, control=current.control, owner=current.owner,
                              organization=current.organization, lease_key=lease_key)
        if text == current.lef:
            return LicenseUpdate(updated=False, changes={}, license=current)
        view, changes = self._put_in_force(serial=current.serial, control=current.control, owner=current.owner,
                                           organization=current.organization, lef=text, actor=actor,
                                           source="authority")
        return LicenseUpdate(updated=True, changes=changes, license=view)

    def record_license_check_failure(self, *, error: CalkeeperError, actor: str) -> None:
        """Write to the audit trail why a check of the license authority changed nothing."""
        with self.uow(write=True) as tx:
            row = tx.records.license_row()
            tx.records.audit(actor, "license.update_failed", row["serial"] if row else "", code=error.code,
                             message=error.message)

    def _put_in_force(
        self, *, serial: str, control: str, owner: str, organization: str, lef: str, actor: str | None, source: str
    ) -> tuple[LicenseView, dict[str, str]]:
        terms = check_license(
            serial=serial, control=control, owner=owner, organization=organization, lef_text=lef,
            trusted_keys=self.trusted_keys, now=self.clock.now(),
        )
        with self.change() as tx:
            before = tx.records.license_row()
            tx.records.insert_license(terms, self.actor_or_default(actor))
            row = tx.records.license_row()
            assert row is not None
            changes = license_changes(before, row)
            tx.records.audit(self.actor_or_default(actor), "license.applied", terms.serial,
                             owner=terms.owner, organization=terms.organization, key_id=terms.key_id,
                             source=source, changes=changes)
            return license_view(row, terms.expired(tx.now)), changes

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
            history.append(LicenseChange(row["applied_at"], row["applied_by"], row["serial"], cals,
                                         license_changes(previous, row)))
        return history
