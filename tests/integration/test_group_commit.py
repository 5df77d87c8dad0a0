"""Group commit: on SQLite concurrent claims share commits, on PostgreSQL a process's writers take turns;
nothing else about them changes.

Many threads claim at once against a pool smaller than the demand: exactly as many grants as the
pool holds, each on disk when it is answered (read back through a fresh connection), the counters
equal to the rows; a use case that fails inside a batch undoes only itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import calkeeper
from calkeeper.authority.signing import SigningKey
from calkeeper.core.cals import CalType, Decision
from calkeeper.core.identities import Identity
from calkeeper.store import counters
from tests.kit import apply_license, postgres_available, postgres_database, sqlite_database

DOCUMENT = "SalesFlash.qvw"
USERS = 120


@pytest.fixture
def site(tmp_path: Path, key: SigningKey, root: Path, clock: calkeeper.FrozenClock) -> calkeeper.LocalSite:
    s = calkeeper.open_site(sqlite_database(tmp_path), clock=clock, root_folder=root, actor="tester",
                            trusted_keys={key.key_id: key.private.public_key()}, group_commit=True)
    yield s  # type: ignore[misc]
    s.close()


def fresh_count(site: calkeeper.LocalSite, sql: str) -> int:
    """Read through a connection of its own: only what is committed."""
    engine = sa.create_engine(site.app.engine.url)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql(sql).scalar_one())
    finally:
        engine.dispose()


def open_from_threads(site: calkeeper.LocalSite, prefix: str,
                      check: Callable[[int, Decision], bool] = lambda i, d: True) -> tuple[list[str], list[bool]]:
    """USERS first-time opens from 24 threads released together: each answer's CAL type (or refusal code),
    and what ``check`` said of it (asked while the other threads go on)."""
    outcomes: list[str] = []
    checked: list[bool] = []
    barrier = threading.Barrier(24)
    lock = threading.Lock()

    def worker(first: int) -> None:
        barrier.wait()
        for i in range(first, USERS, 24):
            decision = site.open_document(f"ACME\\{prefix}{i:03d}", DOCUMENT, machine=f"PC-{i}")
            passed = check(i, decision)
            with lock:
                outcomes.append(str(decision.cal_type) if decision.granted else decision.code)
                checked.append(passed)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return outcomes, checked


def test_concurrent_claims_in_batches_never_exceed_the_pool_and_each_is_on_disk_when_answered(
    site: calkeeper.LocalSite, key: SigningKey
) -> None:
    apply_license(site, key, named=50, document=0, session=0, usage=0)
    site.update_cal_settings(allow_dynamic_assignment=True)

    def on_disk(i: int, decision: Decision) -> bool:
        sql = f"SELECT count(*) FROM named_cals WHERE identity_key = 'ACME\\G{i:03d}'"
        return not decision.granted or fresh_count(site, sql) == 1

    outcomes, answered_on_disk = open_from_threads(site, "g", on_disk)
    assert outcomes.count("named") == 50
    assert outcomes.count("no_cal_available") == USERS - 50
    assert all(answered_on_disk)
    assert fresh_count(site, "SELECT count(*) FROM named_cals") == 50
    with site.app.engine.connect() as connection:
        assert counters.drift(connection) == {}


def test_a_use_case_that_fails_in_a_batch_undoes_only_itself(site: calkeeper.LocalSite, key: SigningKey) -> None:
    apply_license(site, key, named=10, document=0, session=0, usage=0)
    site.update_cal_settings(allow_dynamic_assignment=True)
    uow = site.app.uow
    inside, release = threading.Event(), threading.Event()

    def failing() -> None:
        with uow.write() as tx:
            tx.claims.claim_named_cal(Identity("ACME\\doomed", "acme\\doomed", "user"), in_license=10)
            inside.set()
            release.wait(timeout=30)
            raise RuntimeError("refused")

    errors: list[BaseException] = []

    def run_failing() -> None:
        try:
            failing()
        except RuntimeError as error:
            errors.append(error)

    doomed = threading.Thread(target=run_failing)
    doomed.start()
    assert inside.wait(timeout=30)
    others = [threading.Thread(target=site.open_document, args=(f"ACME\\ok{i}", DOCUMENT),
                               kwargs={"machine": "PC-1"}) for i in range(3)]
    for thread in others:
        thread.start()
    release.set()
    doomed.join(timeout=30)
    for thread in others:
        thread.join(timeout=30)
    assert len(errors) == 1
    assert fresh_count(site, "SELECT count(*) FROM named_cals WHERE identity_key = 'ACME\\DOOMED'") == 0
    assert fresh_count(site, "SELECT count(*) FROM named_cals WHERE identity_key LIKE 'acme\\ok%'") == 3
    with site.app.engine.connect() as connection:
        assert counters.drift(connection) == {}


# -- PostgreSQL: a process's writers take turns ----------------------------------------------------------------


@pytest.fixture
def pg_site(tmp_path: Path, key: SigningKey, root: Path, clock: calkeeper.FrozenClock) -> calkeeper.LocalSite:
    if not postgres_available():
        pytest.skip("PostgreSQL is not reachable")
    with postgres_database() as url:
        s = calkeeper.open_site(url, clock=clock, root_folder=root, actor="tester",
                                trusted_keys={key.key_id: key.private.public_key()}, group_commit=True,
                                engine_options={"pool_size": 10, "max_overflow": 30})
        yield s  # type: ignore[misc]
        s.close()


def test_on_postgresql_a_processs_pool_lockers_take_turns_and_never_exceed_the_pool(
    pg_site: calkeeper.LocalSite, key: SigningKey
) -> None:
    apply_license(pg_site, key, named=50, document=0, session=0, usage=0)
    pg_site.update_cal_settings(allow_dynamic_assignment=True)
    pg_site.app.uow.turns.wait_at_most = 60  # no waiter gives up on a slow machine: the count below is exact
    in_flight, most, lock, locking = [0], [0], threading.Lock(), set()

    @sa.event.listens_for(pg_site.app.engine, "before_cursor_execute")
    def locks(connection: sa.Connection, _cursor: object, statement: str, *_: object) -> None:
        if statement.startswith("UPDATE cal_pools") and id(connection.connection) not in locking:
            with lock:
                locking.add(id(connection.connection))
                in_flight[0] += 1
                most[0] = max(most[0], in_flight[0])

    def ended(connection: sa.Connection) -> None:
        with lock:
            if id(connection.connection) in locking:
                locking.discard(id(connection.connection))
                in_flight[0] -= 1

    sa.event.listen(pg_site.app.engine, "commit", ended)
    sa.event.listen(pg_site.app.engine, "rollback", ended)
    outcomes, _ = open_from_threads(pg_site, "t")
    assert outcomes.count("named") == 50 and outcomes.count("no_cal_available") == USERS - 50
    assert most[0] == 1  # 24 threads, one transaction holding a pool's lock at a time
    with pg_site.app.engine.connect() as connection:
        assert counters.drift(connection) == {}


def hold_the_turn(site: calkeeper.LocalSite, locked: threading.Event, release: threading.Event) -> threading.Thread:
    """A thread whose write transaction takes the Named pool's lock (and so the turn), then waits for ``release``."""

    def holder() -> None:
        with site.app.uow.write() as tx:
            tx.claims.lock_pool(CalType.NAMED)
            locked.set()
            release.wait(timeout=60)

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()
    assert locked.wait(timeout=30)
    assert site.app.uow.turns.turns.held
    return thread


def test_on_postgresql_a_transaction_that_locks_no_pool_does_not_wait_for_the_turn(
    pg_site: calkeeper.LocalSite,
) -> None:
    locked, release, done = threading.Event(), threading.Event(), threading.Event()
    holder = hold_the_turn(pg_site, locked, release)

    def session_writer() -> None:  # a holder's open, the upkeep writing sessions: no pool lock
        with pg_site.app.uow.write() as tx:
            tx.history.audit("tester", "test.no_pool", "writer")
        done.set()

    threading.Thread(target=session_writer, daemon=True).start()
    try:
        assert done.wait(timeout=30), "a transaction that locks no pool waited for the turn"
    finally:
        release.set()
        holder.join(timeout=30)


def test_on_postgresql_a_turn_waited_for_too_long_is_given_up_for_the_databases_own_lock(
    pg_site: calkeeper.LocalSite,
) -> None:
    pg_site.app.uow.turns.wait_at_most = 0.2
    locked, release, done = threading.Event(), threading.Event(), threading.Event()
    holder = hold_the_turn(pg_site, locked, release)

    def other_pool() -> None:  # another pool's row: only the turn stands in its way
        with pg_site.app.uow.write() as tx:
            tx.claims.lock_pool(CalType.SESSION)
        done.set()

    threading.Thread(target=other_pool, daemon=True).start()
    try:
        assert done.wait(timeout=30), "a transaction waited for the turn past wait_at_most"
        assert pg_site.app.uow.turns.turns.held and not pg_site.app.uow.turns.turns.waiting
    finally:
        release.set()
        holder.join(timeout=30)
    assert not pg_site.app.uow.turns.turns.held  # given back, to nobody


def test_on_postgresql_a_write_opened_inside_another_on_its_thread_goes_ahead(pg_site: calkeeper.LocalSite) -> None:
    uow, done = pg_site.app.uow, threading.Event()

    def nested() -> None:
        with uow.write() as outer:
            outer.claims.lock_pool(CalType.NAMED)  # the turn is the outer transaction's now
            with uow.write() as inner:  # its own transaction, in the outer one's turn
                inner.claims.lock_pool(CalType.SESSION)
                inner.history.audit("tester", "test.inner", "inner")
            assert uow.turns.holding()  # the inner one left the turn to the outer one
        done.set()

    thread = threading.Thread(target=nested, daemon=True)
    thread.start()
    assert done.wait(timeout=30), "a write inside a write waited for its own turn"
    assert [e.action for e in pg_site.audit(action="test.inner")] == ["test.inner"]
