"""Document CALs through the Site API: allocation to documents, assignment out of it, dynamic per document."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import AllocationRefused, InvalidInput, InvalidUsers, NoCalAvailable
from tests.integration.steps import (
    ADVERTISING,
    AR,
    SALES,
    audit_entries,
    document_users,
    open_as,
    pool,
)
from tests.kit import apply_license

ALICE, BOB, CAROL = "ACME\\alice", "ACME\\bob", "ACME\\carol"


@pytest.fixture
def licensed(site, key):
    """Dynamic Named CAL assignment off, so that Document CALs are what users get; 5 Document CALs."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, document=5, session=2, usage=0)
    return site


def allocation(site, document):
    return next(d for d in site.list_documents() if d.path == document)


# -- allocation ------------------------------------------------------------------------------------


def test_a_new_document_has_no_cals_allocated_and_no_dynamic_assignment(licensed):
    documents = licensed.list_documents()
    assert len(documents) == 4
    assert all(d.cals_allocated == 0 and d.cals_assigned == 0 for d in documents)
    assert not any(d.allow_dynamic_assignment for d in documents)
    assert pool(licensed, "document").allocated == 0 and pool(licensed, "document").unallocated == 5


def test_allocating_cals_to_a_document_takes_them_from_the_unallocated_pool(licensed):
    view = licensed.set_document_allocation(SALES, 3)
    assert (view.path, view.cals_allocated) == (SALES, 3)
    documents = pool(licensed, "document")
    assert (documents.allocated, documents.unallocated, documents.assigned) == (3, 2, 0)


def test_a_document_cannot_be_allocated_more_than_the_pool_has_unallocated(licensed):
    licensed.set_document_allocation(SALES, 3)
    with pytest.raises(AllocationRefused) as refused:
        licensed.set_document_allocation(AR, 3)
    assert "only 2" in refused.value.message
    assert allocation(licensed, AR).cals_allocated == 0
    assert licensed.set_document_allocation(AR, 2).cals_allocated == 2
    assert pool(licensed, "document").unallocated == 0


def test_an_allocation_cannot_drop_below_the_cals_assigned_to_the_document(licensed):
    licensed.set_document_allocation(SALES, 3)
    licensed.assign_document_cals(SALES, f"{ALICE};{BOB}")
    with pytest.raises(AllocationRefused) as refused:
        licensed.set_document_allocation(SALES, 1)
    assert "cannot drop below" in refused.value.message
    assert allocation(licensed, SALES).cals_allocated == 3
    assert licensed.set_document_allocation(SALES, 2).cals_allocated == 2


def test_a_negative_allocation_is_refused(licensed):
    licensed.set_document_allocation(SALES, 2)
    with pytest.raises(InvalidInput) as refused:
        licensed.set_document_allocation(SALES, -1)
    assert "negative" in refused.value.message
    assert allocation(licensed, SALES).cals_allocated == 2


def test_an_allocation_change_is_audited_with_before_and_after(licensed):
    licensed.set_document_allocation(SALES, 2, actor="ACME\\admin")
    licensed.set_document_allocation(SALES, 4)
    latest, first = audit_entries(licensed, "document.allocation_changed")
    assert (first.actor, first.target, first.details) == ("ACME\\admin", SALES, {"before": 0, "after": 2})
    assert latest.details == {"before": 2, "after": 4}


def test_documents_are_named_case_insensitively_and_the_extension_may_be_left_out(licensed):
    assert licensed.set_document_allocation("salesflash", 1).path == SALES
    assert licensed.set_document_allocation("ar analytix.QVW", 1).path == AR


# -- assignment out of the allocation --------------------------------------------------------------


def test_document_cals_are_assigned_out_of_the_documents_allocation(licensed):
    licensed.set_document_allocation(SALES, 2)
    outcomes = licensed.assign_document_cals(SALES, f"{ALICE};{BOB}")
    assert [o.outcome for o in outcomes] == ["assigned", "assigned"]
    assert document_users(licensed, SALES) == [ALICE, BOB]
    assert allocation(licensed, SALES).cals_assigned == 2
    assert pool(licensed, "document").assigned == 2


def test_a_list_larger_than_what_is_left_of_the_allocation_assigns_nobody(licensed):
    licensed.set_document_allocation(SALES, 2)
    licensed.assign_document_cals(SALES, ALICE)
    with pytest.raises(NoCalAvailable) as refused:
        licensed.assign_document_cals(SALES, f"{BOB};{CAROL}")
    assert "Nothing was assigned" in refused.value.message
    assert document_users(licensed, SALES) == [ALICE]
    assert len(audit_entries(licensed, "document_cal.assigned")) == 1


def test_a_document_without_an_allocation_takes_no_document_cal(licensed):
    with pytest.raises(NoCalAvailable):
        licensed.assign_document_cals(SALES, ALICE)
    assert document_users(licensed, SALES) == []


def test_an_invalid_entry_assigns_no_document_cal_and_names_it(licensed):
    licensed.set_document_allocation(SALES, 3)
    with pytest.raises(InvalidUsers) as refused:
        licensed.assign_document_cals(SALES, f"{ALICE};carol")
    assert "'carol'" in refused.value.message
    assert document_users(licensed, SALES) == []


def test_the_same_user_named_twice_differently_gets_one_document_cal(licensed):
    licensed.set_document_allocation(SALES, 2)
    licensed.assign_document_cals(SALES, "ACME\\Alice")
    [again] = licensed.assign_document_cals(SALES, "acme\\ALICE")
    assert (again.user, again.outcome) == ("ACME\\Alice", "already assigned")
    assert document_users(licensed, SALES) == ["ACME\\Alice"]


def test_a_manual_document_cal_assignment_is_audited(licensed):
    licensed.set_document_allocation(SALES, 1)
    licensed.assign_document_cals(SALES, ALICE, actor="ACME\\admin")
    [entry] = audit_entries(licensed, "document_cal.assigned")
    assert (entry.actor, entry.target, entry.details) == (
        "ACME\\admin", ALICE, {"document": SALES, "source": "manual"})


# -- what a Document CAL opens ---------------------------------------------------------------------


def test_a_document_cal_opens_its_document(licensed):
    licensed.set_document_allocation(SALES, 1)
    licensed.assign_document_cals(SALES, ALICE)
    decision = open_as(licensed, "acme\\Alice", SALES)
    assert decision.granted and decision.cal_type == "document" and not decision.dynamic
    assert pool(licensed, "session").assigned == 0


def test_a_document_cal_only_opens_its_document(site, key):
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, document=2, session=0, usage=0)
    site.set_document_allocation(SALES, 1)
    site.assign_document_cals(SALES, ALICE)
    decision = open_as(site, ALICE, AR)
    assert not decision.granted
    assert decision.reason == f"no CAL available for {ALICE} on {AR}"
    assert open_as(site, ALICE, SALES).cal_type == "document"


def test_a_user_with_a_document_cal_for_one_document_falls_to_a_session_cal_on_another(licensed):
    licensed.set_document_allocation(SALES, 1)
    licensed.assign_document_cals(SALES, ALICE)
    assert open_as(licensed, ALICE, AR).cal_type == "session"


# -- dynamic Document CAL assignment, per document -------------------------------------------------


def test_dynamic_document_cal_assignment_is_a_setting_of_each_document(licensed):
    licensed.set_document_allocation(SALES, 1)
    licensed.set_document_allocation(AR, 1)
    assert licensed.set_document_dynamic(SALES, True).allow_dynamic_assignment is True
    on_sales = open_as(licensed, ALICE, SALES)
    assert on_sales.cal_type == "document" and on_sales.dynamic
    assert open_as(licensed, ALICE, AR).cal_type == "session"
    assert document_users(licensed, SALES) == [ALICE] and document_users(licensed, AR) == []
    [cal] = licensed.list_document_cals(SALES)
    assert (cal.source, cal.document) == ("dynamic", SALES)


def test_dynamic_document_assignment_stops_at_the_documents_allocation(licensed):
    licensed.set_document_allocation(SALES, 1)
    licensed.set_document_dynamic(SALES, True)
    assert open_as(licensed, ALICE, SALES).cal_type == "document"
    assert open_as(licensed, BOB, SALES, machine="PC-2").cal_type == "session"
    assert allocation(licensed, SALES).cals_assigned == 1


def test_dynamic_document_assignment_needs_an_allocation(licensed):
    licensed.set_document_dynamic(ADVERTISING, True)
    assert open_as(licensed, ALICE, ADVERTISING).cal_type == "session"
    assert document_users(licensed, ADVERTISING) == []


def test_turning_a_documents_dynamic_assignment_off_keeps_the_cals_it_handed_out(licensed):
    licensed.set_document_allocation(SALES, 2)
    licensed.set_document_dynamic(SALES, True)
    open_as(licensed, ALICE, SALES)
    licensed.set_document_dynamic(SALES, False)
    assert open_as(licensed, ALICE, SALES).cal_type == "document"
    assert open_as(licensed, BOB, SALES, machine="PC-2").cal_type == "session"


def test_a_dynamic_document_cal_assignment_and_the_setting_change_are_audited(licensed):
    licensed.set_document_allocation(SALES, 1)
    licensed.set_document_dynamic(SALES, True, actor="ACME\\admin")
    open_as(licensed, ALICE, SALES)
    [setting] = audit_entries(licensed, "document.dynamic_changed")
    assert (setting.actor, setting.target, setting.details) == ("ACME\\admin", SALES, {"allow": True})
    [assigned] = audit_entries(licensed, "document_cal.assigned")
    assert (assigned.target, assigned.details) == (ALICE, {"document": SALES, "source": "dynamic"})
