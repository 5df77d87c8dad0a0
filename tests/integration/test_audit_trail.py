"""Every change writes its audit row in the same transaction: no change without its row, no row without it."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.integration.steps import AR, HOUR, SALES, audit_actions, audit_entries, open_as, snapshot
from tests.kit import apply_license

ALICE, BOB = "ACME\\alice", "ACME\\bob"


def refuse_audit_rows(site):
    """Make the database refuse any new audit row, as a full disk or a broken trigger would."""
    with site.app.engine.begin() as conn:
        if site.app.engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'audit refused'; END $$")
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION refuse_audit()")
        else:
            conn.exec_driver_sql("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                                 "BEGIN SELECT RAISE(ABORT, 'audit refused'); END")


@pytest.fixture
def licensed(site, key, clock):
    apply_license(site, key, named=2, document=2, session=1, usage=1)
    site.list_documents()
    return site


def test_each_change_writes_its_own_audit_row(licensed, clock, tmp_path):
    site = licensed
    steps = [
        (lambda: site.update_cal_settings(allow_dynamic_assignment=False), ["cal.settings_changed"]),
        (lambda: site.assign_named_cals(ALICE), ["named_cal.assigned"]),
        (lambda: open_as(site, ALICE), []),
        (lambda: site.remove_named_cals(ALICE), ["named_cal.quarantined"]),
        (lambda: site.restore_named_cals(ALICE), ["named_cal.restored"]),
        (lambda: site.set_document_allocation(SALES, 1), ["document.allocation_changed"]),
        (lambda: site.set_document_dynamic(SALES, True), ["document.dynamic_changed"]),
        (lambda: site.assign_document_cals(SALES, BOB), ["document_cal.assigned"]),
        (lambda: site.remove_document_cals(SALES, BOB), ["document_cal.freed"]),
        (lambda: open_as(site, BOB, SALES, machine="PC-2"), ["document_cal.assigned"]),
        (lambda: open_as(site, BOB, SALES, machine="PC-2"), []),
        (lambda: site.backup(tmp_path / "b.json"), ["data.backed_up"]),
        (lambda: site.restore(tmp_path / "b.json"), ["data.restored"]),
        (lambda: site.clear_cal_data(backup_to=tmp_path / "c.json"),
         ["maintenance.started", "data.backed_up", "cal_data.cleared"]),
    ]
    for step, expected in steps:
        before = len(audit_actions(site))
        clock.advance(HOUR)
        step()
        assert audit_actions(site)[before:] == expected
        assert all(entry.at == clock.now() for entry in audit_entries(site)[: len(expected)])


def test_an_audit_row_names_the_site_actor_when_a_call_names_none(licensed):
    licensed.assign_named_cals(ALICE)
    [entry] = audit_entries(licensed, "named_cal.assigned")
    assert entry.actor == "tester"


def test_opens_served_by_cals_already_held_write_no_audit_row(licensed):
    licensed.assign_named_cals(ALICE)
    trail = audit_actions(licensed)
    for document in (SALES, AR, SALES):
        open_as(licensed, ALICE, document)
    assert audit_actions(licensed) == trail


@pytest.mark.parametrize(
    "change",
    [
        lambda site: site.assign_named_cals(ALICE),
        lambda site: site.set_document_allocation(SALES, 1),
        lambda site: site.set_document_dynamic(AR, True),
        lambda site: site.update_cal_settings(allow_dynamic_assignment=False),
        lambda site: site.remove_named_cals(BOB),
        lambda site: open_as(site, ALICE),
    ],
    ids=["assign", "allocate", "dynamic", "settings", "remove", "dynamic-open"],
)
def test_a_change_whose_audit_row_cannot_be_written_does_not_happen(licensed, change):
    licensed.assign_named_cals(BOB)
    before = snapshot(licensed)
    refuse_audit_rows(licensed)
    with pytest.raises(Exception, match="audit refused"):
        change(licensed)
    assert snapshot(licensed) == before


def test_a_license_whose_audit_row_cannot_be_written_is_not_put_in_force(licensed, key):
    before = licensed.license()
    refuse_audit_rows(licensed)
    with pytest.raises(Exception, match="audit refused"):
        apply_license(licensed, key, named=9)
    assert licensed.license() == before


def test_the_audit_trail_cannot_be_rewritten(licensed):
    licensed.assign_named_cals(ALICE)
    trail = audit_entries(licensed)
    for statement in ("UPDATE audit_log SET actor = 'nobody'", "DELETE FROM audit_log"):
        with pytest.raises(sa.exc.DBAPIError), licensed.app.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert audit_entries(licensed) == trail
