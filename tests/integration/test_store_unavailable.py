"""A database that goes away: use cases fail with StoreUnavailable and a clear message, nothing is
half-written, and the same Site works again once the database is back.

These tests run their own throwaway PostgreSQL cluster (initdb, pg_ctl) so they can stop and start
it; the shared server is never touched.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import calkeeper
from calkeeper.authority.signing import SigningKey
from calkeeper.core.errors import StoreUnavailable
from tests.kit import apply_license

PG_BIN = Path(os.environ.get("CALKEEPER_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class ThrowawayPostgres:
    """A PostgreSQL cluster of our own in a temporary folder, run as the ``postgres`` OS user."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="calkeeper-pg-"))
        shutil.chown(self.folder, "postgres", "postgres")
        self.data = self.folder / "data"
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.pg("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def pg(self, program: str, *args: str) -> None:
        result = subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / program), *args],
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed: {result.stdout}{result.stderr}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self.pg("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self.pg("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def cluster() -> Iterator[ThrowawayPostgres]:
    if not (PG_BIN / "initdb").exists() or os.geteuid() != 0:
        pytest.skip(f"needs root and PostgreSQL's initdb and pg_ctl in {PG_BIN}")
    try:
        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("needs the postgres OS user to run a throwaway cluster")
    cluster = ThrowawayPostgres()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture
def database_url(cluster: ThrowawayPostgres) -> Iterator[str]:
    """A fresh database in the throwaway cluster, which is running when the test starts."""
    name = f"calkeeper_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(cluster.url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield sa.engine.make_url(cluster.url).set(database=name).render_as_string(hide_password=False)
    if not cluster.running():
        cluster.start()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE "{name}" WITH (FORCE)')


@pytest.fixture
def site(database_url: str, key: SigningKey, root: Path, clock) -> Iterator[calkeeper.LocalSite]:
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester")
    apply_license(site, key, named=10, document=0, session=0, usage=0)
    site.assign_named_cals("ACME\\before")
    yield site
    site.close()


def holders(site: calkeeper.LocalSite) -> set[str]:
    return {cal.user for cal in site.list_named_cals(limit=1000).items}


def test_a_stopped_database_gives_store_unavailable_and_the_same_site_works_once_it_is_back(cluster, site):
    cluster.stop()

    for use_case in (
        lambda: site.assign_named_cals("ACME\\during"),
        lambda: site.open_document("ACME\\newcomer", "SalesFlash.qvw", machine="PC-1"),
        site.cal_overview,
        site.license,
    ):
        with pytest.raises(StoreUnavailable) as refused:
            use_case()
        assert refused.value.code == "store_unavailable"
        assert "the CAL database is unavailable (since " in refused.value.message
        assert "nothing was changed. Check that it is running" in refused.value.message
        assert str(cluster.port) not in refused.value.message

    cluster.start()

    assert holders(site) == {"ACME\\before"}  # the refused assignment left nothing behind
    site.assign_named_cals("ACME\\after")
    decision = site.open_document("ACME\\after", "SalesFlash.qvw", machine="PC-1")
    assert decision.granted and decision.cal_type == "named"
    assert holders(site) == {"ACME\\before", "ACME\\after"}


def test_a_database_that_dies_mid_transaction_keeps_nothing_of_it(cluster, site):
    # the batch has claimed a CAL and is writing its audit entry when the server goes down
    killed: list[str] = []

    @sa.event.listens_for(site.app.engine, "before_cursor_execute")
    def kill_on_the_audit_write(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        if statement.startswith("INSERT INTO audit_log") and not killed:
            killed.append(statement)
            cluster.stop("immediate")

    with pytest.raises(StoreUnavailable, match="is unavailable"):
        site.assign_named_cals("ACME\\x1;ACME\\x2;ACME\\x3")
    assert killed
    sa.event.remove(site.app.engine, "before_cursor_execute", kill_on_the_audit_write)

    cluster.start()

    assert holders(site) == {"ACME\\before"}
    assert not [e for e in site.audit(limit=1000) if e.target.startswith("ACME\\x")]
    assert [o.outcome for o in site.assign_named_cals("ACME\\x1;ACME\\x2;ACME\\x3")] == ["assigned"] * 3


def test_opening_a_site_while_the_database_is_down_says_so(cluster, database_url, key):
    cluster.stop()
    with pytest.raises(StoreUnavailable, match="the CAL database is unavailable") as refused:
        calkeeper.open_site(database_url, trusted_keys={key.key_id: key.private.public_key()})
    assert "Check that it is running" in refused.value.message
    cluster.start()
    with calkeeper.open_site(database_url) as site:
        assert site.license() is None
