"""What every use case shares: the unit of work, the clock, the license in force, the sweep."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine, RowMapping

from calkeeper.contract.views import AssignedCal
from calkeeper.core.allocation import SiteRules
from calkeeper.core.authority import LicenseAuthority
from calkeeper.core.cals import CalType, IdentificationMode
from calkeeper.core.clock import Clock
from calkeeper.core.license import LicenseTerms
from calkeeper.services.decision_cache import DecisionCache, LastUsedWrites
from calkeeper.services.grant_history import GrantTally
from calkeeper.store.unit_of_work import Transaction, UnitOfWork


def terms_from_row(row: RowMapping | None) -> LicenseTerms | None:
    """Rebuild the terms of the license in force from its stored row."""
    if row is None:
        return None
    return LicenseTerms(
        serial=row["serial"], control=row["control"], owner=row["owner"], organization=row["organization"],
        cals={CalType.NAMED: row["named_cals"], CalType.DOCUMENT: row["document_cals"],
              CalType.SESSION: row["session_cals"], CalType.USAGE: row["usage_cals"]},
        lease_allowed=row["lease_allowed"], time_limit=row["time_limit"],
        maintenance_until=row["maintenance_until"], key_id=row["key_id"], lef_text=row["lef_text"],
    )


def assigned_cal(row: RowMapping, *, document: str | None = None) -> AssignedCal:
    """An assigned Named or Document CAL row as a view."""
    return AssignedCal(
        user=row.get("identity_name") or row["user_name"],
        identity_kind=row.get("identity_kind", "user"),
        source=row["source"], assigned_at=row["assigned_at"], last_used=row["last_used"],
        quarantined_until=row["quarantined_until"], document=document,
    )


class SiteBase:
    """The wiring every group of use cases uses."""

    def __init__(
        self,
        *,
        engine: Engine,
        clock: Clock,
        trusted_keys: Mapping[str, Ed25519PublicKey],
        root_folder: Path | None,
        actor: str,
        cache_refresh_seconds: float = 0.5,
        authority: LicenseAuthority | None = None,
    ) -> None:
        self.engine = engine
        self.authority = authority
        self.clock = clock
        self.trusted_keys = dict(trusted_keys)
        self.root_folder = root_folder
        self.actor = actor
        self.uow = UnitOfWork(engine, clock)
        self.cache = DecisionCache(clock, refresh_seconds=cache_refresh_seconds)
        self.grant_tally = GrantTally()
        self.last_used_writes = LastUsedWrites()

    @contextmanager
    def change(self) -> Iterator[Transaction]:
        """A write transaction for an admin change: frees ended quarantines first, drops cached decisions after."""
        self.write_deferred_last_used()
        try:
            with self.uow(write=True) as tx:
                self.sweep_in(tx)
                yield tx
        finally:
            self.cache.invalidate()

    def write_deferred_last_used(self) -> None:
        """Write "last used" minutes a server deferred, so an admin change sees them."""
        pending = self.last_used_writes.take()
        if pending:
            with self.uow(write=True) as tx:
                for (cal_type, cal_id), minute in pending.items():
                    tx.claims.touch(cal_type, cal_id, minute=minute)

    def sweep_in(self, tx: Transaction) -> None:
        """Free CALs whose quarantine ended, with an audit row each."""
        if tx.claims.any_ended_quarantine():
            tx.claims.free_all_ended_quarantines()
        self.audit_freed(tx)

    def audit_freed(self, tx: Transaction) -> None:
        for kind, name, until in tx.claims.freed:
            tx.records.audit("calkeeper", "cal.quarantine_ended", name, cal=kind, quarantined_until=until)
        if tx.claims.freed:
            tx.records.update_state()
        tx.claims.freed.clear()

    def terms(self, tx: Transaction) -> LicenseTerms | None:
        return terms_from_row(tx.records.license_row())

    def rules(self, tx: Transaction) -> SiteRules:
        state = tx.records.state()
        return SiteRules(
            terms=self.terms(tx),
            allow_dynamic_assignment=bool(state["allow_dynamic_assignment"]),
            identification_mode=IdentificationMode(state["identification_mode"]),
            maintenance=bool(state["maintenance"]),
        )

    def actor_or_default(self, actor: str | None) -> str:
        return actor or self.actor
