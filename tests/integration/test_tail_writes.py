"""The access gate's last inserts (session, audit, denial) go with the COMMIT on PostgreSQL, and stay part of
the transaction: committed with it, or not at all.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

import calkeeper
from calkeeper.authority.signing import SigningKey
from calkeeper.core.errors import StoreUnavailable
from calkeeper.core.identities import Identity
from calkeeper.store.history import INSERT_AUDIT
from tests.integration.steps import open_as, pool
from tests.kit import apply_license, sqlite_database

ALICE = Identity("ACME\\alice", "ACME\\ALICE", "user")


@pytest.fixture
def pg_site(pg_url: str, key: SigningKey, root: Path, clock: calkeeper.FrozenClock) -> Iterator[calkeeper.LocalSite]:
    site = calkeeper.open_site(pg_url, clock=clock, root_folder=root, actor="tester",
                               trusted_keys={key.key_id: key.private.public_key()})
    apply_license(site, key, named=5, document=0, session=0, usage=0)
    yield site
    site.close()


def count(site: calkeeper.LocalSite, sql: str) -> int:
    with site.app.engine.connect() as connection:
        return int(connection.execute(sa.text(sql)).scalar_one())


def test_what_waited_for_the_commit_is_committed_with_the_claim(pg_site: calkeeper.LocalSite) -> None:
    pg_site.update_cal_settings(allow_dynamic_assignment=True)
    audited = count(pg_site, "SELECT count(*) FROM audit_log")
    grant = open_as(pg_site, "ACME\\alice")
    assert grant.granted and grant.cal_type == "named"
    assert count(pg_site, f"SELECT count(*) FROM sessions WHERE id = '{grant.session_id}'") == 1
    assert count(pg_site, "SELECT count(*) FROM audit_log WHERE action = 'named_cal.assigned'") == 1
    assert count(pg_site, "SELECT count(*) FROM audit_log") == audited + 1
    denied = open_as(pg_site, None)  # anonymous, no Session or Usage CALs: refused and recorded
    assert not denied.granted
    assert pg_site.denials()[0].code == denied.code


def test_an_insert_that_fails_at_the_commit_undoes_the_whole_transaction(pg_site: calkeeper.LocalSite) -> None:
    uow = pg_site.app.uow
    with pytest.raises(IntegrityError), uow.write() as tx:
        tx.tail.defer()
        assert tx.claims.claim_named_cal(ALICE, in_license=5) is not None  # runs at once
        tx.tail.insert(INSERT_AUDIT, {"at": tx.now, "actor": None, "action": "x", "target": "y", "details": "{}"})
    assert pool(pg_site, "named").assigned == 0  # the claim went with the insert that failed
    assert count(pg_site, "SELECT count(*) FROM named_cals") == 0
    with uow.write() as tx:  # the connection serves the next transaction
        assert tx.claims.claim_named_cal(ALICE, in_license=5) is not None
    assert pool(pg_site, "named").assigned == 1


def test_a_server_gone_at_the_commit_is_the_database_being_unavailable_and_nothing_is_kept(
    pg_site: calkeeper.LocalSite,
) -> None:
    uow = pg_site.app.uow
    with pytest.raises(StoreUnavailable), uow.write() as tx:
        tx.tail.defer()
        tx.claims.claim_named_cal(ALICE, in_license=5)
        tx.history.audit("tester", "named_cal.assigned", ALICE.name)
        assert len(tx.tail.pending) == 1  # the audit row waits for the commit
        terminate(pg_site, tx.connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    assert count(pg_site, "SELECT count(*) FROM named_cals") == 0
    with uow.write() as tx:  # the dead connection was given up: the next transaction gets a live one
        assert tx.claims.claim_named_cal(ALICE, in_license=5) is not None
    assert pool(pg_site, "named").assigned == 1


def terminate(site: calkeeper.LocalSite, pid: int) -> None:
    """End a server process from a connection of its own, and wait until the server has let it go."""
    killer = sa.create_engine(site.app.engine.url, poolclass=sa.pool.NullPool)
    with killer.connect() as connection:
        assert connection.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
    killer.dispose()


def test_on_sqlite_nothing_waits(tmp_path: Path, key: SigningKey, root: Path, clock: calkeeper.FrozenClock) -> None:
    site = calkeeper.open_site(sqlite_database(tmp_path), clock=clock, root_folder=root,
                               trusted_keys={key.key_id: key.private.public_key()})
    try:
        with site.app.uow.write() as tx:
            tx.tail.defer()
            tx.history.audit("tester", "check", "x")
            assert not tx.tail.pending
            assert tx.connection.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'check'")).scalar() == 1
    finally:
        site.close()


def test_claims_never_exceed_the_pool_with_what_waits_for_the_commit(pg_site: calkeeper.LocalSite) -> None:
    pg_site.update_cal_settings(allow_dynamic_assignment=True)
    grants = [open_as(pg_site, f"ACME\\user{i}") for i in range(8)]
    assert sum(g.granted for g in grants) == 5
    assert count(pg_site, "SELECT count(*) FROM named_cals") == 5
    assert count(pg_site, "SELECT count(*) FROM audit_log WHERE action = 'named_cal.assigned'") == 5
