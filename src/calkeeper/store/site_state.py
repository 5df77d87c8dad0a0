"""The server-wide settings row, and the generation that tells every node's cache to reload."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from calkeeper.core.assignments import SiteState
from calkeeper.infra.database import table_of
from calkeeper.store.schema import SiteState as SiteStateRow

state_t = table_of(SiteStateRow)


def bump_generation(connection: Connection) -> None:
    """Tell every node's cache that decisions may have changed (in the caller's transaction)."""
    connection.execute(update(state_t).where(state_t.c.id == 1).values(generation=state_t.c.generation + 1))


class SiteStateRepository:
    """Reads and changes ``site_state`` (one row)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def get(self) -> SiteState:
        row = self.connection.execute(select(state_t).where(state_t.c.id == 1)).mappings().one()
        return SiteState(int(row["generation"]), bool(row["allow_dynamic_assignment"]),
                         bool(row["allow_license_lease"]), str(row["identification_mode"]), bool(row["maintenance"]))

    def generation(self) -> int:
        return int(self.connection.execute(select(state_t.c.generation).where(state_t.c.id == 1)).scalar_one())

    def update(self, **values: Any) -> None:
        """Change settings (none: only bump) and tell every node's cache that decisions may have changed."""
        self.connection.execute(
            update(state_t).where(state_t.c.id == 1).values(generation=state_t.c.generation + 1, **values)
        )

    def bump(self) -> None:
        """Tell every node's cache that decisions may have changed."""
        bump_generation(self.connection)
