"""Secrets stay secret: no database password is printed, and the data folder is the server's account's alone."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

import calkeeper
from calkeeper.bootstrap import bootstrap
from calkeeper.cli.main import app
from calkeeper.core.errors import StoreUnavailable
from calkeeper.demo import set_up_demo
from calkeeper.infra.database import make_engine, shown_url
from calkeeper.settings import Settings
from calkeeper.store.engine import migrate
from calkeeper.store.unit_of_work import UnitOfWork
from tests.kit import sqlite_database

PASSWORD = "s3cret-Pw"
UNREACHABLE = f"postgresql+psycopg://calkeeper:{PASSWORD}@127.0.0.1:1/calkeeper"


def with_password(url: str) -> str:
    """The same PostgreSQL URL with a password in it (the test server trusts local connections, so it is ignored)."""
    return url.replace("://postgres@", f"://postgres:{PASSWORD}@", 1)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """Files made the way most systems make them: readable by every local user unless told otherwise."""
    before = os.umask(0o022)
    yield
    os.umask(before)


# -- the database password ---------------------------------------------------------------------------------


def test_a_database_url_is_shown_with_its_password_masked() -> None:
    assert shown_url(UNREACHABLE) == "postgresql+psycopg://calkeeper:***@127.0.0.1:1/calkeeper"
    assert shown_url("postgresql+psycopg://cal:p%40ss@db/cal") == "postgresql+psycopg://cal:***@db/cal"
    assert shown_url("sqlite:////var/lib/calkeeper/calkeeper.db") == "sqlite:////var/lib/calkeeper/calkeeper.db"


def test_the_demo_prints_its_postgresql_database_without_the_password(tmp_path: Path, pg_url: str) -> None:
    done = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "site"), "--db", with_password(pg_url), "demo"])
    assert done.exit_code == 0, done.output
    assert PASSWORD not in done.output
    assert "Database: postgresql+psycopg://postgres:***@127.0.0.1" in done.output


def test_an_unreachable_database_is_reported_without_its_password(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "site"), "--db", UNREACHABLE, "cal", "show"])
    assert done.exit_code == 1
    assert "database is unavailable" in done.output and PASSWORD not in done.output


def refusing_connections(engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The driver refuses, and says the connection string it was given, password and all (as some do)."""
    said = f'connection to "postgresql://calkeeper:{PASSWORD}@127.0.0.1:1/calkeeper" failed: refused'

    def connect() -> Any:
        raise OperationalError("connect", {}, Exception(said))

    monkeypatch.setattr(engine, "connect", connect)


def test_the_drivers_words_about_a_database_it_cannot_reach_are_logged_without_the_password(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
) -> None:
    engine = make_engine(UNREACHABLE)
    refusing_connections(engine, monkeypatch)
    with pytest.raises(StoreUnavailable) as checking:
        migrate(engine)
    with pytest.raises(StoreUnavailable) as reading, UnitOfWork(engine, calkeeper.FrozenClock()).read():
        pass
    for error in (checking.value, reading.value):  # the answer names no host and no password ...
        assert PASSWORD not in error.message and "127.0.0.1" not in error.message
    logged = [r.getMessage() for r in caplog.records if r.name == "calkeeper.store"]
    assert logged and all(PASSWORD not in line for line in logged)  # ... the log says why, masked
    assert any("calkeeper:***@127.0.0.1" in line for line in logged)


# -- the data folder ------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("usual_umask")
def test_a_new_data_folder_and_its_database_files_are_for_the_servers_account_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "site")
    application = bootstrap(settings)
    try:
        application.tokens.create_token(name="ci", role="admin")  # a write: the -wal and -shm files are open
        files = [tmp_path / "site" / name for name in ("calkeeper.db", "calkeeper.db-wal", "calkeeper.db-shm")]
        assert {path.name: mode(path) for path in files} == {path.name: 0o600 for path in files}
    finally:
        application.close()
    assert mode(settings.data_dir) == 0o700
    assert mode(settings.backups_dir) == 0o700


@pytest.mark.usefixtures("usual_umask")
def test_the_demo_makes_its_data_folder_and_the_authoritys_keys_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "demo")
    set_up_demo(settings)
    assert mode(settings.data_dir) == 0o700
    assert mode(settings.authority_keys_dir) == 0o700
    assert mode(settings.data_dir / "calkeeper.db") == 0o600
    assert all(mode(key) == 0o600 for key in settings.authority_keys_dir.glob("*.key"))


@pytest.mark.usefixtures("usual_umask")
def test_a_data_folder_an_earlier_version_left_open_is_closed_at_the_next_start(tmp_path: Path) -> None:
    data = tmp_path / "site"
    data.mkdir(mode=0o755)
    sqlite_database(data)
    (data / "calkeeper.db-wal").write_bytes(b"")
    (data / "backups").mkdir(mode=0o755)
    for path in (data / "calkeeper.db", data / "calkeeper.db-wal"):
        path.chmod(0o644)
    bootstrap(Settings(data_dir=data)).close()
    assert (mode(data), mode(data / "backups"), mode(data / "calkeeper.db")) == (0o700, 0o700, 0o600)


@pytest.mark.usefixtures("usual_umask")
def test_a_database_kept_elsewhere_is_private_and_the_folder_it_is_in_is_left_as_it_is(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    database = shared / "calkeeper.db"
    calkeeper.open_site(f"sqlite:///{database}").close()
    assert mode(database) == 0o600
    assert mode(shared) == 0o755

