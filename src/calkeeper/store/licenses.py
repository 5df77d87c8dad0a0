"""The licenses a site applied: the newest one is in force."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from calkeeper.core.cals import CalType
from calkeeper.core.license import LicenseTerms, StoredLicense
from calkeeper.infra.database import table_of
from calkeeper.store.schema import LicenseRecord

license_t = table_of(LicenseRecord)


def _stored(row: Any) -> StoredLicense:
    terms = LicenseTerms(
        serial=row["serial"], control=row["control"], owner=row["owner"], organization=row["organization"],
        cals={CalType.NAMED: row["named_cals"], CalType.DOCUMENT: row["document_cals"],
              CalType.SESSION: row["session_cals"], CalType.USAGE: row["usage_cals"]},
        lease_allowed=bool(row["lease_allowed"]), time_limit=row["time_limit"],
        maintenance_until=row["maintenance_until"], key_id=row["key_id"], lef_text=row["lef_text"],
    )
    return StoredLicense(terms, row["applied_at"], row["applied_by"])


def license_values(terms: LicenseTerms) -> dict[str, Any]:
    """The columns of a license row that come from the checked license (all but when and by whom)."""
    return {
        "serial": terms.serial, "control": terms.control, "owner": terms.owner, "organization": terms.organization,
        "lef_text": terms.lef_text, "key_id": terms.key_id,
        "named_cals": terms.in_license(CalType.NAMED), "document_cals": terms.in_license(CalType.DOCUMENT),
        "session_cals": terms.in_license(CalType.SESSION), "usage_cals": terms.in_license(CalType.USAGE),
        "lease_allowed": terms.lease_allowed, "time_limit": terms.time_limit,
        "maintenance_until": terms.maintenance_until,
    }


class Licenses:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def in_force(self) -> StoredLicense | None:
        row = self.connection.execute(select(license_t).order_by(license_t.c.id.desc()).limit(1)).mappings().first()
        return _stored(row) if row is not None else None

    def terms(self) -> LicenseTerms | None:
        stored = self.in_force()
        return stored.terms if stored else None

    def history(self) -> list[StoredLicense]:
        """Every license applied, newest first."""
        return [_stored(r) for r in self.connection.execute(select(license_t).order_by(license_t.c.id.desc()))
                .mappings()]

    def add(self, terms: LicenseTerms, actor: str) -> StoredLicense:
        """Put a checked license in force (the caller bumps the generation)."""
        self.connection.execute(
            insert(license_t).values(**license_values(terms), applied_at=self.now, applied_by=actor)
        )
        return StoredLicense(terms, self.now, actor)
