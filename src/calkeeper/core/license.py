"""The license in force: what a checked LEF grants, and whether it may be applied or still holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.core import lef as lefs
from calkeeper.core.cals import CalType
from calkeeper.core.errors import LicenseRejected
from calkeeper.core.serials import check_serial_and_control

# The release date of this server. A LEF whose maintenance period (the PRODUCTLEVEL date) ended
# before it cannot license this release.
SERVER_RELEASE = date(2026, 11, 1)
SERVER_PRODUCT_LEVEL = "10"
# The owner name and the organization, as entered and as the LEF names them (the authority's limit too).
LICENSEE_MAX = 200


@dataclass(frozen=True)
class LicenseTerms:
    """What a site bought, read from its LEF."""

    serial: str
    control: str
    owner: str
    organization: str
    cals: dict[CalType, int]
    lease_allowed: bool
    time_limit: date | None
    maintenance_until: date | None
    key_id: str
    lef_text: str

    def expired(self, now: datetime) -> bool:
        """True once the TIMELIMIT day has passed (the limit day itself is still licensed)."""
        return self.time_limit is not None and now.date() > self.time_limit

    def in_license(self, cal_type: CalType) -> int:
        """How many CALs of a type the license holds."""
        return self.cals.get(cal_type, 0)

    def lease_key(self) -> lefs.LeaseKey | None:
        """The site's lease-signing key the authority vouched for in this LEF (``LEASE_KEY``), if any."""
        body, key_id, _ = lefs.split_signature(self.lef_text)
        return lefs.parse_body(body.decode("utf-8"), text=self.lef_text, key_id=key_id).lease_key()


@dataclass(frozen=True)
class StoredLicense:
    """A license the site put in force, and when and by whom."""

    terms: LicenseTerms
    applied_at: datetime
    applied_by: str


# What the license history and "Update license from server" report as changed, besides CAL counts.
_COMPARED = (("serial", "serial"), ("key_id", "signing key"), ("maintenance_until", "maintenance until"),
             ("time_limit", "time limit"), ("lease_allowed", "license lease"))


def license_changes(before: LicenseTerms | None, after: LicenseTerms) -> dict[str, str]:
    """What changed between two licenses: CAL counts, then the other terms, as "old -> new"."""
    changes = {}
    for t in CalType:
        old = before.in_license(t) if before else 0
        if old != after.in_license(t):
            changes[t.value] = f"{old} -> {after.in_license(t)}"
    for attribute, label in _COMPARED:
        old_value, new_value = getattr(before, attribute, None), getattr(after, attribute)
        if before is not None and old_value != new_value:
            changes[label] = f"{_shown(old_value)} -> {_shown(new_value)}"
    return changes


def _shown(value: object) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "allowed" if value else "not allowed"
    return str(value)


def check_license(
    *,
    serial: str,
    control: str,
    owner: str,
    organization: str,
    lef_text: str,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    now: datetime,
    release: date = SERVER_RELEASE,
) -> LicenseTerms:
    """Run every check "Apply license" makes, in order, and return the terms; refuse at the first failure.

    The owner and organization entered must be the ones the LEF names (compared case-insensitively,
    surrounding blanks ignored); the terms keep the LEF's spelling.
    """
    serial, control = check_serial_and_control(serial, control)
    owner, organization = _entered(owner, "owner name"), _entered(organization, "organization")
    lef = lefs.verify(lef_text, trusted_keys)
    if lef.serial != serial:
        raise LicenseRejected(
            f"the LEF is for serial {lef.serial}, not for the serial entered ({serial})",
            code="lef_serial_mismatch",
        )
    _check_licensee(lef, owner=owner, organization=organization)
    counts = {cal_type: lef.count(tag) for tag, cal_type in _COUNT_TYPES.items()}
    if counts[CalType.NAMED] < 1:
        raise LicenseRejected(
            "the LEF has no Named User CAL; every site must have at least one", code="lef_no_named_cal"
        )
    maintenance_until = _check_product_level(lef, release)
    time_limit = None
    if "TIMELIMIT" in lef.tags:
        time_limit = lefs.parse_date(lef.tags["TIMELIMIT"].valid_to, "TIMELIMIT")
        if now.date() > time_limit:
            raise LicenseRejected(
                f"the license expired on {time_limit.isoformat()} (TIMELIMIT in the LEF)",
                code="license_expired",
            )
    lef.lease_key()  # a damaged LEASE_KEY line refuses the LEF now, not when a lease is checked
    lease_tag = lef.tags.get("LICENSE_LEASE")
    lease_value = lease_tag.value.upper() if lease_tag else "YES"
    if lease_value not in {"YES", "NO"}:
        raise LicenseRejected("the LEF is malformed: LICENSE_LEASE must be YES or NO", code="lef_malformed")
    return LicenseTerms(
        serial=serial,
        control=control,
        owner=lef.owner.strip(),
        organization=lef.organization.strip(),
        cals=counts,
        lease_allowed=lease_value == "YES",
        time_limit=time_limit,
        maintenance_until=maintenance_until,
        key_id=lef.key_id,
        lef_text=lef_text,
    )


def check_recorded_license(
    *,
    serial: str,
    control: str,
    owner: str,
    organization: str,
    lef_text: str,
    trusted_keys: Mapping[str, Ed25519PublicKey],
    applied_at: datetime,
) -> LicenseTerms:
    """Check a license of a site's history as "Apply license" checked it when it was applied.

    Every check runs, and the time limit is read as of ``applied_at``: a license that expired since, or
    whose maintenance period an older release accepted, still passes; a LEF not signed by a pinned key
    for that serial does not.
    """
    return check_license(
        serial=serial, control=control, owner=owner, organization=organization, lef_text=lef_text,
        trusted_keys=trusted_keys, now=applied_at, release=date.min,
    )


def _entered(value: str, what: str) -> str:
    value = (value or "").strip()
    if not value:
        raise LicenseRejected(f"the {what} is required", code="invalid_input")
    if len(value) > LICENSEE_MAX:
        raise LicenseRejected(f"the {what} has {len(value)} characters; at most {LICENSEE_MAX} are allowed",
                              code="invalid_input")
    return value


def _check_licensee(lef: lefs.Lef, *, owner: str, organization: str) -> None:
    """Refuse a LEF applied under another owner or organization than the ones it names."""
    named = {"owner": lef.owner.strip(), "organization": lef.organization.strip()}
    for what, value in named.items():
        if len(value) > LICENSEE_MAX:
            raise LicenseRejected(f"the LEF is malformed: its {what} has more than {LICENSEE_MAX} characters",
                                  code="lef_malformed")
    entered = {"owner": owner, "organization": organization}
    differ = [f"the {what} '{named[what]}', not '{entered[what]}' as entered"
              for what in named if named[what].casefold() != entered[what].casefold()]
    if differ:
        raise LicenseRejected(
            f"the LEF names {', and '.join(differ)}; apply it with the owner name and organization it names",
            code="lef_owner_mismatch",
        )


_COUNT_TYPES = {tag: CalType(kind) for tag, kind in lefs.COUNT_TAGS.items()}


def _check_product_level(lef: lefs.Lef, release: date) -> date | None:
    tag = lef.tags.get("PRODUCTLEVEL")
    if tag is None:
        raise LicenseRejected("the LEF is malformed: it has no PRODUCTLEVEL line", code="lef_malformed")
    if tag.value != SERVER_PRODUCT_LEVEL:
        raise LicenseRejected(
            f"the LEF is for product level {tag.value}, not for a CAL server (level {SERVER_PRODUCT_LEVEL})",
            code="lef_wrong_product",
        )
    if not tag.valid_to:
        return None
    until = lefs.parse_date(tag.valid_to, "PRODUCTLEVEL")
    if until < release:
        raise LicenseRejected(
            f"this server release ({release.isoformat()}) is newer than the end of the maintenance "
            f"period in the LEF ({until.isoformat()}); renew maintenance or run an older release",
            code="lef_maintenance_expired",
        )
    return until
