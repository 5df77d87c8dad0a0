"""Removing a CAL: freed at once when unused for 7 days, otherwise quarantined until last used + 7 days."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import AllocationRefused, NoCalAvailable, NotQuarantined
from calkeeper.usecases.upkeep import Upkeep
from tests.integration.steps import (
    AR,
    DAY,
    HOUR,
    MINUTE,
    SALES,
    audit_entries,
    document_users,
    named_cal,
    named_users,
    open_as,
    pool,
)
from tests.kit import apply_license

ALICE, BOB = "ACME\\alice", "ACME\\bob"
WEEK = 7 * DAY


@pytest.fixture
def used_named_cal(site, key, clock):
    """Alice was assigned a Named CAL by hand and used it an hour later; dynamic assignment is off."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, document=2, session=1, usage=0)
    site.assign_named_cals(ALICE)
    clock.advance(HOUR)
    assert open_as(site, ALICE).cal_type == "named"
    return site


# -- Named CALs ------------------------------------------------------------------------------------


def test_removing_a_recently_used_cal_quarantines_it_until_last_used_plus_seven_days(used_named_cal, clock):
    site = used_named_cal
    last_used = named_cal(site, ALICE).last_used
    clock.advance(2 * DAY)
    [outcome] = site.remove_named_cals(ALICE)
    assert (outcome.outcome, outcome.quarantined_until) == ("quarantined", last_used + WEEK)
    cal = named_cal(site, ALICE)
    assert cal.status == "quarantined" and cal.quarantined_until == last_used + WEEK


def test_a_quarantined_cal_still_occupies_its_pool(used_named_cal):
    site = used_named_cal
    site.remove_named_cals(ALICE)
    named = pool(site, "named")
    assert (named.assigned, named.quarantined, named.free) == (1, 1, 0)
    with pytest.raises(NoCalAvailable):
        site.assign_named_cals(BOB)
    site.update_cal_settings(allow_dynamic_assignment=True)
    assert open_as(site, BOB, machine="PC-2").cal_type == "session"


def test_a_user_whose_cal_is_quarantined_falls_to_another_cal_type(site, key, clock):
    apply_license(site, key, named=2, session=1, usage=0)
    site.assign_named_cals(ALICE)
    open_as(site, ALICE)
    site.remove_named_cals(ALICE)
    decision = open_as(site, ALICE)
    assert decision.cal_type == "session"
    assert pool(site, "named").assigned == 1


def test_restoring_a_quarantined_cal_gives_back_the_same_cal_with_its_history(used_named_cal, clock):
    site = used_named_cal
    before = named_cal(site, ALICE)
    clock.advance(DAY)
    site.remove_named_cals(ALICE)
    clock.advance(DAY)
    [outcome] = site.restore_named_cals("acme\\alice")
    assert (outcome.user, outcome.outcome) == (ALICE, "restored")
    assert named_cal(site, ALICE) == before
    assert open_as(site, ALICE).cal_type == "named"
    assert pool(site, "named").quarantined == 0


def test_assigning_a_quarantined_user_again_restores_the_same_cal(used_named_cal):
    site = used_named_cal
    before = named_cal(site, ALICE)
    site.remove_named_cals(ALICE)
    [outcome] = site.assign_named_cals(ALICE)
    assert outcome.outcome == "restored"
    assert named_cal(site, ALICE) == before


def test_removing_a_never_used_cal_frees_it_at_once(site, key):
    apply_license(site, key, named=1)
    site.assign_named_cals(ALICE)
    [outcome] = site.remove_named_cals(ALICE)
    assert (outcome.outcome, outcome.quarantined_until) == ("freed", None)
    assert named_users(site) == [] and pool(site, "named").free == 1
    site.assign_named_cals(BOB)
    assert named_users(site) == [BOB]


def test_removing_a_cal_unused_for_more_than_seven_days_frees_it_at_once(used_named_cal, clock):
    site = used_named_cal
    clock.advance(WEEK + MINUTE)
    [outcome] = site.remove_named_cals(ALICE)
    assert outcome.outcome == "freed"
    assert pool(site, "named").free == 1


def test_when_the_quarantine_ends_the_cal_is_free_and_the_sweep_records_it(used_named_cal, clock):
    site = used_named_cal
    site.remove_named_cals(ALICE)
    clock.advance(WEEK)
    assert pool(site, "named").free == 1
    site.sweep()
    [ended] = audit_entries(site, "cal.quarantine_ended")
    assert (ended.actor, ended.target, ended.details["cal"]) == ("calkeeper", ALICE, "named")
    assert named_users(site) == []
    site.sweep()
    assert len(audit_entries(site, "cal.quarantine_ended")) == 1


def test_the_servers_upkeep_frees_an_ended_quarantine_and_stamps_it_when_it_ended(used_named_cal, clock):
    site = used_named_cal
    [removed] = site.remove_named_cals(ALICE)
    clock.advance(WEEK + 3 * DAY)  # nobody changes anything for days after the quarantine ended
    app = site.app
    upkeep = Upkeep(uow=app.uow, clock=app.clock, access=app.access, documents=app.documents,
                    session_life=app.session_life, last_used=app.last_used, grant_tally=app.grant_tally,
                    document_scan_seconds=3600)
    upkeep.free_ended_quarantines()
    [ended] = audit_entries(site, "cal.quarantine_ended")
    assert ended.at == removed.quarantined_until and ended.details["cal"] == "named"
    assert named_users(site) == []


def test_a_write_use_case_frees_ended_quarantines_first_and_records_them(used_named_cal, clock):
    site = used_named_cal
    site.remove_named_cals(ALICE)
    clock.advance(WEEK)
    site.assign_named_cals(BOB)
    assert [e.target for e in audit_entries(site, "cal.quarantine_ended")] == [ALICE]
    assert named_users(site) == [BOB]


def test_a_quarantine_that_has_not_ended_is_left_by_the_sweep(used_named_cal, clock):
    site = used_named_cal
    site.remove_named_cals(ALICE)
    clock.advance(WEEK - HOUR - MINUTE)
    site.sweep()
    assert audit_entries(site, "cal.quarantine_ended") == []
    assert pool(site, "named").quarantined == 1


def test_a_cal_whose_quarantine_ended_can_no_longer_be_restored(used_named_cal, clock):
    site = used_named_cal
    site.remove_named_cals(ALICE)
    clock.advance(WEEK)
    with pytest.raises(NotQuarantined):
        site.restore_named_cals(ALICE)
    assert named_users(site) == []


def test_a_cal_that_is_not_marked_for_removal_cannot_be_restored(used_named_cal):
    with pytest.raises(NotQuarantined) as refused:
        used_named_cal.restore_named_cals(ALICE)
    assert "not marked for removal" in refused.value.message


def test_removal_and_restore_are_audited(used_named_cal):
    site = used_named_cal
    site.remove_named_cals(ALICE, actor="ACME\\admin")
    site.restore_named_cals(ALICE, actor="ACME\\admin")
    [removed] = audit_entries(site, "named_cal.quarantined")
    [restored] = audit_entries(site, "named_cal.restored")
    assert (removed.actor, removed.target) == (restored.actor, restored.target) == ("ACME\\admin", ALICE)
    assert removed.details["quarantined_until"] is not None


def test_a_freed_removal_is_audited_as_freed(site, key):
    apply_license(site, key, named=1)
    site.assign_named_cals(ALICE)
    site.remove_named_cals(ALICE)
    [freed] = audit_entries(site, "named_cal.freed")
    assert freed.target == ALICE and freed.details["quarantined_until"] is None


# -- Document CALs ---------------------------------------------------------------------------------


@pytest.fixture
def used_document_cal(site, key, clock):
    """Alice holds a Document CAL for SalesFlash (its whole allocation) and used it."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, document=2, session=1, usage=0)
    site.set_document_allocation(SALES, 1)
    site.assign_document_cals(SALES, ALICE)
    clock.advance(HOUR)
    assert open_as(site, ALICE, SALES).cal_type == "document"
    return site


def test_removing_a_recently_used_document_cal_quarantines_it_and_it_still_counts(used_document_cal):
    site = used_document_cal
    [before] = site.list_document_cals(SALES)
    [outcome] = site.remove_document_cals(SALES, ALICE)
    assert (outcome.outcome, outcome.quarantined_until) == ("quarantined", before.last_used + WEEK)
    sales = next(d for d in site.list_documents() if d.path == SALES)
    assert sales.cals_assigned == 1
    with pytest.raises(NoCalAvailable):
        site.assign_document_cals(SALES, BOB)
    assert pool(site, "document").quarantined == 1


def test_a_user_whose_document_cal_is_quarantined_falls_to_a_session_cal(used_document_cal):
    site = used_document_cal
    site.remove_document_cals(SALES, ALICE)
    assert open_as(site, ALICE, SALES).cal_type == "session"


def test_restoring_a_document_cal_gives_back_the_same_cal(used_document_cal, clock):
    site = used_document_cal
    [before] = site.list_document_cals(SALES)
    site.remove_document_cals(SALES, ALICE)
    clock.advance(DAY)
    site.restore_document_cals(SALES, ALICE)
    assert site.list_document_cals(SALES) == [before]
    assert open_as(site, ALICE, SALES).cal_type == "document"


def test_when_a_document_cal_quarantine_ends_the_allocation_has_room_again(used_document_cal, clock):
    site = used_document_cal
    site.remove_document_cals(SALES, ALICE)
    clock.advance(WEEK)
    site.assign_document_cals(SALES, BOB)
    assert document_users(site, SALES) == [BOB]
    [ended] = audit_entries(site, "cal.quarantine_ended")
    assert ended.target == ALICE and ended.details["cal"].startswith("document")


def test_a_document_cal_never_used_is_freed_at_once(site, key):
    apply_license(site, key, named=1, document=1)
    site.set_document_allocation(AR, 1)
    site.assign_document_cals(AR, ALICE)
    [outcome] = site.remove_document_cals(AR, ALICE)
    assert outcome.outcome == "freed"
    assert document_users(site, AR) == [] and site.set_document_allocation(AR, 0).cals_allocated == 0


def test_quarantined_document_cals_hold_the_allocation_up(used_document_cal, clock):
    site = used_document_cal
    site.remove_document_cals(SALES, ALICE)
    with pytest.raises(AllocationRefused, match="cannot drop below"):
        site.set_document_allocation(SALES, 0)
    clock.advance(WEEK)
    assert site.set_document_allocation(SALES, 0).cals_allocated == 0
