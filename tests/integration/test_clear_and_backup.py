"""Clearing CAL data (the seed's "delete CalData.pgo"), the backup written first, and restoring it."""

from __future__ import annotations

import json
import os

import pytest

from calkeeper.core.errors import BackupError
from tests.integration.steps import AR, DAY, HOUR, SALES, audit_actions, named_users, open_as, pool, snapshot
from tests.kit import ANALYTIX, apply_license

ALICE, BOB, CAROL, DAVE, ERIN = "ACME\\alice", "ACME\\bob", "ACME\\carol", "ACME\\Dave", "ACME\\erin"
CAL_TYPES = ("named", "document", "session", "usage")


@pytest.fixture
def busy(site, key, clock):
    """A site with CALs of every kind: assigned, allocated, quarantined, in sessions and consumed."""
    site.update_cal_settings(allow_dynamic_assignment=False, allow_license_lease=False)
    apply_license(site, key, named=2, document=3, session=1, usage=2)
    site.set_document_allocation(SALES, 2)
    site.set_document_dynamic(SALES, True)
    site.set_document_allocation(AR, 1)
    site.assign_document_cals(SALES, ALICE)
    site.assign_named_cals(f"{BOB};{CAROL}")
    clock.advance(HOUR)
    open_as(site, BOB)
    open_as(site, CAROL)
    site.remove_named_cals(CAROL)
    assert open_as(site, DAVE, AR, machine="PC-4").cal_type == "session"
    assert open_as(site, ERIN, AR, machine="PC-5").cal_type == "usage"
    return site


def people(site):
    """What each user holds, of every type."""
    return {user: site.user_cals(user) for user in (ALICE, BOB, CAROL, DAVE, ERIN)}


def without_audit(state):
    return {name: value for name, value in state.items() if name != "audit"}


# -- clearing --------------------------------------------------------------------------------------


def test_clearing_removes_assignments_allocations_quarantines_sessions_and_usage(busy, tmp_path):
    outcome = busy.clear_cal_data(backup_to=tmp_path / "caldata.json")
    assert named_users(busy) == []
    assert all(busy.list_document_cals(path) == [] for path in ANALYTIX)
    assert all(d.cals_allocated == 0 for d in busy.list_documents())
    for cal_type in CAL_TYPES:
        assert pool(busy, cal_type).assigned == 0 and pool(busy, cal_type).quarantined == 0
    assert busy.user_cals(DAVE).session_cals == [] and busy.user_cals(ERIN).usage_cals == []
    assert outcome.removed["named_cals"] == 2 and outcome.removed["document_cals"] == 1
    assert outcome.removed["document_allocations"] == 2


def test_clearing_keeps_license_documents_their_dynamic_setting_users_settings_and_audit(busy, tmp_path):
    before = snapshot(busy)
    audit_before = audit_actions(busy)
    busy.clear_cal_data(backup_to=tmp_path / "caldata.json")
    assert busy.license() == before["license"] and busy.license_history() == before["license_history"]
    assert [d.path for d in busy.list_documents()] == [d.path for d in before["documents"]]
    assert [d.path for d in busy.list_documents() if d.allow_dynamic_assignment] == [SALES]
    settings = busy.cal_overview().settings
    assert (settings.allow_dynamic_assignment, settings.allow_license_lease, settings.maintenance) == (
        False, False, False)
    assert busy.user_cals("acme\\DAVE").user == DAVE
    assert audit_actions(busy)[: len(audit_before)] == audit_before
    assert audit_actions(busy)[len(audit_before):] == ["maintenance.started", "data.backed_up", "cal_data.cleared"]


def test_clearing_writes_the_backup_first(busy, tmp_path):
    target = tmp_path / "backups" / "caldata.json"
    busy.clear_cal_data(backup_to=target)
    content = json.loads(target.read_text())
    assert content["format"] == "calkeeper-backup"
    assert sorted(row["identity_name"] for row in content["tables"]["named_cals"]) == [BOB, CAROL]
    assert [row["user_name"] for row in content["tables"]["document_cals"]] == [ALICE]
    assert len(content["tables"]["session_cals"]) == 1 and len(content["tables"]["usage_cals"]) == 1


def test_a_backup_that_cannot_be_written_clears_nothing_and_ends_maintenance(busy, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the backup folder should be")
    before = without_audit(snapshot(busy))
    with pytest.raises(OSError):
        busy.clear_cal_data(backup_to=blocker / "caldata.json")
    assert without_audit(snapshot(busy)) == before
    assert busy.cal_overview().settings.maintenance is False
    assert audit_actions(busy)[-2:] == ["maintenance.started", "maintenance.ended"]
    assert open_as(busy, BOB).cal_type == "named"


def test_no_open_is_served_while_the_data_is_being_cleared(busy, tmp_path, monkeypatch):
    seen = []
    write_backup = busy.app.maintenance.backup

    def backup_and_try_an_open(path, **kwargs):
        seen.append(open_as(busy, BOB))
        return write_backup(path, **kwargs)

    monkeypatch.setattr(busy.app.maintenance, "backup", backup_and_try_an_open)
    busy.clear_cal_data(backup_to=tmp_path / "caldata.json")
    [during] = seen
    assert not during.granted and during.code == "maintenance"
    assert "maintenance" in during.reason


def test_opens_are_served_again_once_the_data_is_cleared(busy, tmp_path):
    busy.clear_cal_data(backup_to=tmp_path / "caldata.json")
    busy.update_cal_settings(allow_dynamic_assignment=True)
    assert open_as(busy, BOB).cal_type == "named"


# -- restoring -------------------------------------------------------------------------------------


def test_restoring_the_backup_brings_the_cal_data_back_exactly(busy, tmp_path):
    before, held = without_audit(snapshot(busy)), people(busy)
    busy.clear_cal_data(backup_to=tmp_path / "caldata.json")
    busy.restore(tmp_path / "caldata.json", actor="ACME\\admin")
    assert without_audit(snapshot(busy)) == before
    assert people(busy) == held
    assert audit_actions(busy)[-1] == "data.restored"
    assert open_as(busy, BOB).cal_type == "named" and open_as(busy, ALICE, SALES).cal_type == "document"


def test_a_restored_quarantine_still_ends_on_time(busy, tmp_path, clock):
    busy.clear_cal_data(backup_to=tmp_path / "caldata.json")
    busy.restore(tmp_path / "caldata.json")
    clock.advance(7 * DAY)
    busy.sweep()
    assert named_users(busy) == [BOB]
    assert [e.target for e in busy.audit(action="cal.quarantine_ended")] == [CAROL]


def test_restoring_keeps_the_audit_trail_and_appends_to_it(busy, tmp_path):
    busy.backup(tmp_path / "caldata.json")
    busy.assign_document_cals(SALES, CAROL)
    trail = audit_actions(busy)
    busy.restore(tmp_path / "caldata.json")
    assert audit_actions(busy) == [*trail, "data.restored"]
    assert [cal.user for cal in busy.list_document_cals(SALES)] == [ALICE]


def test_rows_made_after_a_restore_do_not_collide_with_restored_ones(busy, tmp_path):
    busy.backup(tmp_path / "caldata.json")
    busy.restore(tmp_path / "caldata.json")
    busy.assign_document_cals(SALES, ERIN)
    busy.assign_document_cals(AR, ERIN)
    assert [cal.user for cal in busy.list_document_cals(SALES)] == [ALICE, ERIN]


# -- a damaged backup changes nothing --------------------------------------------------------------


def truncated(text):
    return text[: len(text) // 2]


def other_format(text):
    return text.replace('"calkeeper-backup"', '"something-else"')


def missing_table(text):
    content = json.loads(text)
    del content["tables"]["named_cals"]
    return json.dumps(content)


def wrong_columns(text):
    content = json.loads(text)
    content["tables"]["named_cals"][0]["colour"] = "red"
    return json.dumps(content)


def bad_time(text):
    content = json.loads(text)
    content["tables"]["named_cals"][-1]["assigned_at"] = "last tuesday"
    return json.dumps(content)


def two_settings_rows(text):
    content = json.loads(text)
    content["tables"]["site_state"].append(dict(content["tables"]["site_state"][0]))
    return json.dumps(content)


def broken_rule(text):
    content = json.loads(text)
    content["tables"]["named_cals"][-1]["source"] = "stolen"
    return json.dumps(content)


def duplicate_row(text):
    content = json.loads(text)
    content["tables"]["named_cals"].append(dict(content["tables"]["named_cals"][0]))
    return json.dumps(content)


def wrong_type(text):
    content = json.loads(text)
    content["tables"]["documents"][0]["cals_allocated"] = "many"
    return json.dumps(content)


def bad_setting(text):
    content = json.loads(text)
    content["tables"]["site_state"][0]["identification_mode"] = "ip-address"
    return json.dumps(content)


@pytest.mark.parametrize(
    "damage", [truncated, other_format, missing_table, wrong_columns, bad_time, two_settings_rows, broken_rule,
               duplicate_row, wrong_type, bad_setting],
)
def test_a_damaged_backup_is_refused_and_changes_nothing(busy, tmp_path, damage):
    good = tmp_path / "good.json"
    busy.backup(good)
    damaged = tmp_path / "damaged.json"
    damaged.write_text(damage(good.read_text()))
    busy.assign_document_cals(AR, ERIN)
    before = snapshot(busy)
    with pytest.raises(BackupError):
        busy.restore(damaged)
    assert snapshot(busy) == before


def test_a_backup_that_is_not_there_is_refused(busy, tmp_path):
    before = snapshot(busy)
    with pytest.raises(BackupError) as refused:
        busy.restore(tmp_path / "nowhere.json")
    assert "no backup file" in refused.value.message
    assert snapshot(busy) == before


def test_a_backup_file_that_is_not_utf8_is_refused(busy, tmp_path):
    damaged = tmp_path / "binary.json"
    damaged.write_bytes(b"\xff\xfe\x00garbage")
    before = snapshot(busy)
    with pytest.raises(BackupError):
        busy.restore(damaged)
    assert snapshot(busy) == before


def test_backups_are_listed_newest_first_with_their_size_and_what_they_hold(busy, tmp_path):
    from calkeeper.store.backup import digest_of, read_summary
    from calkeeper.usecases.maintenance import HOLDS, list_backups

    folder = tmp_path / "backups"
    counts = busy.backup(folder / "scheduled-1.json")
    content = json.loads((folder / "scheduled-1.json").read_text())
    assert content["summary"] == counts and read_summary(folder / "scheduled-1.json") == counts
    content.pop("summary")  # as a release before summaries wrote it
    content["digest"] = digest_of(content)
    (folder / "older.json").write_text(json.dumps(content))
    os.utime(folder / "older.json", (1, 1))
    (folder / "notes.json").write_text("{}")
    os.utime(folder / "notes.json", (0, 0))
    listed = list_backups(folder)
    assert [b.name for b in listed] == ["scheduled-1.json", "older.json", "notes.json"]
    newest = listed[0]
    assert newest.size == (folder / "scheduled-1.json").stat().st_size and newest.counts == counts
    assert newest.held(HOLDS)[:4] == ["2 Named CALs", "1 Document CALs", "1 Session CALs", "1 Usage CALs"]
    assert listed[1].counts is None and listed[2].counts is None
    busy.restore(folder / "older.json")  # a backup without a summary restores as before
