"""Shared fixtures: a frozen clock, an authority key, and a site on SQLite or PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings

import calkeeper
from calkeeper.authority.signing import SigningKey
from tests.kit import make_root, new_key, postgres_available, postgres_database, sqlite_database

_PG_OK: bool | None = None

# CI explores the same examples on every run, so a landing is never decided by a lucky draw; local runs
# draw new examples each time and keep finding new cases.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def require_postgres() -> None:
    """Skip when PostgreSQL is absent on a developer's machine; fail loudly in CI."""
    global _PG_OK
    if _PG_OK is None:
        _PG_OK = postgres_available()
    if not _PG_OK:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not reachable at CALKEEPER_TEST_PG, and CI needs it")
        pytest.skip("PostgreSQL is not reachable (set CALKEEPER_TEST_PG); skipping PostgreSQL tests")


@pytest.fixture
def clock() -> calkeeper.FrozenClock:
    return calkeeper.FrozenClock()


@pytest.fixture
def key(tmp_path: Path) -> SigningKey:
    return new_key(tmp_path / "authority-keys")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return make_root(tmp_path / "documents")


@pytest.fixture
def pg_url() -> Iterator[str]:
    require_postgres()
    with postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_database(tmp_path)
    else:
        require_postgres()
        with postgres_database() as url:
            yield url


@pytest.fixture
def site(database_url: str, clock: calkeeper.FrozenClock, key: SigningKey, root: Path) -> Iterator[calkeeper.LocalSite]:
    """A site with the authority's key pinned and the four Analytix documents in its root folder."""
    s = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                            root_folder=root, actor="tester")
    yield s
    s.close()
