"""Moving a site's data to another database (a new server, or SQLite to PostgreSQL): ``calkeeper migrate-to URL``.

The move is a backup and a restore: the target must be empty; its schema is migrated; a backup of this site
is written and restored into it through every check a restore makes, together with what a backup leaves out
but a move carries (the audit trail, API tokens, console users, the dashboard's counts, alert deliveries),
in one transaction. Then every table's rows and every pool counter are counted on both sides.

What changes here after the snapshot is not moved: stop the server (or take it into maintenance) first.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.contract.views import SiteMoveReport
from calkeeper.core.clock import Clock
from calkeeper.core.errors import InvalidInput
from calkeeper.infra.database import make_engine, shown_url
from calkeeper.store.engine import data_held, migrate
from calkeeper.store.unit_of_work import UnitOfWork
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.decision_cache import DecisionCache, LastUsedWrites
from calkeeper.usecases.maintenance import Maintenance

LISTED = 5


class SiteMove:
    """This site's data, moved whole to an empty database."""

    def __init__(self, *, maintenance: Maintenance, clock: Clock,
                 trusted_keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.maintenance = maintenance
        self.clock = clock
        self.trusted_keys = dict(trusted_keys)

    def move_to(self, database_url: str, *, actor: str | None = None) -> SiteMoveReport:
        """Copy every table of this site into the empty database at ``database_url``, then compare both."""
        actor = self.maintenance.admin.actor(actor)
        shown = shown_url(database_url)
        here = self.maintenance.admin.uow.engine.url.render_as_string(hide_password=False)
        if here == database_url:
            raise InvalidInput("the target is this site's own database: name another one")
        engine = make_engine(database_url)
        try:
            held = data_held(engine)
            if held:
                more = f" (and {len(held) - LISTED} more)" if len(held) > LISTED else ""
                raise InvalidInput(f"{shown} is not empty: it holds {'; '.join(held[:LISTED])}{more}. A move goes "
                                   "into an empty database only; nothing was copied", details=held)
            migrate(engine)
            cache = DecisionCache(self.clock, refresh_seconds=1.0)  # the target serves nothing during the move
            admin = AdminTransactions(UnitOfWork(engine, self.clock), cache, LastUsedWrites(), actor)
            target = Maintenance(admin=admin, clock=self.clock, trusted_keys=self.trusted_keys)
            self.maintenance.sweep()  # what has ended here is freed first, so both sides count the same CALs
            with tempfile.TemporaryDirectory(prefix="calkeeper-move-") as folder:
                path = Path(folder) / "site.json"
                source_rows, moved, counters = self.maintenance.snapshot_for_move(path)
                target.restore(path, actor=actor, moved=moved)
            with target.admin.uow.read() as tx:
                target_rows, target_counters = tx.site_data.row_counts(), tx.site_data.counters()
                drift = tx.site_data.counter_drift()
        finally:
            engine.dispose()
        source_rows |= {name: len(rows) for name, rows in moved.items()}
        source_rows["audit_log"] += 1  # the target holds the restore's own entry besides
        tables = {name: [rows, target_rows.get(name, 0)] for name, rows in source_rows.items()}
        pools = {name: [used, target_counters.get(name, 0)] for name, used in counters.items()}
        report = SiteMoveReport(shown, tables, pools, {k: list(v) for k, v in drift.items()}, consistent=False)
        report = SiteMoveReport(shown, tables, pools, report.drift, consistent=not report.differences)
        with self.maintenance.admin.change() as tx:
            tx.history.audit(actor, "site.moved", shown, consistent=report.consistent,
                             rows=sum(rows for rows, _ in tables.values()))
        return report
