"""The time rules of the CAL types and what a pool shows (domain.md 3, 4 and 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from calkeeper.core.cals import (
    QUARANTINE,
    SESSION_CAL_MINIMUM,
    USAGE_CAL_RECHARGE,
    USAGE_CAL_SESSION,
    CalType,
    Pool,
    quarantine_end,
    session_cal_release,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


# -- the numbers the QlikView admin knows ---------------------------------------------------------------


def test_the_quarantine_is_seven_days_as_in_qlikview_12() -> None:
    assert timedelta(days=7) == QUARANTINE


def test_a_session_cal_is_held_at_least_fifteen_minutes() -> None:
    assert timedelta(minutes=15) == SESSION_CAL_MINIMUM


def test_a_usage_cal_serves_sixty_minutes_and_comes_back_after_twenty_eight_days() -> None:
    assert timedelta(minutes=60) == USAGE_CAL_SESSION
    assert timedelta(days=28) == USAGE_CAL_RECHARGE


def test_each_cal_type_has_the_label_admins_know() -> None:
    assert [t.label for t in CalType] == ["Named User CAL", "Document CAL", "Session CAL", "Usage CAL"]


# -- quarantine -----------------------------------------------------------------------------------------


def test_removing_a_never_used_cal_frees_it_at_once() -> None:
    assert quarantine_end(None, NOW) is None


def test_removing_a_cal_last_used_eight_days_ago_frees_it_at_once() -> None:
    assert quarantine_end(NOW - timedelta(days=8), NOW) is None


def test_removing_a_recently_used_cal_quarantines_it_for_seven_days_after_its_last_use() -> None:
    last_used = NOW - timedelta(days=2)
    assert quarantine_end(last_used, NOW) == last_used + timedelta(days=7)
    assert quarantine_end(last_used, NOW) == NOW + timedelta(days=5)


def test_removing_a_cal_used_a_moment_ago_quarantines_it_for_a_full_seven_days() -> None:
    assert quarantine_end(NOW, NOW) == NOW + timedelta(days=7)


def test_a_cal_last_used_just_under_seven_days_ago_is_still_quarantined() -> None:
    last_used = NOW - timedelta(days=7) + timedelta(minutes=1)
    assert quarantine_end(last_used, NOW) == NOW + timedelta(minutes=1)


def test_a_cal_last_used_exactly_seven_days_ago_is_freed_at_once() -> None:
    assert quarantine_end(NOW - timedelta(days=7), NOW) is None


@given(age=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60)))
def test_a_quarantine_never_ends_later_than_seven_days_from_now_nor_in_the_past(age: timedelta) -> None:
    end = quarantine_end(NOW - age, NOW)
    if age < QUARANTINE:
        assert end == NOW - age + QUARANTINE
        assert NOW < end <= NOW + QUARANTINE
    else:
        assert end is None


# -- Session CALs ------------------------------------------------------------------------------------


def test_a_session_cal_whose_session_ends_early_is_held_until_fifteen_minutes_after_the_start() -> None:
    started = NOW - timedelta(minutes=5)
    assert session_cal_release(started, NOW) == started + timedelta(minutes=15)


def test_a_session_cal_whose_session_lasted_longer_is_released_when_it_ends() -> None:
    started = NOW - timedelta(minutes=40)
    assert session_cal_release(started, NOW) == NOW


def test_a_session_cal_ending_exactly_at_fifteen_minutes_is_released_then() -> None:
    started = NOW - timedelta(minutes=15)
    assert session_cal_release(started, NOW) == NOW


@given(length=st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=12)))
def test_a_session_cal_is_always_held_at_least_fifteen_minutes_and_never_past_the_session(
    length: timedelta,
) -> None:
    started = NOW - length
    release = session_cal_release(started, NOW)
    assert release >= started + SESSION_CAL_MINIMUM
    assert release >= NOW
    assert release == max(NOW, started + SESSION_CAL_MINIMUM)


# -- pools ---------------------------------------------------------------------------------------------


def test_a_pool_has_as_many_free_cals_as_the_license_holds_beyond_the_assigned_ones() -> None:
    pool = Pool(CalType.NAMED, in_license=25, assigned=10, quarantined=2)
    assert (pool.free, pool.excess) == (15, 0)


def test_quarantined_cals_still_occupy_the_pool() -> None:
    # "assigned" counts quarantined CALs: 3 active + 2 quarantined of 5 leaves nothing free
    assert Pool(CalType.NAMED, in_license=5, assigned=5, quarantined=2).free == 0


def test_after_a_license_decrease_the_pool_shows_the_excess_and_nothing_free() -> None:
    pool = Pool(CalType.DOCUMENT, in_license=3, assigned=5, quarantined=0)
    assert pool.excess == 2
    assert pool.free == 0


def test_the_excess_only_clears_once_assignments_drop_below_the_new_count() -> None:
    assert Pool(CalType.NAMED, in_license=3, assigned=3, quarantined=0).free == 0
    assert Pool(CalType.NAMED, in_license=3, assigned=3, quarantined=0).excess == 0
    assert Pool(CalType.NAMED, in_license=3, assigned=2, quarantined=0).free == 1


@given(in_license=st.integers(0, 1000), assigned=st.integers(0, 1000))
def test_a_pool_is_either_free_or_in_excess_never_both(in_license: int, assigned: int) -> None:
    pool = Pool(CalType.SESSION, in_license=in_license, assigned=assigned, quarantined=0)
    assert pool.free >= 0
    assert pool.excess >= 0
    assert pool.free == 0 or pool.excess == 0
    assert pool.free - pool.excess == in_license - assigned


def test_unallocated_document_cals_are_the_license_less_what_documents_hold() -> None:
    assert Pool(CalType.DOCUMENT, in_license=100, assigned=10, quarantined=0, allocated=40).unallocated == 60
    assert Pool(CalType.DOCUMENT, in_license=10, assigned=10, quarantined=0, allocated=40).unallocated == 0
    assert Pool(CalType.NAMED, in_license=10, assigned=1, quarantined=0).unallocated is None
