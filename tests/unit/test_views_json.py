"""Views survive the trip to JSON and back: what the API sends is what a client rebuilds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from calkeeper.contract.views import (
    AssignedCal,
    AssignOutcome,
    CalOverview,
    CalSettings,
    LicenseView,
    PoolView,
    UserCals,
    from_json,
    to_json,
)
from calkeeper.core.cals import CalType, Grant

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_a_view_with_times_dates_and_nested_views_comes_back_equal() -> None:
    cal = AssignedCal("ACME\\alice", "user", "manual", NOW, None, NOW, document="SalesFlash.qvw")
    user = UserCals("ACME\\alice", cal, [cal], [{"machine": "PC-1"}])
    assert from_json(UserCals, to_json(user)) == user
    license = LicenseView("4600123456789012", "92566", "o", "org", "valid", {"named": 5}, True, None,
                          date(2027, 12, 31), "ck-1", NOW, "demo", "LEF")
    assert from_json(LicenseView, to_json(license)) == license
    overview = CalOverview([PoolView("named", "Named User CAL", 5, 2, 0, 3, 0)],
                           CalSettings(True, True, "user", True, False), True)
    assert from_json(CalOverview, to_json(overview)) == overview


def test_lists_enums_and_unknown_keys_are_read_as_a_newer_server_sends_them() -> None:
    outcomes = from_json(list[AssignOutcome], [{"user": "ACME\\bob", "outcome": "assigned", "new_field": 1}])
    assert outcomes == [AssignOutcome("ACME\\bob", "assigned")]
    grant = from_json(Grant, {"granted": True, "cal_type": "named", "session_id": "N-1", "user": None,
                              "document": "d.qvw", "reason": "r"})
    assert grant.cal_type is CalType.NAMED and grant.dynamic is False


def test_a_time_without_a_zone_is_taken_as_utc_and_a_missing_field_is_an_error() -> None:
    cal = from_json(AssignedCal, {"user": "A\\b", "identity_kind": "user", "source": "manual",
                                  "assigned_at": "2026-03-01T09:30:00", "last_used": None, "quarantined_until": None})
    assert cal.assigned_at == NOW
    with pytest.raises(ValueError, match="outcome"):
        from_json(AssignOutcome, {"user": "ACME\\bob"})
