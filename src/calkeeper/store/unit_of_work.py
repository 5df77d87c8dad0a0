"""One transaction per use case: opened by the edge, committed once, rolled back on any error."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, OperationalError

from calkeeper.core.clock import Clock
from calkeeper.core.errors import StoreUnavailable
from calkeeper.store.claims import Claims
from calkeeper.store.records import Records


@dataclass
class Transaction:
    """What a use case works with inside its one transaction."""

    connection: Connection
    now: datetime
    claims: Claims
    records: Records


class UnitOfWork:
    """Opens transactions on an engine; ``write=True`` ones take the write lock up front on SQLite."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self.postgres = engine.dialect.name == "postgresql"

    @contextmanager
    def __call__(self, *, write: bool = True) -> Iterator[Transaction]:
        """Run the body in one transaction; commit when it returns, roll back when it raises."""
        try:
            with self.engine.connect() as connection:
                connection = connection.execution_options(calkeeper_write=write)
                with connection.begin():
                    now = self.clock.now()
                    claims = Claims(connection, now, postgres=self.postgres)
                    yield Transaction(connection, now, claims, Records(connection, now, claims))
        except (OperationalError, DBAPIError) as error:
            if "database is locked" in str(error.orig):
                raise StoreUnavailable(
                    "the CAL database is busy with other changes and did not answer in time; nothing was "
                    "changed. Try again"
                ) from error
            if _is_unavailable(error):
                raise StoreUnavailable(
                    "the CAL database cannot be reached; nothing was changed. "
                    f"Check that it is running ({_short(error)})"
                ) from error
            raise


def _is_unavailable(error: DBAPIError) -> bool:
    if error.connection_invalidated or isinstance(error, OperationalError):
        return True
    name = type(error.orig).__name__ if error.orig is not None else ""
    return name in {"OperationalError", "InterfaceError", "AdminShutdown", "ConnectionFailure"}


def _short(error: DBAPIError) -> str:
    text = str(error.orig or error).strip().splitlines()
    return text[0][:200] if text else type(error).__name__
