"""Operations: sessions in use and ending one, usage reports over a scripted month, exports, reclaim, alerts."""

from __future__ import annotations

import csv
from datetime import date, timedelta

import pytest

from calkeeper.core.errors import InvalidInput, UnknownSession
from tests.integration.steps import AR, DAY, HOUR, MINUTE, SALES, named_users, open_as, snapshot
from tests.kit import apply_license

ALICE, BOB, CAROL, DAVE = "ACME\\alice", "ACME\\bob", "ACME\\carol", "ACME\\dave"


@pytest.fixture
def licensed(site, key):
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=2, document=3, session=1, usage=2)
    site.set_document_allocation(SALES, 2)
    return site


# -- in use now --------------------------------------------------------------------------------------


def test_every_live_session_is_listed_with_who_where_what_and_since_when(licensed, clock):
    licensed.assign_named_cals(ALICE)
    grant = open_as(licensed, ALICE, SALES, machine="PC-1")
    clock.advance(MINUTE)
    open_as(licensed, None, AR, machine="KIOSK-7", client="plugin")
    sessions = licensed.list_sessions()
    assert [(s.user, s.machine, s.document, s.cal_type) for s in sessions] == [
        (None, "KIOSK-7", AR, "session"), (ALICE, "PC-1", SALES, "named")]
    first = sessions[1]
    assert first.id == grant.session_id and first.client == "ajax" and first.started_at == first.last_activity
    assert [s.id for s in licensed.list_sessions(search="acme\\ALICE")] == [grant.session_id]
    assert [s.machine for s in licensed.list_sessions(search="kiosk")] == ["KIOSK-7"]
    assert [s.cal_type for s in licensed.list_sessions(cal_type="session")] == ["session"]
    with pytest.raises(InvalidInput):
        licensed.list_sessions(cal_type="bogus")


def test_a_session_ended_by_an_administrator_is_told_so_at_its_next_heartbeat(licensed, clock):
    licensed.assign_named_cals(ALICE)
    grant = open_as(licensed, ALICE)
    outcome = licensed.end_session(grant.session_id, actor="admin")
    assert "next heartbeat" in outcome.outcome
    assert licensed.list_sessions() == []
    touch = licensed.touch_session(grant.session_id)
    assert not touch.active and "ended by an administrator" in touch.reason
    assert licensed.end_session(grant.session_id).outcome == "already ended"
    assert licensed.audit(action="session.ended")[0].actor == "admin"
    with pytest.raises(UnknownSession):
        licensed.end_session("N-nothing")


def test_ended_and_idle_sessions_are_not_in_use(licensed, clock):
    licensed.assign_named_cals(ALICE)
    open_as(licensed, ALICE)
    clock.advance(timedelta(minutes=31))
    assert licensed.list_sessions() == []


# -- usage history over a scripted month -------------------------------------------------------------


def scripted_month(site, clock, key):
    """Thirty days: Alice opens SalesFlash every day, Bob AR on even days; every third day Carol takes the one
    Session CAL and Dave is refused (the license has no Usage CAL)."""
    apply_license(site, key, named=2, document=3, session=1, usage=0)
    site.assign_named_cals(f"{ALICE};{BOB}")
    start = clock.now().date()
    for day in range(30):
        open_as(site, ALICE, SALES, machine="PC-1")
        if day % 2 == 0:
            open_as(site, BOB, AR, machine="PC-2")
        if day % 3 == 0:
            open_as(site, CAROL, AR, machine="PC-3")  # the Session CAL
            assert not open_as(site, DAVE, AR, machine="PC-4").granted  # none left
        clock.advance(HOUR)
        site.app.usage_history.note_pools()
        site.app.alerts.evaluate()
        clock.advance(DAY - HOUR)
        site.app.session_life.end_expired_sessions()  # the upkeep's work: every session idled out
    return start


def test_reports_count_grants_denials_and_peaks_of_a_scripted_month(licensed, clock, key):
    start = scripted_month(licensed, clock, key)
    end = start + timedelta(days=29)
    usage = licensed.report("usage", start=start, end=end, by="type")
    assert usage.columns == ["day", "cal_type", "grants", "peak_in_use", "in_license"]
    named = [r for r in usage.rows if r[1] == "named"]
    assert len(named) == 30 and sum(r[2] for r in named) == 30 + 15
    assert named[0] == [start.isoformat(), "named", 2, 2, 2]
    assert sum(r[2] for r in usage.rows if r[1] == "session") == 10
    by_user = licensed.report("usage", start=start, end=end, by="user")
    assert by_user.rows[:3] == [[ALICE, 30, 30, 0, 0, 0], [BOB, 15, 15, 0, 0, 0], [CAROL, 10, 0, 0, 10, 0]]
    by_document = licensed.report("usage", start=start, end=end, by="document")
    assert by_document.rows == [[SALES, 30, 1], [AR, 25, 2]]
    denials = licensed.report("denials", start=start, end=end, by="reason")
    assert denials.rows == [["no_cal_available", 10, 1]]
    assert licensed.report("denials", start=start, end=end, by="user").rows == [[DAVE, 10]]
    assert licensed.report("denials", start=start, end=end, by="document").rows == [[AR, 10, 1]]
    per_day = licensed.report("denials", start=start, end=end, by="day").rows
    assert [r[1] for r in per_day[:4]] == [1, 0, 0, 1]
    peaks = licensed.report("peaks", start=start, end=end)
    session_cals = [r for r in peaks.rows if r[1] == "session"]
    assert [r[2:] for r in session_cals[:3]] == [[1, 1, 0], [0, 1, 1], [0, 1, 1]]
    assert next(r[2:] for r in peaks.rows if r[1] == "usage") == [0, 0, 0]  # no Usage CAL to be had


def test_history_rolls_up_into_days_and_reports_stay_the_same(licensed, clock, key):
    start = scripted_month(licensed, clock, key)
    end = start + timedelta(days=29)
    before = {by: licensed.report("usage", start=start, end=end, by=by).rows for by in ("type", "user", "document")}
    licensed.app.usage_history.policy = type(licensed.app.usage_history.policy)(hourly_days=1, retention_days=400)
    assert licensed.app.usage_history.roll_up() > 0
    after = {by: licensed.report("usage", start=start, end=end, by=by).rows for by in ("type", "user", "document")}
    assert after == before


def test_a_report_on_an_empty_history_has_every_day_and_no_counts(licensed):
    view = licensed.report("usage", by="day")
    assert len(view.rows) == 30 and all(r[1] == 0 for r in view.rows)
    with pytest.raises(InvalidInput):
        licensed.report("usage", by="reason")
    with pytest.raises(InvalidInput):
        licensed.report("denials", start=date(2030, 1, 2), end=date(2030, 1, 1))


# -- exports -----------------------------------------------------------------------------------------


def test_every_list_exports_as_csv(licensed, tmp_path):
    licensed.assign_named_cals(f"{ALICE};{BOB}")
    licensed.assign_document_cals(SALES, CAROL)
    open_as(licensed, ALICE)
    for name in ("named-cals", "document-cals", "users", "sessions", "denials", "audit"):
        licensed.export_csv(name, tmp_path / f"{name}.csv")
    named = list(csv.reader((tmp_path / "named-cals.csv").open(newline="")))
    assert named[0][:3] == ["user", "identity_kind", "source"] and [r[0] for r in named[1:]] == [ALICE, BOB]
    document = list(csv.reader((tmp_path / "document-cals.csv").open(newline="")))
    assert document[1][:2] == [SALES, CAROL]
    assert licensed.export_csv("sessions", tmp_path / "s.csv") == 1
    with pytest.raises(InvalidInput):
        licensed.export_csv("leases-of-mars", tmp_path / "x.csv")


# -- reclaim -----------------------------------------------------------------------------------------


def test_reclaim_dry_run_lists_inactive_cals_and_changes_nothing(licensed, clock):
    licensed.assign_named_cals(f"{ALICE};{BOB}")
    licensed.assign_document_cals(SALES, CAROL)
    clock.advance(40 * DAY)
    open_as(licensed, ALICE)
    clock.advance(HOUR)
    before = snapshot(licensed)
    report = licensed.reclaim(inactive_days=30, dry_run=True)
    assert [(e.user, e.cal_type, e.outcome) for e in report.entries] == [
        (BOB, "named", "candidate"), (CAROL, "document", "candidate")]
    assert snapshot(licensed) == before


def test_reclaim_removes_by_the_rules_of_removal_and_reports_user_by_user(licensed, clock):
    licensed.assign_named_cals(f"{ALICE};{BOB}")
    open_as(licensed, ALICE)
    clock.advance(3 * DAY)
    report = licensed.reclaim(inactive_days=2, actor="admin")
    outcomes = {e.user: (e.outcome, e.quarantined_until) for e in report.entries}
    assert outcomes[BOB] == ("freed", None)  # never used
    assert outcomes[ALICE][0] == "quarantined"  # used 3 days ago: held until last used + 7 days
    assert named_users(licensed) == [ALICE]
    assert licensed.reclaim(inactive_days=2, cal_type="document").entries == []


# -- alerts ------------------------------------------------------------------------------------------


def test_an_alert_is_raised_once_and_cleared_once(licensed, clock):
    alerts = licensed.app.alerts
    licensed.assign_named_cals(ALICE)
    assert [e.key for e in alerts.evaluate()] == []
    licensed.assign_named_cals(BOB)  # 2 of 2 Named CALs: 100%
    assert [(e.key, e.event) for e in alerts.evaluate()] == [("pool.named", "raised")]
    assert alerts.evaluate() == []
    licensed.remove_named_cals(BOB)
    assert [(e.key, e.event) for e in alerts.evaluate()] == [("pool.named", "cleared")]
    assert alerts.evaluate() == []
    assert [a.action for a in licensed.audit(target="pool.named")] == ["alert.cleared", "alert.raised"]
    assert licensed.alerts().alerts[0].cleared_at is not None


def test_a_denial_for_want_of_a_cal_raises_an_alert_that_clears_an_hour_later(licensed, clock):
    open_as(licensed, CAROL, AR, machine="PC-3")
    open_as(licensed, DAVE, AR, machine="PC-4")
    open_as(licensed, "ACME\\erin", AR, machine="PC-5")
    assert not open_as(licensed, "ACME\\frank", AR, machine="PC-6").granted
    assert "denials.no_cal_available" in [e.key for e in licensed.app.alerts.evaluate()]
    clock.advance(HOUR + MINUTE)
    assert ("denials.no_cal_available", "cleared") in [(e.key, e.event) for e in licensed.app.alerts.evaluate()]


def test_the_license_ending_soon_raises_an_alert(site, key, clock):
    apply_license(site, key, time_limit=(clock.now() + 10 * DAY).date())
    keys = {e.key for e in site.app.alerts.evaluate()}
    assert "license.expiring" in keys


# -- backups hold the history ------------------------------------------------------------------------


def test_a_backup_holds_the_usage_history_and_restores_it(licensed, clock, key, tmp_path):
    start = scripted_month(licensed, clock, key)
    report = licensed.report("usage", start=start, end=start + timedelta(days=29), by="user").rows
    counts = licensed.backup(tmp_path / "b.json")
    assert counts["activity_counts"] > 0 and counts["pool_usage"] > 0
    licensed.restore(tmp_path / "b.json")
    assert licensed.report("usage", start=start, end=start + timedelta(days=29), by="user").rows == report


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_written_as_text():
    from calkeeper.usecases.exports import csv_lines

    text = "".join(csv_lines(["document"], [["=HYPERLINK(1)"], ["-1"], ["plain"]]))
    assert text.splitlines() == ["document", "'=HYPERLINK(1)", "'-1", "plain"]
