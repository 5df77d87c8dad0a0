# ruff: noqa: F811  (the throwaway cluster fixtures are imported by name, as pytest finds them)
"""Through a database outage: users who hold a CAL keep opening documents, new claims wait, nothing is lost.

On a throwaway PostgreSQL cluster of its own (stopped and started by the tests), never the shared server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import calkeeper
from calkeeper.authority.signing import SigningKey
from calkeeper.core.errors import StoreUnavailable
from tests.integration.test_store_unavailable import ThrowawayPostgres, cluster, database_url  # noqa: F401
from tests.kit import apply_license

ALICE, BOB, DOC = "ACME\\alice", "ACME\\bob", "SalesFlash.qvw"
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)


def open_site(database_url: str, key: SigningKey, root: Path, clock: calkeeper.FrozenClock,
              degraded_minutes: float) -> calkeeper.LocalSite:
    return calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester", degraded_minutes=degraded_minutes)


@pytest.fixture
def site(database_url: str, key: SigningKey, root: Path, clock: calkeeper.FrozenClock,
         cluster: ThrowawayPostgres) -> Iterator[calkeeper.LocalSite]:
    site = open_site(database_url, key, root, clock, degraded_minutes=5)
    apply_license(site, key, named=3, document=2, session=2, usage=5)
    site.assign_named_cals(ALICE)
    site.set_document_allocation(DOC, 1)
    site.assign_document_cals(DOC, BOB)
    yield site
    if not cluster.running():
        cluster.start()
    site.close()


def test_holders_are_served_from_memory_and_everything_else_waits(site, cluster, clock):
    assert site.open_document(ALICE, DOC, machine="PC-1").granted
    assert site.open_document(BOB, DOC, machine="PC-2").cal_type == "document"
    clock.advance(MINUTE)
    cluster.stop()
    clock.advance(SECOND)  # past the cache's refresh bound: the node notices the outage

    alice = site.open_document(ALICE, DOC, machine="PC-1")
    assert alice.granted and alice.degraded and alice.cal_type == "named"
    assert "answered while the CAL database is unavailable" in alice.reason
    bob = site.open_document(BOB, DOC, machine="PC-2")
    assert bob.granted and bob.degraded and bob.cal_type == "document"
    for refused in (
        lambda: site.open_document("ACME\\newcomer", DOC, machine="PC-3"),  # a first-time claim
        lambda: site.open_document(None, DOC, machine="KIOSK-1"),  # a Session CAL
        lambda: site.open_document(ALICE, DOC, machine="PC-9"),  # another machine: only the database can judge
        lambda: site.assign_named_cals("ACME\\carol"),  # an admin change
    ):
        with pytest.raises(StoreUnavailable):
            refused()
    assert site.open_document(ALICE, DOC, machine="PC-1").degraded  # the refused change kept what it knew

    clock.advance(5 * MINUTE)  # the degraded window has passed
    with pytest.raises(StoreUnavailable):
        site.open_document(ALICE, DOC, machine="PC-1")

    cluster.start()
    clock.advance(SECOND)
    after = site.open_document(ALICE, DOC, machine="PC-1")
    assert after.granted and not after.degraded
    # what the degraded grants wrote waited in memory and is in the database now
    assert site.touch_session(alice.session_id).active  # recorded once the database came back
    cals = {c.user: c for c in site.list_named_cals().items}
    assert cals[ALICE].last_used is not None and cals[ALICE].last_used >= clock.now() - 7 * MINUTE


def test_with_the_window_at_zero_every_open_waits(database_url, key, root, clock, cluster):
    site = open_site(database_url, key, root, clock, degraded_minutes=0)
    try:
        apply_license(site, key, named=3)
        site.assign_named_cals(ALICE)
        assert site.open_document(ALICE, DOC, machine="PC-1").granted
        cluster.stop()
        clock.advance(SECOND)
        with pytest.raises(StoreUnavailable):
            site.open_document(ALICE, DOC, machine="PC-1")
    finally:
        if not cluster.running():
            cluster.start()
        site.close()


def test_a_removal_made_before_the_outage_is_honoured_during_it(site, cluster, clock):
    assert site.open_document(ALICE, DOC, machine="PC-1").granted
    site.remove_named_cals(ALICE)  # used just now: quarantined, no longer held
    cluster.stop()
    clock.advance(SECOND)
    with pytest.raises(StoreUnavailable):
        site.open_document(ALICE, DOC, machine="PC-1")
