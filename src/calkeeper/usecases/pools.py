"""The CAL pools and the server-wide CAL settings (the console's General tab)."""

from __future__ import annotations

from typing import Any

from calkeeper.contract.views import CalOverview, CalSettings, PoolView
from calkeeper.core.cals import IdentificationMode
from calkeeper.core.errors import InvalidInput
from calkeeper.store.unit_of_work import Transaction
from calkeeper.usecases.admin import AdminTransactions


def settings_of(tx: Transaction) -> CalSettings:
    state, terms = tx.site_state.get(), tx.licenses.terms()
    other = "user" if state.identification_mode == "machine" else "machine"
    return CalSettings(
        allow_dynamic_assignment=state.allow_dynamic_assignment,
        allow_license_lease=state.allow_license_lease,
        identification_mode=state.identification_mode,
        lease_allowed_by_license=bool(terms.lease_allowed) if terms else False,
        maintenance=state.maintenance,
        other_kind_named_cals=tx.assignments.count_named_of_kind(other),
    )


class Pools:
    """Pool levels per CAL type, and the settings that govern them."""

    def __init__(self, *, admin: AdminTransactions) -> None:
        self.admin = admin

    def cal_overview(self) -> CalOverview:
        """Pools per CAL type (in license, assigned, quarantined, free, excess) and the settings."""
        with self.admin.uow.read() as tx:
            terms = tx.licenses.terms()
            pools = tx.assignments.pools(terms)
            settings = settings_of(tx)
        views = [
            PoolView(p.cal_type.value, p.cal_type.label, p.in_license, p.assigned, p.quarantined, p.free,
                     p.excess, p.allocated, p.unallocated)
            for p in pools.values()
        ]
        return CalOverview(views, settings, terms is not None)

    def counter_drift(self) -> dict[str, tuple[int, int]]:
        """The reconciliation check: every pool counter that disagrees with its rows, as (counter, rows).

        Empty on a healthy site; exported as a metric (``calkeeper_pool_counters_disagreeing``).
        """
        with self.admin.uow.read() as tx:
            return tx.site_data.counter_drift()

    def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                            allow_license_lease: bool | None = None, identification_mode: str | None = None,
                            actor: str | None = None) -> CalSettings:
        """Change "Allow dynamic CAL assignment", "Allow license lease" or the identification mode."""
        values: dict[str, Any] = {}
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
        with self.admin.change() as tx:
            if values:
                tx.site_state.update(**values)
                tx.history.audit(self.admin.actor(actor), "cal.settings_changed", "server", **values)
            return settings_of(tx)
