"""What a backup's rows may hold: the rules live input passes, checked before a restore writes a row.

A restore must not put in force a license row whose terms are not the ones its signed LEF grants.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from calkeeper.core.errors import BackupError
from calkeeper.core.license import LicenseTerms
from calkeeper.store.licenses import license_values


def license_row(row: Mapping[str, Any], terms: LicenseTerms) -> dict[str, Any]:
    """The license row to restore: every term from its checked LEF; refuse a row that says otherwise."""
    values = license_values(terms)
    differs = [f"{column} {_shown(row[column])} where its signed LEF says {_shown(value)}"
               for column, value in values.items() if row[column] != value]
    if differs:
        raise BackupError(
            f"the backup's license of serial {terms.serial} (applied {row['applied_at']:%Y-%m-%d}) says "
            f"{'; '.join(differs)}: the file was edited since it was written"
        )
    return {**values, "id": row["id"], "applied_at": row["applied_at"], "applied_by": row["applied_by"]}


def _shown(value: Any) -> str:
    shown = "none" if value is None else str(value)
    return f"'{shown[:60]}…'" if len(shown) > 60 else f"'{shown}'"
