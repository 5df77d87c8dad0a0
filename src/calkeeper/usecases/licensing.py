"""The server license: apply it (pasted or fetched from the authority), update it from the authority,
show it and its history."""

from __future__ import annotations

from collections.abc import Mapping

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.contract.views import LicenseChange, LicenseUpdate, LicenseView
from calkeeper.core.authority import LicenseAuthority
from calkeeper.core.cals import CalType
from calkeeper.core.clock import Clock
from calkeeper.core.errors import CalkeeperError, InvalidInput, NoLicense
from calkeeper.core.license import StoredLicense, check_license, license_changes
from calkeeper.core.serials import check_serial_and_control
from calkeeper.usecases.admin import AdminTransactions


def license_view(stored: StoredLicense, *, expired: bool) -> LicenseView:
    terms = stored.terms
    return LicenseView(
        serial=terms.serial, control=terms.control, owner=terms.owner, organization=terms.organization,
        status="expired" if expired else "valid", cals={t.value: terms.in_license(t) for t in CalType},
        lease_allowed=terms.lease_allowed, time_limit=terms.time_limit, maintenance_until=terms.maintenance_until,
        key_id=terms.key_id, applied_at=stored.applied_at, applied_by=stored.applied_by, lef=terms.lef_text,
    )


class Licensing:
    """Apply, update and show the server license."""

    def __init__(self, *, admin: AdminTransactions, clock: Clock, trusted_keys: Mapping[str, Ed25519PublicKey],
                 authority: LicenseAuthority | None, lease_key: Ed25519PublicKey | None = None) -> None:
        self.lease_key = lease_key  # the site's lease key, sent with every fetch for the authority to vouch for
        self.admin = admin
        self.clock = clock
        self.trusted_keys = dict(trusted_keys)
        self.authority = authority

    def apply_license(self, *, serial: str, control: str, owner: str, organization: str, lef: str | None = None,
                      actor: str | None = None) -> LicenseView:
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

    def fetch_lef(self, *, serial: str, control: str, owner: str, organization: str,
                  lease_key: Ed25519PublicKey | None = None) -> str:
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
                                        organization=organization.strip(), lease_key=lease_key or self.lease_key)

    def update_license(self, *, actor: str | None = None, lease_key: Ed25519PublicKey | None = None) -> LicenseUpdate:
        """"Update license from server": fetch the newest LEF for the serial in force and apply it.

        Every check of "Apply license" runs; a failure leaves the license in force exactly as it was.
        A LEF identical to the one in force is not applied again (``updated`` is False).
        ``lease_key`` is the site's lease-signing public key, for the authority to vouch for (default: this site's).
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
        with self.admin.uow.write() as tx:
            stored = tx.licenses.in_force()
            tx.history.audit(actor, "license.update_failed", stored.terms.serial if stored else "", code=error.code,
                             message=error.message)

    def license_cals(self, *, serial: str, control: str, owner: str, organization: str, lef: str) -> dict[str, int]:
        """The CALs a license would hold, after every check "Apply license" makes, without applying it."""
        terms = check_license(serial=serial, control=control, owner=owner, organization=organization, lef_text=lef,
                              trusted_keys=self.trusted_keys, now=self.clock.now())
        return {cal_type.value: terms.in_license(cal_type) for cal_type in CalType}

    def _put_in_force(self, *, serial: str, control: str, owner: str, organization: str, lef: str,
                      actor: str | None, source: str) -> tuple[LicenseView, dict[str, str]]:
        terms = check_license(
            serial=serial, control=control, owner=owner, organization=organization, lef_text=lef,
            trusted_keys=self.trusted_keys, now=self.clock.now(),
        )
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            before = tx.licenses.terms()
            stored = tx.licenses.add(terms, actor)
            tx.site_state.bump()
            changes = license_changes(before, terms)
            tx.history.audit(actor, "license.applied", terms.serial, owner=terms.owner,
                             organization=terms.organization, key_id=terms.key_id, source=source, changes=changes)
            return license_view(stored, expired=terms.expired(tx.now)), changes

    def license(self) -> LicenseView | None:
        """The license in force, or None when none was applied."""
        with self.admin.uow.read() as tx:
            stored = tx.licenses.in_force()
            return license_view(stored, expired=stored.terms.expired(tx.now)) if stored else None

    def license_history(self) -> list[LicenseChange]:
        """Every license applied, newest first, with what each changed."""
        with self.admin.uow.read() as tx:
            stored = tx.licenses.history()
        history = []
        for index, entry in enumerate(stored):
            previous = stored[index + 1].terms if index + 1 < len(stored) else None
            cals = {t.value: entry.terms.in_license(t) for t in CalType}
            history.append(LicenseChange(entry.applied_at, entry.applied_by, entry.terms.serial, cals,
                                         license_changes(previous, entry.terms)))
        return history
