"""Rows a transaction writes and never reads back, sent with its COMMIT on PostgreSQL.

The access gate's transaction ends with inserts whose answers it does not need: the session it
started, the audit row of a dynamic assignment, the denial of a refused open. On PostgreSQL each
statement is a round trip, and a claim holds its pool's row lock through every one of them until it
commits. Once a transaction says it will read none of them back (``defer``), they wait here and go to
the server in one pipeline with the COMMIT: one round trip instead of three, so the pool's lock is held
that much shorter. They are part of the transaction all the same: if any of them fails, nothing of the
transaction is committed, and the error is the one the statement would have raised on its own.

On SQLite (and before ``defer``) each insert runs at once, as any statement does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


class TailWrites:
    """Inserts of one transaction that may wait for its commit."""

    def __init__(self, connection: Connection, *, postgres: bool) -> None:
        self.connection = connection
        self.postgres = postgres
        self.deferring = False
        self.pending: list[tuple[ClauseElement, dict[str, Any]]] = []

    def defer(self) -> None:
        """The transaction reads back none of the rows inserted through ``insert`` from now on."""
        self.deferring = self.postgres

    def insert(self, statement: ClauseElement, params: dict[str, Any]) -> None:
        """Run an insert now, or (deferring, PostgreSQL) with the commit."""
        if self.deferring:
            self.pending.append((statement, params))
        else:
            self.connection.execute(statement, params)  # type: ignore[call-overload]

    def commit(self) -> None:
        """Send the waiting inserts and the COMMIT in one pipeline; with none waiting, leave the commit to
        the transaction."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        raw: Any = self.connection.connection.driver_connection
        dialect = self.connection.dialect
        with driver_errors(self.connection), raw.pipeline(), raw.cursor() as cursor:
            for statement, params in pending:
                sql, values = _bound(statement, params, dialect)
                cursor.execute(sql, values)
            raw.commit()


@contextmanager
def driver_errors(connection: Connection) -> Iterator[None]:
    """PostgreSQL: raise the driver's errors as SQLAlchemy raises them, the connection given up when the server is
    gone (for statements sent straight to the driver)."""
    import psycopg

    try:
        yield
    except psycopg.Error as error:
        dialect = connection.dialect
        gone = dialect.is_disconnect(error, connection.connection, None)  # type: ignore[arg-type]
        if gone:
            connection.invalidate(error)
        raise DBAPIError.instance(None, None, error, psycopg.Error, connection_invalidated=gone,
                                  dialect=dialect) from error


_COMPILED: dict[tuple[int, tuple[str, ...]], tuple[ClauseElement, SQLCompiler]] = {}


def _bound(statement: ClauseElement, params: dict[str, Any], dialect: Dialect) -> tuple[str, dict[str, Any]]:
    """The statement's SQL for the driver (compiled once per statement and columns) and its parameters,
    converted by the columns' types as SQLAlchemy converts them."""
    key = (id(statement), tuple(params))
    found = _COMPILED.get(key)
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=dialect, column_keys=list(params))
        assert isinstance(compiled, SQLCompiler)
        found = _COMPILED[key] = (statement, compiled)
    compiled = found[1]
    values = dict(compiled.construct_params(params) or {})
    for name, convert in compiled._bind_processors.items():  # the types' conversions, as SQLAlchemy runs them
        if name in values and callable(convert):
            values[name] = convert(values[name])
    return compiled.string, values
