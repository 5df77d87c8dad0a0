"""Every grant records "last used" on the CAL it used, to the minute, and the record outlives the process."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import calkeeper
from calkeeper.core.allocation import AccessAsk
from calkeeper.usecases.admin import writing_pending
from tests.integration.steps import AR, MINUTE, SALES, named_cal, open_as
from tests.kit import apply_license

ALICE, BOB = "ACME\\alice", "ACME\\bob"
SECONDS = timedelta(seconds=1)


def at(hour, minute):
    return datetime(2026, 1, 5, hour, minute, tzinfo=UTC)


@pytest.fixture
def manual(site, key):
    """Alice holds a Named CAL and Bob a Document CAL for SalesFlash, both assigned by hand, never used."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, document=1)
    site.assign_named_cals(ALICE)
    site.set_document_allocation(SALES, 1)
    site.assign_document_cals(SALES, BOB)
    return site


def test_a_cal_assigned_by_hand_has_no_last_use_until_it_is_used(manual):
    assert named_cal(manual, ALICE).last_used is None
    assert manual.list_document_cals(SALES)[0].last_used is None


def test_a_named_cal_grant_records_last_used_to_the_minute(manual, clock):
    clock.advance(MINUTE + 30 * SECONDS)
    open_as(manual, ALICE)
    assert named_cal(manual, ALICE).last_used == at(9, 1)


def test_a_document_cal_grant_records_last_used_to_the_minute(manual, clock):
    clock.advance(7 * MINUTE + 59 * SECONDS)
    open_as(manual, BOB, SALES)
    assert manual.list_document_cals(SALES)[0].last_used == at(9, 7)


def test_each_grant_moves_last_used_forward(manual, clock):
    open_as(manual, ALICE)
    clock.advance(25 * MINUTE)
    open_as(manual, ALICE, AR)
    clock.advance(40 * SECONDS)
    open_as(manual, ALICE)
    assert named_cal(manual, ALICE).last_used == at(9, 25)
    clock.advance(20 * SECONDS)
    open_as(manual, ALICE)
    assert named_cal(manual, ALICE).last_used == at(9, 26)


def test_a_dynamic_assignment_records_its_first_use(site, key, clock):
    apply_license(site, key, named=1, document=1)
    site.set_document_allocation(SALES, 1)
    site.set_document_dynamic(SALES, True)
    clock.advance(3 * MINUTE + 10 * SECONDS)
    open_as(site, ALICE)
    open_as(site, BOB, SALES, machine="PC-2")
    assert named_cal(site, ALICE).last_used == at(9, 3)
    assert site.list_document_cals(SALES)[0].last_used == at(9, 3)


def test_last_used_is_shown_in_the_users_own_cal_list(manual, clock):
    clock.advance(2 * MINUTE)
    open_as(manual, ALICE)
    open_as(manual, BOB, SALES)
    assert manual.user_cals(ALICE).named_cal.last_used == at(9, 2)
    assert manual.user_cals(BOB).document_cals[0].last_used == at(9, 2)


def test_last_used_survives_reopening_the_site(manual, clock, key, root, database_url):
    clock.advance(12 * MINUTE + 5 * SECONDS)
    open_as(manual, ALICE)
    open_as(manual, BOB, SALES)
    manual.close()
    with calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                             root_folder=root) as reopened:
        assert named_cal(reopened, ALICE).last_used == at(9, 12)
        assert reopened.list_document_cals(SALES)[0].last_used == at(9, 12)
        clock.advance(MINUTE)
        assert open_as(reopened, ALICE).cal_type == "named"
        assert named_cal(reopened, ALICE).last_used == at(9, 13)


def test_a_use_recorded_by_one_site_process_is_seen_by_another(manual, clock, key, root, database_url):
    with calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                             root_folder=root) as other:
        open_as(manual, ALICE)
        clock.advance(5 * MINUTE)
        open_as(other, ALICE)
        assert named_cal(manual, ALICE).last_used == at(9, 5)
        clock.advance(5 * MINUTE)
        open_as(manual, ALICE)
        assert named_cal(other, ALICE).last_used == at(9, 10)


def test_the_last_use_decides_the_quarantine(manual, clock):
    clock.advance(2 * MINUTE + 45 * SECONDS)
    open_as(manual, ALICE)
    clock.advance(MINUTE)
    [outcome] = manual.remove_named_cals(ALICE)
    assert outcome.quarantined_until == at(9, 2) + timedelta(days=7)


def test_a_server_defers_last_used_off_the_request_path_and_writes_it_before_any_removal(manual, clock):
    site = manual
    site.app.last_used.deferred = True
    open_as(site, ALICE, SALES)
    clock.advance(3 * MINUTE)
    site.app.access.keep_cache_fresh()  # as the server's upkeep task does twice per refresh period
    # answered from memory, nothing written
    assert site.app.access.cached_decision(AccessAsk.parse(ALICE, SALES, machine="PC-1")) is not None
    with site.app.uow.read() as tx:
        cal = tx.assignments.named(calkeeper.core.identities.parse_user(ALICE))
    assert cal is not None and cal.last_used == at(9, 0)
    [removed] = site.remove_named_cals(ALICE)
    assert removed.quarantined_until == at(9, 3) + timedelta(days=7)


def test_reads_show_deferred_last_used_at_once(manual, clock):
    site = manual
    site.app.last_used.deferred = True
    open_as(site, BOB, SALES)
    clock.advance(2 * MINUTE)
    site.app.access.keep_cache_fresh()
    assert site.app.access.cached_decision(AccessAsk.parse(BOB, SALES, machine="PC-1")) is not None
    [cal] = site.list_document_cals(SALES)
    assert cal.last_used == at(9, 2)


def granted_from_memory(site, clock, user, machine, *, client="ajax", after=SECONDS):
    """A server's repeat open answered from memory ``after`` the first, its session then written by the
    upkeep; the grant and the batch of sessions written."""
    site.app.last_used.deferred = True
    open_as(site, user, SALES, machine=machine, client=client)
    clock.advance(after)
    site.app.access.keep_cache_fresh()
    grant = site.app.access.cached_decision(AccessAsk.parse(user, SALES, machine=machine, client=client))
    assert grant is not None
    batch = list(site.app.last_used.sessions)
    with writing_pending(site.app.uow, site.app.last_used):
        pass
    return grant, batch


def test_sessions_granted_from_memory_are_recorded_as_granted_and_a_batch_written_twice_once(manual, clock):
    site = manual
    grant, batch = granted_from_memory(site, clock, ALICE, "PC-1", client="plugin", after=30 * SECONDS)
    assert [s.id for s in batch] == [grant.session_id]
    with site.app.uow.write() as tx:  # a batch written again, after a commit whose answer was lost
        tx.claims.record_sessions(batch)
    [recorded] = [s for s in site.list_sessions() if s.id == grant.session_id]
    assert (recorded.user, recorded.machine, recorded.client, recorded.document, recorded.cal_type) == (
        ALICE, "PC-1", "plugin", "SalesFlash.qvw", "named")
    assert recorded.started_at == recorded.last_activity == at(9, 0) + 30 * SECONDS
    assert recorded.started_at.tzinfo is not None


def test_a_name_beyond_ascii_is_recorded_as_spelled_in_a_session_granted_from_memory(site, key, clock):
    name = "ACME\\Zoë 李 O'Brien"
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1)
    site.assign_named_cals(name)
    grant, _ = granted_from_memory(site, clock, name, "PC-7")
    [recorded] = [s for s in site.list_sessions() if s.id == grant.session_id]
    assert (recorded.user, recorded.machine) == (name, "PC-7")
