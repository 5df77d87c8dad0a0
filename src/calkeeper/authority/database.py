"""The license authority's database: an engine (SQLite by default, PostgreSQL too) and its migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, inspect, text

from calkeeper.infra.database import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "authority_alembic_version"
# The newest migration; a test checks it against the migrations folder.
HEAD_REVISION = "a0001"


def open_engine(database_url: str) -> Engine:
    """An engine for the authority's database, with its schema migrated to the newest revision."""
    if database_url.startswith("sqlite:///"):
        # The folder also holds the signing keys: readable by the authority's account only.
        Path(database_url.removeprefix("sqlite:///")).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    engine = make_engine(database_url)
    migrate(engine)
    return engine


def alembic_config(database_url: str) -> Config:
    """An Alembic configuration pointing at the authority's packaged migrations."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def current_revision(engine: Engine) -> str | None:
    """The migration the authority's tables are at, or None when they do not exist yet."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(VERSION_TABLE):
            return None
        return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


def migrate(engine: Engine) -> None:
    """Bring the authority's tables to the newest migration (a quick check when they already are)."""
    if current_revision(engine) == HEAD_REVISION:
        return
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
