"""PostgreSQL connections are checked before use only when they have lain idle in the pool.

A connection in steady use goes out unchecked (a check is one more round trip in every transaction).
One that lay idle past the bound is checked first, and replaced without an error when it is dead, as
after a server restart or a firewall cutting quiet connections.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from calkeeper.infra.database import make_engine, ping_when_idle
from tests.conftest import require_postgres
from tests.kit import postgres_database

PID = sa.text("SELECT pg_backend_pid()")


@pytest.fixture
def url() -> Iterator[str]:
    require_postgres()
    with postgres_database(migrated=False) as database:
        yield database


def backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(PID).scalar_one())


def terminate(url: str, pid: int) -> None:
    """End a server process, and wait until the server has let it go."""
    killer = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        assert connection.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
    killer.dispose()


def test_a_connection_that_lay_idle_and_died_is_replaced_without_an_error(url: str) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0)
    ping_when_idle(engine, after=0.0)  # every connection counts as having lain idle
    try:
        first = backend_pid(engine)
        terminate(url, first)
        second = backend_pid(engine)  # checked, found dead, replaced: no error reaches the caller
        assert second != first
    finally:
        engine.dispose()


def test_a_connection_in_steady_use_is_not_checked_and_the_pool_recovers_after_one_failure(url: str) -> None:
    engine = make_engine(url, pool_size=1, max_overflow=0)  # the bound: a second and more
    try:
        first = backend_pid(engine)
        terminate(url, first)
        with pytest.raises(OperationalError), engine.connect() as connection:
            connection.execute(PID)  # handed out at once, unchecked: its statement fails
        assert backend_pid(engine) != first  # the pool replaced it after the failure
    finally:
        engine.dispose()
