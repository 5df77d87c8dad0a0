"""Database engines, and the column type and constraint names that both schemas use.

SQLite gets WAL, durable commits, writers queued (``BEGIN IMMEDIATE`` for connections marked
``calkeeper_write``) and files only the server's account may read; PostgreSQL gets a bounded pool
that checks a connection before use when it has lain idle. A database URL is printed and logged with its
password masked.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, Table, TextClause, bindparam, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError
from sqlalchemy.types import DateTime, TypeDecorator

from calkeeper.core.clock import as_utc
from calkeeper.infra.private_paths import private_sqlite_files

# Constraint names both schemas use, so that migrations can name what they alter.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value if getattr(dialect, "name", "") == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else as_utc(value)


MASK = "***"


def shown_url(database_url: str) -> str:
    """A database URL fit to print or log: its password masked (``postgresql+psycopg://cal:***@db/cal``)."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:  # not a URL SQLAlchemy reads: mask whatever stands between ':' and '@'
        return re.sub(r"(://[^:/@]*:)[^@]*@", rf"\1{MASK}@", database_url)


def without_password(text: str, url: URL) -> str:
    """Text from a driver or a library (an error message, say) with the URL's password masked in it."""
    if not url.password:
        return text
    secret = str(url.password)
    for spelling in dict.fromkeys((secret, quote(secret, safe=""))):
        text = text.replace(spelling, MASK)
    return text


def make_engine(database_url: str, **options: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL, set up for calkeeper's transactions."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url, **options)
    # Each process holds at most 20 connections: size PostgreSQL's max_connections for nodes x workers x 20.
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    options.setdefault("pool_timeout", 60)
    connect_args = options.pop("connect_args", {})
    connect_args.setdefault("connect_timeout", 5)
    options.setdefault("pool_use_lifo", True)  # the connection used last goes out first: the others may lie idle
    engine = create_engine(database_url, connect_args=connect_args, **options)
    ping_when_idle(engine)
    return engine


# A connection that lay in the pool longer than this is checked before use (a server restart or a firewall
# may have cut it meanwhile); one in steady use is not, as that check costs a round trip per transaction.
PING_AFTER_IDLE_SECONDS = 1.0


def ping_when_idle(engine: Engine, *, after: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Check a pooled connection that has lain idle before handing it out; a dead one is replaced.

    SQLAlchemy's ``pool_pre_ping`` checks on every checkout, one round trip in each transaction. A
    connection that died while in steady use fails its next statement instead: that statement's
    transaction is refused as the database being unavailable, and the pool replaces every connection
    older than the failure.
    """

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < after:
            return
        try:
            if not engine.dialect.do_ping(dbapi_connection):
                raise DisconnectionError("the connection did not answer its check")
        except DisconnectionError:
            raise
        except Exception as error:
            raise DisconnectionError(str(error)) from error


def _sqlite_engine(database_url: str, **options: Any) -> Engine:
    path = make_url(database_url).database
    if path and path != ":memory:" and not path.startswith("file:"):
        private_sqlite_files(Path(path))
    connect_args = options.pop("connect_args", {})
    connect_args.setdefault("timeout", 60)
    connect_args.setdefault("check_same_thread", False)
    options.setdefault("pool_size", 8)
    options.setdefault("max_overflow", 256)
    options.setdefault("pool_timeout", 120)
    engine = create_engine(database_url, connect_args=connect_args, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how each transaction starts.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before it is acknowledged, even across a power cut.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers take the write lock up front: two writers never deadlock upgrading read locks,
        # and a claim that counts rows and inserts one is serialized against every other claim.
        immediate = connection.get_execution_options().get("calkeeper_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def is_sqlite(engine: Engine) -> bool:
    """True when the engine talks to SQLite."""
    return engine.dialect.name == "sqlite"


def table_of(model: Any) -> Table:
    """The table of a declarative model, typed as the Table it is (``__table__`` is typed loosely)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def typed_text(sql: str, *times: str) -> TextClause:
    """A statement written in SQL, built once, whose named parameters ``times`` are UTC datetimes."""
    return text(sql).bindparams(*(bindparam(name, type_=UtcDateTime()) for name in times))
