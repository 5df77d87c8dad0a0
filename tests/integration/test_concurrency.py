"""Dynamic assignment under real concurrency: many threads at once, and many processes on one PostgreSQL.

Every test starts all its requests together (a barrier) against a pool far smaller than the demand,
then checks the grants and the rows in the database: never more CALs than the pool holds, and
exactly as many as it holds, since demand exceeds supply.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import calkeeper
from calkeeper.authority.signing import SigningKey
from calkeeper.core.errors import NoCalAvailable
from calkeeper.core.identities import user_key
from calkeeper.store import counters
from calkeeper.store.claims import Claims
from calkeeper.usecases.access import Access
from tests.conftest import require_postgres
from tests.kit import apply_license, postgres_database

DOCUMENT = "SalesFlash.qvw"
USERS = 200
PROCESSES = 4
# A few connections per node, so that four nodes stay well within the server's max_connections (100)
PG_POOL = {"pool_size": 5, "max_overflow": 3}

# What one concurrent request came to: ("named" | "document" | "session" | "usage", user)
# for a grant, ("denied:<code>", user) for a denial, ("error:<type>: <message>", user) for an exception.
Outcome = tuple[str, str]


def user_name(index: int) -> str:
    return f"ACME\\user{index:03d}"


def open_as(site: calkeeper.LocalSite, index: int) -> Outcome:
    """User ``index`` opens the document from a machine of their own."""
    decision = site.open_document(user_name(index), DOCUMENT, machine=f"PC-{index:03d}")
    if isinstance(decision, calkeeper.Grant):
        return str(decision.cal_type), user_name(index)
    return f"denied:{decision.code}", user_name(index)


def run_together(tasks: list[Callable[[], Outcome]], *, before: Callable[[], None] | None = None) -> list[Outcome]:
    """Run every task on its own thread, all released at once by a barrier; exceptions become outcomes."""
    barrier = threading.Barrier(len(tasks), action=before)
    outcomes: list[Outcome | None] = [None] * len(tasks)

    def worker(slot: int, task: Callable[[], Outcome]) -> None:
        barrier.wait()
        try:
            outcomes[slot] = task()
        except Exception as error:  # reported, never swallowed: the test asserts there are none
            outcomes[slot] = (f"error:{type(error).__name__}: {error}", "")

    threads = [threading.Thread(target=worker, args=(slot, task)) for slot, task in enumerate(tasks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a request never returned"
    return [o for o in outcomes if o is not None]


def open_in_process(database_url: str, indexes: list[int], start: object, results: object) -> None:
    """One node (a spawned process with its own Site) opens the document for each user, on threads."""
    # the server's way: group commit through the lock file on SQLite, writers taking turns on PostgreSQL
    sqlite = database_url.startswith("sqlite")
    site = calkeeper.open_site(database_url, clock=calkeeper.FrozenClock(), migrate_schema=False,
                               engine_options=None if sqlite else dict(PG_POOL), group_commit=True)
    try:
        tasks: list[Callable[[], Outcome]] = [lambda i=i: open_as(site, i) for i in indexes]  # type: ignore[misc]
        outcomes = run_together(tasks, before=start.wait)  # type: ignore[attr-defined]
    finally:
        site.close()
    results.put(outcomes)  # type: ignore[attr-defined]


def open_from_processes(database_url: str) -> list[Outcome]:
    """USERS first-time opens split over PROCESSES spawned nodes, all released by one barrier."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(PROCESSES)
    results = context.Queue()
    share = USERS // PROCESSES
    processes = [
        context.Process(target=open_in_process,
                        args=(database_url, list(range(n * share, (n + 1) * share)), start, results))
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes: list[Outcome] = []
    try:
        for _ in processes:
            outcomes.extend(results.get(timeout=180))
    finally:
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in processes)
    return outcomes


def open_from_threads(site: calkeeper.LocalSite) -> list[Outcome]:
    return run_together([lambda i=i: open_as(site, i) for i in range(USERS)])  # type: ignore[misc]


def count_rows(site: calkeeper.LocalSite, table: str, where: str = "") -> int:
    with site.app.engine.connect() as connection:
        return int(connection.exec_driver_sql(f"SELECT count(*) FROM {table} {where}").scalar_one())


def tally(outcomes: list[Outcome]) -> Counter[str]:
    assert len(outcomes) == USERS
    errors = [o for o in outcomes if o[0].startswith("error:")]
    assert not errors, errors[:3]
    return Counter(kind for kind, _ in outcomes)


def granted_users(outcomes: list[Outcome], cal_type: str) -> set[str]:
    return {user_key(user) for kind, user in outcomes if kind == cal_type}


# -- sites ------------------------------------------------------------------------------------------


@pytest.fixture
def make_site(
    key: SigningKey, root: Path, clock: calkeeper.FrozenClock
) -> Iterator[Callable[[str], calkeeper.LocalSite]]:
    opened: list[calkeeper.LocalSite] = []

    def make(database_url: str) -> calkeeper.LocalSite:
        # PostgreSQL: a few connections per node, as the shared test server allows 100 in all
        options = None if database_url.startswith("sqlite") else dict(PG_POOL)
        site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                                   root_folder=root, actor="tester", engine_options=options)
        site.scan_documents()
        opened.append(site)
        return site

    yield make
    for site in opened:
        site.close()


@pytest.fixture(params=["sqlite-threads", "sqlite-processes",
                        pytest.param("postgres-processes", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(how the requests run, database URL): threads on one SQLite site, spawned nodes on one SQLite file
    (each committing in groups, taking turns through the lock file), or spawned nodes on PostgreSQL."""
    if request.param.startswith("sqlite"):
        yield request.param.removeprefix("sqlite-"), f"sqlite:///{tmp_path / 'calkeeper.db'}"
    else:
        require_postgres()
        with postgres_database() as url:
            yield "processes", url


def open_concurrently(how: str, database_url: str, site: calkeeper.LocalSite) -> list[Outcome]:
    return open_from_threads(site) if how == "threads" else open_from_processes(database_url)


# -- Named CALs -------------------------------------------------------------------------------------


def test_two_hundred_first_opens_at_once_get_exactly_the_twenty_free_named_cals(backend, make_site, key):
    how, url = backend
    site = make_site(url)
    apply_license(site, key, named=20, document=0, session=0, usage=0)

    outcomes = open_concurrently(how, url, site)

    counts = tally(outcomes)
    assert counts == {"named": 20, "denied:no_cal_available": USERS - 20}
    assert count_rows(site, "named_cals") == 20
    with site.app.engine.connect() as connection:
        holders = set(connection.exec_driver_sql("SELECT identity_key FROM named_cals").scalars())
    assert holders == granted_users(outcomes, "named")
    assert len(site.denials(limit=1000)) == USERS - 20
    named = next(p for p in site.cal_overview().pools if p.cal_type == "named")
    assert (named.assigned, named.free, named.excess) == (20, 0, 0)


@pytest.mark.postgres
def test_manual_batch_assigns_racing_dynamic_opens_never_exceed_the_license(make_site, key, pg_url):
    # two nodes (separate engines and caches) on one database: one serves opens, the other the admin
    node_a, node_b = make_site(pg_url), make_site(pg_url)
    apply_license(node_a, key, named=20, document=0, session=0, usage=0)
    batches = [[f"ACME\\batch{b}_{m}" for m in range(3)] for b in range(12)]

    def assign(batch: list[str], node: calkeeper.LocalSite) -> Outcome:
        try:
            node.assign_named_cals(";".join(batch))
        except NoCalAvailable:
            return "refused", ";".join(batch)
        return "assigned", ";".join(batch)

    tasks: list[Callable[[], Outcome]] = [
        lambda b=b, n=n: assign(b, node_b if n % 2 else node_a)  # type: ignore[misc]
        for n, b in enumerate(batches)
    ]
    tasks += [lambda i=i: open_as(node_a if i % 2 else node_b, i) for i in range(100)]  # type: ignore[misc]
    outcomes = run_together(tasks)

    assert not [o for o in outcomes if o[0].startswith("error:")]
    with node_a.app.engine.connect() as connection:
        holders = set(connection.exec_driver_sql("SELECT identity_key FROM named_cals").scalars())
    assert len(holders) <= 20
    assigned = [[user_key(u) for u in batch.split(";")] for kind, batch in outcomes if kind == "assigned"]
    refused = [[user_key(u) for u in batch.split(";")] for kind, batch in outcomes if kind == "refused"]
    # all or nothing, even under contention: a batch is held entirely or not at all
    assert all(set(batch) <= holders for batch in assigned)
    assert all(not set(batch) & holders for batch in refused)
    dynamic = granted_users(outcomes, "named")
    assert holders == dynamic | {user for batch in assigned for user in batch}
    # demand exceeds supply, so the pool ends up full unless a refused batch left one or two CALs over
    assert len(holders) >= 18
    assert count_rows(node_a, "audit_log", "WHERE action = 'named_cal.assigned'") == len(holders)


# -- Document CALs ----------------------------------------------------------------------------------


def test_two_hundred_opens_at_once_get_exactly_the_fifteen_document_cals_allocated(backend, make_site, key):
    how, url = backend
    site = make_site(url)
    apply_license(site, key, named=1, document=40, session=0, usage=0)
    site.assign_named_cals("ACME\\admin")  # no Named CAL is free, and dynamic Named assignment is off
    site.update_cal_settings(allow_dynamic_assignment=False)
    site.set_document_allocation(DOCUMENT, 15)
    site.set_document_dynamic(DOCUMENT, True)

    outcomes = open_concurrently(how, url, site)

    assert tally(outcomes) == {"document": 15, "denied:no_cal_available": USERS - 15}
    assert count_rows(site, "document_cals") == 15
    assert count_rows(site, "named_cals") == 1
    holders = {user_key(cal.user) for cal in site.list_document_cals(DOCUMENT)}
    assert holders == granted_users(outcomes, "document")
    [view] = [d for d in site.list_documents() if d.path == DOCUMENT]
    assert (view.cals_allocated, view.cals_assigned) == (15, 15)


# -- Session CALs -----------------------------------------------------------------------------------


def test_two_hundred_clients_at_once_get_exactly_the_ten_session_cals(backend, make_site, key):
    how, url = backend
    site = make_site(url)
    apply_license(site, key, named=1, document=0, session=10, usage=0)
    site.update_cal_settings(allow_dynamic_assignment=False)

    outcomes = open_concurrently(how, url, site)

    assert tally(outcomes) == {"session": 10, "denied:no_cal_available": USERS - 10}
    assert count_rows(site, "session_cals") == 10
    assert count_rows(site, "sessions", "WHERE cal_type = 'session'") == 10
    session = next(p for p in site.cal_overview().pools if p.cal_type == "session")
    assert (session.assigned, session.free) == (10, 0)


def test_one_user_opening_many_times_at_once_is_served_by_one_named_cal(make_site, key, tmp_path):
    # the same identity racing itself must neither take two CALs nor be denied the one it just got
    site = make_site(f"sqlite:///{tmp_path / 'calkeeper.db'}")
    apply_license(site, key, named=5, document=0, session=0, usage=0)

    outcomes = run_together([lambda: open_as(site, 7) for _ in range(40)])

    assert Counter(kind for kind, _ in outcomes) == {"named": 40}
    assert count_rows(site, "named_cals") == 1


@pytest.mark.postgres
def test_one_user_opening_many_times_at_once_on_postgres_is_served_by_one_named_cal(make_site, key, pg_url):
    nodes = [make_site(pg_url), make_site(pg_url)]
    apply_license(nodes[0], key, named=5, document=0, session=0, usage=0)

    outcomes = run_together([lambda n=n: open_as(nodes[n % 2], 7) for n in range(40)])  # type: ignore[misc]

    assert Counter(kind for kind, _ in outcomes) == {"named": 40}
    assert count_rows(nodes[0], "named_cals") == 1


@pytest.mark.postgres
def test_one_client_opening_many_times_at_once_on_postgres_holds_one_session_cal(make_site, key, pg_url):
    nodes = [make_site(pg_url), make_site(pg_url)]
    apply_license(nodes[0], key, named=1, document=0, session=3, usage=0)
    nodes[0].update_cal_settings(allow_dynamic_assignment=False)

    outcomes = run_together([lambda n=n: open_as(nodes[n % 2], 7) for n in range(40)])  # type: ignore[misc]

    assert Counter(kind for kind, _ in outcomes) == {"session": 40}
    assert count_rows(nodes[0], "session_cals") == 1
    assert count_rows(nodes[0], "sessions") == 40


def test_rows_match_the_overview_after_the_race(make_site, key, tmp_path):
    # the pool view is counted from rows, so what the console shows is what the race left
    site = make_site(f"sqlite:///{tmp_path / 'calkeeper.db'}")
    apply_license(site, key, named=3, document=0, session=2, usage=0)
    run_together([lambda i=i: open_as(site, i) for i in range(30)])  # type: ignore[misc]
    pools = {p.cal_type: p for p in site.cal_overview().pools}
    assert pools["named"].assigned == count_rows(site, "named_cals") == 3
    with site.app.engine.connect() as connection:
        held = connection.execute(sa.text("SELECT count(*) FROM session_cals WHERE released_at IS NULL")).scalar()
    assert pools["session"].assigned == held == 2


# -- the same identity on two nodes at once ---------------------------------------------------------
#
# A request looks up what its user already holds before it takes the pool's lock. On PostgreSQL a
# second request of the same user (or client instance) can look, find nothing, and then wait for the
# lock while the first one claims a CAL. These tests hold the second request at exactly that point
# until the first has committed. (SQLite cannot interleave so: a write transaction holds the one
# write lock from its first statement.)

SETUPS = {
    "named": {"named": 5, "document": 0, "session": 0, "usage": 0},
    "document": {"named": 1, "document": 5, "session": 0, "usage": 0},
    "session": {"named": 1, "document": 0, "session": 3, "usage": 0},
    "usage": {"named": 1, "document": 0, "session": 0, "usage": 3},
}


def _two_nodes_for(cal_type: str, make_site: Callable[[str], calkeeper.LocalSite], key: SigningKey,
                   pg_url: str) -> tuple[calkeeper.LocalSite, calkeeper.LocalSite]:
    """Two nodes on which user 7 (seen before: a first sighting is itself serialized, on the users table)
    gets a CAL of ``cal_type`` on a first open."""
    node_a, node_b = make_site(pg_url), make_site(pg_url)
    apply_license(node_a, key, named=1, document=0, session=0, usage=0)
    node_a.update_cal_settings(allow_dynamic_assignment=False)
    assert open_as(node_a, 7) == ("denied:no_cal_available", user_name(7))
    apply_license(node_a, key, **SETUPS[cal_type])
    node_a.update_cal_settings(allow_dynamic_assignment=cal_type == "named")
    if cal_type == "document":
        node_a.set_document_allocation(DOCUMENT, 5)
        node_a.set_document_dynamic(DOCUMENT, True)
    return node_a, node_b


CAL_TABLES = {"named": "named_cals", "document": "document_cals", "session": "session_cals", "usage": "usage_cals"}


@pytest.mark.postgres
@pytest.mark.parametrize("cal_type", list(SETUPS))
def test_a_second_open_that_looked_before_the_first_committed_uses_the_same_cal(
    cal_type, make_site, key, pg_url, monkeypatch
):
    # the whole order (``allocate``): what runs when a first open's one call gives way
    monkeypatch.setattr(Access, "_claim_first", lambda *args: None)
    node_a, node_b = _two_nodes_for(cal_type, make_site, key, pg_url)

    second_looked, first_done = threading.Event(), threading.Event()
    held_back: list[threading.Thread] = []
    lock = Claims._turn_to_lock  # what a claim does just before it takes its first pool lock

    def lock_after_the_first(self: Claims) -> None:
        if threading.current_thread() in held_back:
            held_back.clear()
            second_looked.set()
            assert first_done.wait(timeout=30)
        lock(self)

    monkeypatch.setattr(Claims, "_turn_to_lock", lock_after_the_first)
    second: list[Outcome] = []
    thread = threading.Thread(target=lambda: second.append(open_as(node_b, 7)))
    held_back.append(thread)
    thread.start()
    assert second_looked.wait(timeout=30)
    first = open_as(node_a, 7)
    first_done.set()
    thread.join(timeout=30)

    assert first == second[0] == (cal_type, user_name(7))
    assert count_rows(node_a, CAL_TABLES[cal_type]) == 1


def _waiting_for_a_lock(engine: sa.Engine, count: int) -> bool:
    """Whether ``count`` sessions of the database wait for a lock (within ten seconds)."""
    query = sa.text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")
    for _ in range(1000):
        with engine.connect() as connection:
            if connection.execute(query).scalar() >= count:
                return True
        time.sleep(0.01)
    return False


@pytest.mark.postgres
@pytest.mark.parametrize("cal_type", list(SETUPS))
def test_two_first_opens_whose_one_calls_looked_before_either_claimed_use_one_cal(cal_type, make_site, key, pg_url):
    # The one call of a first open (``store.first_claims``) makes its checks, then waits for the pool's lock.
    # Here the pool's row is held until both calls of the same user (two nodes) wait for it, having looked
    # and found nothing: the first to get it claims, the other gives way to the whole order, which finds that CAL.
    node_a, node_b = _two_nodes_for(cal_type, make_site, key, pg_url)
    engine = sa.create_engine(pg_url)
    outcomes: list[Outcome] = []
    try:
        with engine.connect() as blocker:
            blocker.execute(sa.text("SELECT used FROM cal_pools WHERE cal_type = :pool FOR UPDATE"),
                            {"pool": cal_type})
            threads = [threading.Thread(target=lambda n=node: outcomes.append(open_as(n, 7)))
                       for node in (node_a, node_b)]
            for count, thread in enumerate(threads, start=1):
                thread.start()
                assert _waiting_for_a_lock(engine, count)
            blocker.commit()
        for thread in threads:
            thread.join(timeout=30)
        with engine.connect() as connection:
            assert counters.drift(connection) == {}
    finally:
        engine.dispose()
    assert outcomes == [(cal_type, user_name(7))] * 2
    assert count_rows(node_a, CAL_TABLES[cal_type]) == 1
