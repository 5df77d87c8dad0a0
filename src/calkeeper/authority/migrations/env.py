"""Alembic environment of the license authority: its own tables and its own version table."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import create_engine

from calkeeper.authority.schema import AuthorityBase

VERSION_TABLE = "authority_alembic_version"
config = context.config
target_metadata = AuthorityBase.metadata


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # A database shared with a CAL server holds its tables too; they are not the authority's business.
    return not (type_ == "table" and reflected and not (name or "").startswith("authority_"))


def _run(connection: Any) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      version_table=VERSION_TABLE, include_object=_ours)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as conn:
        _run(conn)


run_migrations_online()
