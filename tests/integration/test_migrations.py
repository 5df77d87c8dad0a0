"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL;
running them again changes nothing; and the audit trail they create is append-only in the database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from calkeeper.infra.database import make_engine
from calkeeper.store.engine import alembic_config, migrate
from calkeeper.store.schema import Base


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def differences(engine: sa.Engine) -> list[Any]:
    """What autogenerate would write to bring the database to the models (types and defaults too)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        return list(compare_metadata(context, Base.metadata))


def alembic(engine: sa.Engine, verb: str, revision: str) -> None:
    """Run an Alembic command on the engine's database, as ``migrate`` does."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


def head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def schema(engine: sa.Engine) -> dict[str, Any]:
    """Everything that makes up the schema: tables, columns, indexes, constraints and triggers."""
    inspector = sa.inspect(engine)
    tables = {}
    for table in sorted(inspector.get_table_names()):
        tables[table] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)],
            "indexes": sorted(plain(i) for i in inspector.get_indexes(table)),
            "unique": sorted(plain(u) for u in inspector.get_unique_constraints(table)),
            "checks": sorted(plain(c) for c in inspector.get_check_constraints(table)),
            "foreign_keys": sorted(plain(f) for f in inspector.get_foreign_keys(table)),
        }
    return {"tables": tables, "triggers": triggers(engine)}


def plain(value: Any) -> str:
    """A reflected item as text that compares equal whenever the item is the same."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {plain(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(plain(v) for v in value) + "]"
    return str(value)  # SQL expressions (a partial index's WHERE) as their text


def triggers(engine: sa.Engine) -> list[str]:
    query = (
        "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
        if engine.dialect.name == "sqlite"
        else "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal ORDER BY tgname"
    )
    with engine.connect() as connection:
        return list(connection.exec_driver_sql(query).scalars())


def seed_rows(engine: sa.Engine) -> dict[str, Any]:
    with engine.connect() as connection:
        return {
            "site_state": connection.exec_driver_sql("SELECT * FROM site_state").all(),
            "cal_pools": connection.exec_driver_sql("SELECT * FROM cal_pools ORDER BY cal_type").all(),
            "alembic_version": connection.exec_driver_sql("SELECT version_num FROM alembic_version").all(),
        }


# -- models and migrations agree ----------------------------------------------------------------------


def test_a_freshly_migrated_database_is_exactly_what_the_models_describe(engine):
    migrate(engine)
    assert differences(engine) == []
    assert {t for t in sa.inspect(engine).get_table_names() if t != "alembic_version"} == set(Base.metadata.tables)


def test_the_comparison_would_notice_a_schema_that_drifted_from_the_models(engine):
    # guards the test above against comparing nothing
    migrate(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_named_cals_quarantined_until")
    drift = differences(engine)
    assert [d[0] for d in drift] == ["add_index"]
    assert drift[0][1].name == "ix_named_cals_quarantined_until"


# -- migrating again changes nothing ----------------------------------------------------------------


def test_migrating_twice_is_a_no_op(engine):
    migrate(engine)
    before = schema(engine), seed_rows(engine)
    migrate(engine)
    alembic(engine, "upgrade", "head")  # the real upgrade too, not only the quick "already at head" check
    assert (schema(engine), seed_rows(engine)) == before
    assert seed_rows(engine)["alembic_version"] == [(head(),)]
    assert len(before[1]["site_state"]) == 1 and len(before[1]["cal_pools"]) == 4


def test_migrations_go_down_to_nothing_and_back_up_to_the_same_schema(engine):
    migrate(engine)
    built = schema(engine)
    alembic(engine, "downgrade", "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    assert triggers(engine) == []
    alembic(engine, "upgrade", "head")
    assert schema(engine) == built
    assert differences(engine) == []


# -- the audit trail is append-only in the database itself ------------------------------------------


def insert_audit_row(connection: sa.Connection) -> int:
    connection.execute(
        sa.text("INSERT INTO audit_log (at, actor, action, target, details) "
                "VALUES (CURRENT_TIMESTAMP, 'tester', 'test.written', 'server', :details)"),
        {"details": '{"by": "test"}'},
    )
    return int(connection.exec_driver_sql("SELECT max(id) FROM audit_log").scalar_one())


def test_the_database_refuses_to_change_or_delete_audit_entries(engine):
    migrate(engine)
    with engine.begin() as connection:
        row_id = insert_audit_row(connection)  # appending is allowed
    for statement in (
        f"UPDATE audit_log SET actor = 'someone else' WHERE id = {row_id}",
        "UPDATE audit_log SET details = '{}'",
        f"DELETE FROM audit_log WHERE id = {row_id}",
        "DELETE FROM audit_log",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="the audit trail is append-only"), engine.begin() as connection:
            connection.exec_driver_sql(statement)
    with engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT id, actor, action, details FROM audit_log").all()
    assert rows == [(row_id, "tester", "test.written", '{"by": "test"}')]
