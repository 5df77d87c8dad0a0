"""A refused use case changes nothing: no CAL, no setting, no audit row, on either database."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import (
    AllocationRefused,
    CalkeeperError,
    InvalidInput,
    InvalidUsers,
    NoCalAvailable,
    NotQuarantined,
    UnknownUser,
)
from tests.integration.steps import AR, SALES, audit_actions, open_as, snapshot
from tests.kit import apply_license

ALICE, BOB, CAROL = "ACME\\alice", "ACME\\bob", "ACME\\carol"


@pytest.fixture
def arranged(site, key, clock):
    """Alice holds a used Named CAL, Bob a Document CAL for SalesFlash; one Named CAL is left."""
    apply_license(site, key, named=2, document=3, session=1, usage=1)
    site.update_cal_settings(allow_dynamic_assignment=False)
    site.assign_named_cals(ALICE)
    open_as(site, ALICE)
    site.set_document_allocation(SALES, 2)
    site.assign_document_cals(SALES, BOB)
    return site


REFUSALS = {
    "named list with an invalid entry": (lambda s: s.assign_named_cals(f"{BOB};carol"), InvalidUsers),
    "named list longer than the free pool": (lambda s: s.assign_named_cals(f"{BOB};{CAROL}"), NoCalAvailable),
    "named removal naming a user without one": (lambda s: s.remove_named_cals(f"{ALICE};{BOB}"), UnknownUser),
    "named removal with an invalid entry": (lambda s: s.remove_named_cals(f"{ALICE};bad name"), InvalidUsers),
    "named restore of a CAL not removed": (lambda s: s.restore_named_cals(ALICE), NotQuarantined),
    "named restore of a user without one": (lambda s: s.restore_named_cals(CAROL), NotQuarantined),
    "document list with an invalid entry": (lambda s: s.assign_document_cals(SALES, f"{CAROL};x"), InvalidUsers),
    "document list beyond the allocation": (
        lambda s: s.assign_document_cals(SALES, f"{ALICE};{CAROL}"), NoCalAvailable),
    "document removal naming a user without one": (
        lambda s: s.remove_document_cals(SALES, f"{BOB};{CAROL}"), UnknownUser),
    "document restore of a CAL not removed": (lambda s: s.restore_document_cals(SALES, BOB), NotQuarantined),
    "negative allocation": (lambda s: s.set_document_allocation(AR, -2), InvalidInput),
    "allocation beyond the pool": (lambda s: s.set_document_allocation(AR, 2), AllocationRefused),
    "allocation below the assigned": (lambda s: s.set_document_allocation(SALES, 0), AllocationRefused),
    "release of a document still there": (lambda s: s.release_missing_document(SALES), InvalidInput),
    "unknown identification mode": (lambda s: s.update_cal_settings(identification_mode="ip"), InvalidInput),
    "malformed user opening": (lambda s: s.open_document("alice", SALES), InvalidUsers),
    "unknown client type": (lambda s: s.open_document(CAROL, SALES, client="fax"), InvalidInput),
    "a page of no rows": (lambda s: s.list_named_cals(limit=0), InvalidInput),
    "user CALs of a malformed name": (lambda s: s.user_cals("nobody"), InvalidUsers),
}


@pytest.mark.parametrize("case", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_refused_use_case_changes_nothing(arranged, case):
    call, error = case
    before = snapshot(arranged)
    with pytest.raises(error) as refused:
        call(arranged)
    assert refused.value.message and refused.value.code != "error"
    assert snapshot(arranged) == before


def test_a_list_that_fails_half_way_assigns_nobody_even_those_before_the_failure(site, key):
    apply_license(site, key, named=2)
    with pytest.raises(NoCalAvailable):
        site.assign_named_cals(f"{ALICE};{BOB};{CAROL}")
    assert site.list_named_cals().items == []
    assert "named_cal.assigned" not in audit_actions(site)


def test_a_removal_list_that_fails_half_way_removes_nobody(arranged):
    arranged.assign_named_cals(CAROL)
    with pytest.raises(UnknownUser):
        arranged.remove_named_cals(f"{CAROL};{ALICE};{BOB}")
    assert [cal.status for cal in arranged.list_named_cals().items] == ["assigned", "assigned"]
    assert not any(a.startswith("named_cal.") and a != "named_cal.assigned" for a in audit_actions(arranged))


def test_every_refusal_is_one_of_calkeepers_own_errors(arranged):
    for call, _error in REFUSALS.values():
        with pytest.raises(CalkeeperError):
            call(arranged)
