"""The CAL database's migrations: the packaged Alembic scripts, and bringing a database to the newest one.

Engines are made by ``calkeeper.infra.database.make_engine``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

from calkeeper.core.errors import StoreUnavailable
from calkeeper.infra.database import without_password
from calkeeper.store.schema import Base

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration; a test checks it against the migrations folder.
HEAD_REVISION = "0016"
log = logging.getLogger("calkeeper.store")


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

    Raises StoreUnavailable when the database cannot be reached (why, naming its host, goes to the log).
    """
    try:
        revision = current_revision(engine)
    except OperationalError as error:  # the first connection: a failure here means no database to talk to
        log.error("the CAL database cannot be reached: %s",
                  without_password(str(error.orig or error).strip()[:500], engine.url))
        raise StoreUnavailable(
            "the CAL database is unavailable, so its schema could not be checked. "
            "Check that it is running; the log says why"
        ) from error
    if revision == HEAD_REVISION:
        return
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


# Tables every migrated database holds rows in from the start: they hold no site data of their own.
_SEEDED = {"alembic_version", "site_state", "cal_pools"}


def data_held(engine: Engine) -> list[str]:
    """What a database holds that makes it no empty target for a move: each table not of calkeeper's schema, and
    each of its tables holding rows (but those a new schema fills); empty when there is nothing."""
    with engine.connect() as connection:
        names = inspect(connection).get_table_names()
        ours = set(Base.metadata.tables) | _SEEDED
        held = [f"a table '{name}' calkeeper does not make" for name in sorted(set(names) - ours)]
        for name in sorted(set(names) & set(Base.metadata.tables) - _SEEDED):
            rows = int(connection.execute(text(f"SELECT COUNT(*) FROM {name}")).scalar_one())  # our own table names
            if rows:
                held.append(f"{rows} row{'s' if rows > 1 else ''} in '{name}'")
    return held
