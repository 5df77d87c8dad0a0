"""A Named (or Document) CAL serves one machine at a time, with any number of sessions there.

QlikView's reference manual: a Named User CAL allows "any number of concurrent sessions from one user
on one machine at a time". An open from a second machine while a live session of the CAL runs on
another is refused naming that machine, or, where the site says so, takes the CAL over.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

import calkeeper
from tests.integration.steps import AR, MINUTE, SALES, audit_entries, open_as, pool
from tests.kit import apply_license

ALICE = "ACME\\alice"


@pytest.fixture
def taking_over(database_url, clock, key, root):
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, second_machine_takes_over=True)
    yield site
    site.close()


def test_a_second_machine_is_refused_while_the_first_has_a_live_session(site, key):
    apply_license(site, key, named=2, session=0, usage=0)
    first = open_as(site, ALICE, machine="PC-1")
    assert first.granted and first.cal_type == "named"
    second = open_as(site, ALICE, machine="PC-2")
    assert not second.granted
    assert second.code == "cal_in_use_on_other_machine"
    assert "in use on machine PC-1" in second.reason and "one machine at a time" in second.reason
    # the refusal is recorded, and no second CAL was taken for the same user
    assert site.denials()[0].code == "cal_in_use_on_other_machine"
    assert pool(site, "named").assigned == 1


def test_any_number_of_sessions_on_the_same_machine(site, key):
    apply_license(site, key, named=1, session=0, usage=0)
    grants = [open_as(site, ALICE, doc, machine="PC-1") for doc in (SALES, AR, SALES)]
    assert all(g.granted and g.cal_type == "named" for g in grants)
    assert len({g.session_id for g in grants}) == 3
    assert open_as(site, ALICE, machine="pc-1").granted  # machine names compare case-insensitively


def test_once_the_sessions_there_end_another_machine_may_use_it(site, key):
    apply_license(site, key, named=1, session=0, usage=0)
    a = open_as(site, ALICE, machine="PC-1")
    b = open_as(site, ALICE, AR, machine="PC-1")
    site.close_session(a.session_id)
    assert not open_as(site, ALICE, machine="PC-2").granted  # one session still runs on PC-1
    site.close_session(b.session_id)
    assert open_as(site, ALICE, machine="PC-2").granted
    refused = open_as(site, ALICE, machine="PC-1")
    assert not refused.granted and "in use on machine PC-2" in refused.reason


def test_an_idle_session_no_longer_holds_the_machine(site, key, clock):
    apply_license(site, key, named=1, session=0, usage=0)
    kept = open_as(site, ALICE, machine="PC-1")
    clock.advance(20 * MINUTE)
    assert site.touch_session(kept.session_id).active
    clock.advance(20 * MINUTE)  # 40 minutes after the open, 20 after the heartbeat: still live
    assert not open_as(site, ALICE, machine="PC-2").granted
    clock.advance(11 * MINUTE)  # 31 minutes idle
    moved = open_as(site, ALICE, machine="PC-2")
    assert moved.granted and moved.cal_type == "named"


def test_document_cals_serve_one_machine_at_a_time_too(site, key):
    apply_license(site, key, named=1, document=2, session=0, usage=0)
    site.update_cal_settings(allow_dynamic_assignment=False)
    site.set_document_allocation(SALES, 2)
    site.assign_document_cals(SALES, ALICE)
    assert open_as(site, ALICE, SALES, machine="PC-1").cal_type == "document"
    refused = open_as(site, ALICE, SALES, machine="PC-2")
    assert not refused.granted
    assert f"Document CAL for {SALES} is in use on machine PC-1" in refused.reason


def test_a_cal_held_by_a_machine_is_not_limited(site, key):
    apply_license(site, key, named=1, session=0, usage=0)
    site.update_cal_settings(identification_mode="machine")
    site.assign_named_cals("PC-1")
    assert open_as(site, ALICE, machine="PC-1").granted
    assert open_as(site, "ACME\\bob", machine="PC-1").granted


def test_by_setting_a_second_machine_takes_the_cal_over(taking_over, key):
    site = taking_over
    apply_license(site, key, named=1, session=0, usage=0)
    old = open_as(site, ALICE, machine="PC-1")
    new = open_as(site, ALICE, machine="PC-2")
    assert new.granted and new.cal_type == "named"
    touch = site.touch_session(old.session_id)
    assert not touch.active and "taken over" in touch.reason and "PC-2" in touch.reason
    assert site.touch_session(new.session_id).active
    taken = audit_entries(site, "session.taken_over")
    assert len(taken) == 1 and taken[0].target == ALICE
    assert pool(site, "named").assigned == 1


def test_another_node_that_cached_the_first_machine_learns_of_the_move(database_url, clock, key, root, site):
    """Node A cached alice on PC-1; she moves to PC-2 through node B: A stops serving PC-1 from memory."""
    apply_license(site, key, named=1, session=0, usage=0)
    node_b = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                                 root_folder=root)
    try:
        first = open_as(site, ALICE, machine="PC-1")
        assert open_as(site, ALICE, machine="PC-1").granted  # now answered from node A's cache
        assert not open_as(node_b, ALICE, machine="PC-2").granted  # B sees PC-1's live session
        for session in (first.session_id,):
            site.close_session(session)
        clock.advance(31 * MINUTE)  # the cached open's session (not closed) idles out
        assert open_as(node_b, ALICE, machine="PC-2").granted
        clock.advance(timedelta(seconds=1))  # past the cache's refresh bound
        refused = open_as(site, ALICE, machine="PC-1")
        assert not refused.granted and "PC-2" in refused.reason
    finally:
        node_b.close()


def test_sessions_granted_from_memory_are_recorded_and_can_be_touched(site, key):
    apply_license(site, key, named=1, session=0, usage=0)
    open_as(site, ALICE, machine="PC-1")
    site.app.last_used.deferred = True  # as a server runs: writes of repeat opens wait for the upkeep
    cached = open_as(site, ALICE, AR, machine="PC-1")
    assert cached.granted and site.app.last_used.sessions  # kept in memory
    assert site.touch_session(cached.session_id).active  # written first, then found
    assert not site.app.last_used.sessions
    assert "stays assigned" in site.close_session(cached.session_id).outcome
