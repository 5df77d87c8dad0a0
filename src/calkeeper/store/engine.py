"""Database engines: SQLite (WAL, durable commits, writers queued) and PostgreSQL, and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from calkeeper.core.errors import StoreUnavailable

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration; a test checks it against the migrations folder.
HEAD_REVISION = "0005"


def make_engine(database_url: str, **options: Any) -> Engine:
    """Create an engine for a SQLite or PostgreSQL URL, set up for calkeeper's transactions."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url, **options)
    options.setdefault("pool_pre_ping", True)
    # Each process holds at most 20 connections: size PostgreSQL's max_connections for nodes x workers x 20.
    options.setdefault("pool_size", 10)
    options.setdefault("max_overflow", 10)
    options.setdefault("pool_timeout", 60)
    connect_args = options.pop("connect_args", {})
    connect_args.setdefault("connect_timeout", 5)
    return create_engine(database_url, connect_args=connect_args, **options)


def _sqlite_engine(database_url: str, **options: Any) -> Engine:
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


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at the packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for a new database."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (a quick check when it already is).

    Raises StoreUnavailable when the database cannot be reached.
    """
    try:
        revision = current_revision(engine)
    except OperationalError as error:  # the first connection: a failure here means no database to talk to
        reason = (str(error.orig or error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise StoreUnavailable(
            "the CAL database cannot be reached, so its schema could not be checked. "
            f"Check that it is running ({reason})"
        ) from error
    if revision == HEAD_REVISION:
        return
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
