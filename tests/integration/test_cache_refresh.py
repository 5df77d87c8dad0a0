"""The decision cache's refresh: a change made anywhere reaches this node within the refresh bound, and
while the upkeep confirms the cache, repeat opens go on being answered from memory.

The bound runs from the moment the node asked the database, not from when it answered. Confirming
never empties the cache first: a node that did so sent every open arriving meanwhile to the database,
a burst of slow answers twice per refresh period under load.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

import calkeeper
from calkeeper.core.allocation import AccessAsk
from calkeeper.store.site_state import SiteStateRepository
from tests.integration.steps import SALES, open_as
from tests.kit import apply_license

ALICE = "ACME\\alice"


@pytest.fixture
def holder(site, key):
    """Alice holds a Named CAL, assigned by hand; the site runs as a server (writes deferred)."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=2)
    site.assign_named_cals(ALICE)
    site.app.last_used.deferred = True
    assert open_as(site, ALICE, SALES).granted  # the database's answer puts Alice in the cache
    return site


def ask() -> AccessAsk:
    return AccessAsk.parse(ALICE, SALES, machine="PC-1")


def bound(site: calkeeper.LocalSite) -> timedelta:
    return timedelta(seconds=site.app.access.cache.refresh_seconds)


def test_opens_are_answered_from_memory_while_the_upkeep_confirms_the_cache(holder, monkeypatch):
    site = holder
    asking, answer = threading.Event(), threading.Event()
    read = SiteStateRepository.generation

    def slow_database(repository: SiteStateRepository) -> int:
        if threading.current_thread().name == "upkeep":
            asking.set()
            assert answer.wait(10)
        return read(repository)

    monkeypatch.setattr(SiteStateRepository, "generation", slow_database)
    upkeep = threading.Thread(target=site.app.access.keep_cache_fresh, name="upkeep")
    upkeep.start()
    try:
        assert asking.wait(10)
        grant = site.app.access.cached_decision(ask())  # the upkeep waits for the database meanwhile
        assert grant is not None and grant.granted and grant.cal_type == "named"
    finally:
        answer.set()
        upkeep.join(10)


def test_a_change_on_another_node_is_seen_once_the_bound_has_passed(holder, database_url, clock, key, root):
    site = holder
    with calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                             root_folder=root) as other:
        other.remove_named_cals(ALICE)  # quarantined: it still serves Alice, but the generation moved
        assert site.app.access.cached_decision(ask()) is not None  # within the bound: from memory
        clock.advance(bound(site) + timedelta(milliseconds=1))
        assert site.app.access.cached_decision(ask()) is None  # past it: the database must be asked
        site.app.access.keep_cache_fresh()
        assert site.app.access.cache.current() is not None


def test_the_bound_runs_from_when_the_database_was_asked(holder, clock, monkeypatch):
    site = holder
    read = SiteStateRepository.generation
    slow = bound(site) * 0.8

    def answering_late(repository: SiteStateRepository) -> int:
        clock.advance(slow)  # the database takes most of the bound to answer
        return read(repository)

    monkeypatch.setattr(SiteStateRepository, "generation", answering_late)
    site.app.access.keep_cache_fresh()
    monkeypatch.undo()
    clock.advance(bound(site) * 0.3)  # 1.1 bounds since the question, 0.3 since the answer
    assert site.app.access.cached_decision(ask()) is None
