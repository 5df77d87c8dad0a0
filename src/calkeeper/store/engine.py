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

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration; a test checks it against the migrations folder.
HEAD_REVISION = "0011"
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
