"""A session's life after its open: heartbeats, a Usage CAL per hour, idle and maximum lengths."""

from __future__ import annotations

from datetime import timedelta

import pytest

import calkeeper
from calkeeper.core.cals import SessionLimits
from tests.integration.steps import HOUR, MINUTE, SALES, audit_entries, open_as, pool
from tests.kit import apply_license

ALICE, BOB = "ACME\\alice", "ACME\\bob"


@pytest.fixture
def limited(database_url, clock, key, root):
    """A site whose sessions end after 30 minutes without activity or 3 hours in all."""
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, session_limits=SessionLimits(timedelta(minutes=30), 3 * HOUR))
    site.update_cal_settings(allow_dynamic_assignment=False)
    yield site
    site.close()


def usage_cals(site: calkeeper.LocalSite, user: str = ALICE) -> int:
    return len(site.user_cals(user).usage_cals)


def keep_alive(site: calkeeper.LocalSite, session: str, clock: calkeeper.FrozenClock, minutes: int) -> None:
    """Heartbeats every 20 minutes, as an app server sends them while the user works."""
    for _ in range(minutes // 20):
        clock.advance(20 * MINUTE)
        assert site.touch_session(session).active
    clock.advance((minutes % 20) * MINUTE)


def test_a_usage_session_of_130_minutes_consumes_three_usage_cals(limited, key, clock):
    apply_license(limited, key, named=1, session=0, usage=5)
    session = open_as(limited, ALICE, SALES).session_id
    keep_alive(limited, session, clock, 130)
    limited.close_session(session)
    assert usage_cals(limited) == 3 and pool(limited, "usage").assigned == 3


def test_the_hours_since_the_last_heartbeat_are_counted_when_the_session_ends(limited, key, clock):
    apply_license(limited, key, named=1, session=0, usage=5)
    session = open_as(limited, ALICE, SALES).session_id
    keep_alive(limited, session, clock, 60)  # the last heartbeat, at 60 minutes, consumed the second
    clock.advance(25 * MINUTE)
    limited.close_session(session)
    assert usage_cals(limited) == 2


def test_a_heartbeat_with_no_usage_cal_left_for_the_next_hour_ends_the_session_and_records_why(limited, key, clock):
    apply_license(limited, key, named=1, session=0, usage=1)
    session = open_as(limited, ALICE, SALES).session_id
    keep_alive(limited, session, clock, 40)
    clock.advance(20 * MINUTE)
    answer = limited.touch_session(session)
    assert not answer.active and "no Usage CAL is left for the next hour" in answer.reason
    [denial] = limited.denials()
    assert (denial.user_name, denial.document, denial.code) == (ALICE, SALES, "no_cal_available")
    assert not limited.touch_session(session).active  # ended: it stays ended


def test_a_session_nobody_closes_frees_its_session_cal_at_last_activity_plus_the_idle_timeout(limited, key, clock):
    apply_license(limited, key, named=1, session=1, usage=0)
    session = open_as(limited, ALICE, SALES).session_id
    opened = clock.now()
    keep_alive(limited, session, clock, 20)
    clock.advance(HOUR)  # the app server stopped sending heartbeats: the user left
    assert limited.app.session_life.end_expired_sessions() == 1
    [expired] = audit_entries(limited, "session.expired")
    assert expired.at == opened + 20 * MINUTE + 30 * MINUTE and expired.details["why"] == "idle"
    assert pool(limited, "session").assigned == 0
    assert open_as(limited, BOB, SALES, machine="PC-2").cal_type == "session"


def test_a_session_cal_of_an_idle_session_is_held_at_least_15_minutes_from_its_start(database_url, clock, key, root):
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, session_limits=SessionLimits(timedelta(minutes=5), 3 * HOUR))
    try:
        site.update_cal_settings(allow_dynamic_assignment=False)
        apply_license(site, key, named=1, session=1, usage=0)
        open_as(site, ALICE, SALES)
        clock.advance(10 * MINUTE)
        site.app.session_life.end_expired_sessions()
        assert not open_as(site, BOB, SALES, machine="PC-2").granted  # free only at start + 15 minutes
        clock.advance(5 * MINUTE)
        assert open_as(site, BOB, SALES, machine="PC-2").cal_type == "session"
    finally:
        site.close()


def test_a_session_ends_at_its_maximum_length_however_busy(limited, key, clock):
    apply_license(limited, key, named=1, session=1, usage=0)
    session = open_as(limited, ALICE, SALES).session_id
    keep_alive(limited, session, clock, 160)
    clock.advance(20 * MINUTE)
    answer = limited.touch_session(session)
    assert not answer.active and "maximum length of 3 hours" in answer.reason


def test_a_heartbeat_after_the_idle_timeout_says_the_session_ended(limited, key, clock):
    apply_license(limited, key, named=1, session=1, usage=0)
    session = open_as(limited, ALICE, SALES).session_id
    clock.advance(31 * MINUTE)
    answer = limited.touch_session(session)
    assert not answer.active and "30 minutes without activity" in answer.reason


def test_a_heartbeat_of_a_named_cal_grant_is_answered_that_it_goes_on(limited, key):
    apply_license(limited, key, named=1, session=0, usage=0)
    limited.assign_named_cals(ALICE)
    grant = open_as(limited, ALICE, SALES)
    assert limited.touch_session(grant.session_id).active
