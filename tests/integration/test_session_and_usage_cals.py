"""Session CALs (one per client instance, held at least 15 minutes) and Usage CALs (60 minutes, back in 28 days)."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import UnknownSession
from tests.integration.steps import AR, DAY, HOUR, MINUTE, SALES, open_as, pool
from tests.kit import apply_license

ALICE, BOB = "ACME\\alice", "ACME\\bob"


@pytest.fixture
def sessions_only(site, key):
    """One Session CAL, nothing else to fall to."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, session=1, usage=0)
    return site


@pytest.fixture
def usage_only(site, key):
    """Two Usage CALs, nothing else to fall to."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, session=0, usage=2)
    return site


# -- Session CALs ----------------------------------------------------------------------------------


def test_the_same_client_instance_reuses_its_session_cal_across_documents(site, key):
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, session=2, usage=0)
    first = open_as(site, ALICE, SALES, machine="PC-1")
    second = open_as(site, "acme\\ALICE", AR, machine="pc-1")
    assert first.cal_type == second.cal_type == "session"
    assert first.session_id != second.session_id
    assert pool(site, "session").assigned == 1


def test_another_client_type_or_machine_is_another_client_instance(site, key):
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, session=3, usage=0)
    open_as(site, ALICE, SALES, machine="PC-1", client="ajax")
    open_as(site, ALICE, SALES, machine="PC-1", client="desktop")
    open_as(site, ALICE, SALES, machine="PC-2", client="ajax")
    assert pool(site, "session").assigned == 3
    assert not open_as(site, ALICE, SALES, machine="PC-3").granted


def test_a_session_cal_is_held_at_least_15_minutes_after_a_short_session_closes(sessions_only, clock):
    site = sessions_only
    session = open_as(site, ALICE).session_id
    clock.advance(5 * MINUTE)
    ended = site.close_session(session)
    assert ended.released_at == clock.now() + 10 * MINUTE
    assert pool(site, "session").assigned == 1
    assert not open_as(site, BOB, machine="PC-2").granted
    clock.advance(10 * MINUTE)
    assert pool(site, "session").assigned == 0
    assert open_as(site, BOB, machine="PC-2").cal_type == "session"


def test_a_session_cal_is_held_as_long_as_a_long_session_lasts_and_freed_when_it_ends(sessions_only, clock):
    site = sessions_only
    session = open_as(site, ALICE).session_id
    clock.advance(20 * MINUTE)
    assert site.touch_session(session).active  # the app server's heartbeat: Alice is still working
    clock.advance(20 * MINUTE)
    assert not open_as(site, BOB, machine="PC-2").granted
    assert site.close_session(session).released_at == clock.now()
    assert open_as(site, BOB, machine="PC-2").cal_type == "session"


def test_a_session_cal_stays_held_while_another_session_of_the_client_is_open(site, key, clock):
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, session=1, usage=0)
    sales = open_as(site, ALICE, SALES).session_id
    open_as(site, ALICE, AR)
    clock.advance(HOUR)
    ended = site.close_session(sales)
    assert ended.released_at is None and "other sessions" in ended.outcome
    assert pool(site, "session").assigned == 1


def test_a_client_coming_back_within_its_15_minutes_gets_its_session_cal_again(sessions_only, clock):
    site = sessions_only
    site.close_session(open_as(site, ALICE).session_id)
    clock.advance(5 * MINUTE)
    again = open_as(site, ALICE, AR)
    assert again.cal_type == "session"
    assert pool(site, "session").assigned == 1
    clock.advance(HOUR)
    assert pool(site, "session").assigned == 1


def test_closing_a_session_twice_or_an_unknown_one(sessions_only):
    site = sessions_only
    session = open_as(site, ALICE).session_id
    site.close_session(session)
    assert site.close_session(session).outcome == "already ended"
    with pytest.raises(UnknownSession):
        site.close_session("S-nothing-like-it")


def test_closing_a_named_cal_session_keeps_the_cal_assigned(site, key):
    apply_license(site, key, named=1)
    grant = open_as(site, ALICE)
    assert grant.cal_type == "named"
    assert "stays assigned" in site.close_session(grant.session_id).outcome
    assert pool(site, "named").assigned == 1


def test_anonymous_users_get_session_cals_one_per_machine(site, key):
    apply_license(site, key, named=1, document=1, session=2, usage=0)
    site.set_document_allocation(SALES, 1)
    site.set_document_dynamic(SALES, True)
    kiosk = open_as(site, None, SALES, machine="KIOSK-1")
    assert kiosk.granted and kiosk.cal_type == "session" and kiosk.user is None
    assert open_as(site, None, AR, machine="KIOSK-1").cal_type == "session"
    assert open_as(site, None, SALES, machine="KIOSK-2").cal_type == "session"
    assert pool(site, "session").assigned == 2


def test_anonymous_users_never_take_named_or_document_cals(site, key):
    apply_license(site, key, named=1, document=1, session=0, usage=1)
    site.set_document_allocation(SALES, 1)
    site.set_document_dynamic(SALES, True)
    assert open_as(site, None, SALES, machine="KIOSK-1").cal_type == "usage"
    assert pool(site, "named").assigned == 0 and pool(site, "document").assigned == 0
    assert not open_as(site, None, SALES, machine="KIOSK-2").granted


def test_a_user_sees_the_session_cal_held_for_them(sessions_only):
    site = sessions_only
    open_as(site, ALICE, machine="PC-9", client="desktop")
    [held] = site.user_cals(ALICE).session_cals
    assert (held["machine"], held["client"], held["released_at"]) == ("PC-9", "desktop", None)


# -- Usage CALs ------------------------------------------------------------------------------------


def test_a_usage_cal_is_reused_within_60_minutes_for_the_same_user_and_document(usage_only, clock):
    site = usage_only
    assert open_as(site, ALICE, SALES).cal_type == "usage"
    clock.advance(59 * MINUTE)
    assert open_as(site, "acme\\Alice", SALES, machine="PC-2").cal_type == "usage"
    assert pool(site, "usage").assigned == 1


def test_a_usage_cal_serves_one_document(usage_only):
    site = usage_only
    open_as(site, ALICE, SALES)
    open_as(site, ALICE, AR)
    assert pool(site, "usage").assigned == 2
    assert not open_as(site, ALICE, "Contract Analytix.qvw").granted


def test_after_60_minutes_a_new_open_consumes_another_usage_cal(usage_only, clock):
    site = usage_only
    open_as(site, ALICE, SALES)
    clock.advance(60 * MINUTE)
    assert open_as(site, ALICE, SALES).cal_type == "usage"
    assert pool(site, "usage").assigned == 2
    clock.advance(60 * MINUTE)
    denied = open_as(site, ALICE, SALES)
    assert not denied.granted and denied.reason == f"no CAL available for {ALICE} on {SALES}"


def test_each_consumed_usage_cal_comes_back_28_days_after_it_was_consumed(usage_only, clock):
    site = usage_only
    open_as(site, ALICE, SALES)
    clock.advance(2 * HOUR)
    open_as(site, BOB, SALES, machine="PC-2")
    assert pool(site, "usage").free == 0
    clock.advance(28 * DAY - 2 * HOUR - MINUTE)
    assert pool(site, "usage").assigned == 2
    clock.advance(MINUTE)
    assert pool(site, "usage").assigned == 1
    clock.advance(2 * HOUR)
    assert pool(site, "usage").assigned == 0
    assert open_as(site, ALICE, SALES).cal_type == "usage"


def test_ending_a_usage_session_early_does_not_bring_its_cal_back(usage_only, clock):
    site = usage_only
    session = open_as(site, ALICE, SALES).session_id
    clock.advance(MINUTE)
    assert "28 days" in site.close_session(session).outcome
    clock.advance(DAY)
    assert pool(site, "usage").assigned == 1


def test_anonymous_users_on_one_machine_share_a_usage_cal_for_the_hour(usage_only, clock):
    site = usage_only
    assert open_as(site, None, SALES, machine="KIOSK-1").cal_type == "usage"
    clock.advance(30 * MINUTE)
    assert open_as(site, None, SALES, machine="KIOSK-1").cal_type == "usage"
    assert pool(site, "usage").assigned == 1


def test_a_user_sees_when_each_usage_cal_expires_and_comes_back(usage_only, clock):
    site = usage_only
    consumed = clock.now()
    open_as(site, ALICE, SALES)
    [usage] = site.user_cals(ALICE).usage_cals
    assert usage["document"] == SALES
    assert (usage["consumed_at"], usage["expires_at"], usage["returns_at"]) == (
        consumed, consumed + HOUR, consumed + 28 * DAY)
