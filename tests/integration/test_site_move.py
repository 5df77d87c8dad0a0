"""Moving a site: CAL assignments exported and imported (CSV and JSON, all or nothing), and ``migrate-to``, which
moves a site's data whole from SQLite to PostgreSQL and compares both sides."""

from __future__ import annotations

import json

import pytest

import calkeeper
from calkeeper.core.errors import InvalidInput
from calkeeper.core.serials import control_number, new_serial
from tests.conftest import require_postgres
from tests.integration.steps import AR, DAY, HOUR, SALES, named_users, open_as, pool, snapshot
from tests.kit import apply_license, postgres_database, signed_lef, sqlite_database

ALICE, BOB, CAROL, DAVE, ERIN = "ACME\\alice", "ACME\\bob", "ACME\\carol", "ACME\\Dave", "ACME\\erin"
USERS = "user,display_name,password,groups\nACME\\dev1,Dev One,correct-horse-battery-staple,Developers\n"


def open_other(tmp_path, clock, key, root, url: str | None = None) -> calkeeper.LocalSite:
    folder = tmp_path / "other"
    folder.mkdir(exist_ok=True)
    return calkeeper.open_site(url or sqlite_database(folder), clock=clock, root_folder=root, actor="tester",
                               trusted_keys={key.key_id: key.private.public_key()})


def busy(site, key, clock, *, lease: bool = False):
    """A site holding CALs of every kind: Named ones by hand, dynamic and by machine, a quarantined one, Document
    CALs, Session and Usage CALs, sessions, denials, directory users, and (asked) a license lease."""
    serial = new_serial()
    site.apply_license(serial=serial, control=control_number(serial), owner="Example Site", organization="Example Org",
                       lef=signed_lef(key, serial, named=5, document=3, session=1, usage=1,
                                      lease_key=site.app.leases.public_key()))
    site.update_cal_settings(allow_dynamic_assignment=True)
    site.update_document(SALES, cals_allocated=2, allow_dynamic_assignment=True)
    site.assign_document_cals(SALES, ALICE)
    site.assign_named_cals(f"{BOB};{CAROL}")
    site.update_cal_settings(identification_mode="machine")
    site.assign_named_cals("KIOSK-1")
    site.update_cal_settings(identification_mode="user", allow_dynamic_assignment=False)
    site.import_directory_users(USERS)
    site.assign_named_cals("ACME\\dev1")
    clock.advance(HOUR)
    open_as(site, BOB)
    open_as(site, CAROL)
    site.remove_named_cals(CAROL)  # just used: quarantined until last used + 7 days
    assert open_as(site, DAVE, AR, machine="PC-4").cal_type == "session"
    assert open_as(site, ERIN, AR, machine="PC-5").cal_type == "usage"
    assert not open_as(site, "ACME\\frank", AR, machine="PC-6").granted  # a denial in the history
    if lease:
        from tests.integration.test_leases import fingerprint
        site.app.leases.grant_lease(user="ACME\\dev1", machine="PC-1", fingerprint=fingerprint(1),
                                    server="http://cal.acme.example", presented=None, address="10.0.0.5")
    site.report("usage")  # the grants counted in memory are written
    return site


def cals_of(site) -> dict[str, object]:
    return {"named": [(c.user, c.identity_kind, c.source, c.assigned_at, c.last_used, c.quarantined_until)
                      for c in site.list_named_cals(limit=1000).items],
            "document": {d.path: [(c.user, c.source, c.assigned_at, c.last_used, c.quarantined_until)
                                  for c in site.list_document_cals(d.path)] for d in site.list_documents()}}


# -- export and import ---------------------------------------------------------------------------------


@pytest.mark.parametrize("format", ["csv", "json"])
def test_exported_cals_import_into_another_site_with_their_sources_dates_and_quarantines(
        site, key, clock, root, tmp_path, format):
    busy(site, key, clock)
    target = open_other(tmp_path, clock, key, root)
    try:
        apply_license(target, key, named=5, document=3)
        file = tmp_path / f"cals.{format}"
        assert site.export_cals(file, format=format) == 5
        outcome = target.import_cals(file)
        assert (outcome.named, outcome.document, outcome.allocations_raised) == (4, 1, {SALES: 1})
        assert cals_of(target) == cals_of(site)
        carol = next(c for c in target.list_named_cals().items if c.user == CAROL)
        assert carol.quarantined_until == clock.now() + 7 * DAY and carol.last_used == clock.now()
        assert [c.identity_kind for c in target.list_named_cals().items if c.user == "KIOSK-1"] == ["machine"]
        assert open_as(target, BOB).cal_type == "named"  # the new site serves the CAL it was given
        assert target.audit(action="cals.imported")
    finally:
        target.close()


def test_a_json_export_says_what_it_is(site, key, clock, tmp_path):
    busy(site, key, clock)
    site.export_cals(tmp_path / "cals.json", format="json")
    content = json.loads((tmp_path / "cals.json").read_text(encoding="utf-8"))
    assert content["format"] == "calkeeper-cals" and content["version"] == 1
    assert {c["type"] for c in content["cals"]} == {"named", "document"}


def test_a_bad_row_an_unknown_document_and_a_cal_held_already_import_nothing_and_each_is_named(
        site, key, tmp_path):
    apply_license(site, key, named=4, document=3)
    site.assign_named_cals(BOB)
    file = tmp_path / "cals.csv"
    file.write_text("type,user,document,last_used\n"
                    "named,ACME\\alice,,2026-01-01T10:00:00Z\n"
                    "named,nobackslash,,\n"
                    "document,ACME\\alice,Nowhere.qvw,\n"
                    f"named,{BOB},,\n"
                    "named,ACME\\erin,,yesterday\n", encoding="utf-8")
    before = snapshot(site)
    with pytest.raises(InvalidInput) as refused:
        site.import_cals(file)
    message = refused.value.message
    assert message.startswith("nothing was imported: 4 problems")
    assert "row 3 (nobackslash)" in message and "Nowhere.qvw" in message
    assert "row 5" in message and "already holds a Named CAL" in message and "row 6" in message
    assert snapshot(site) == before


def test_more_cals_than_the_license_allows_import_nothing(site, key, tmp_path):
    apply_license(site, key, named=2, document=1)
    site.assign_named_cals(BOB)
    file = tmp_path / "cals.csv"
    file.write_text("type,user,document\nnamed,ACME\\alice,\nnamed,ACME\\carol,\n"
                    f"document,ACME\\alice,{SALES}\ndocument,ACME\\carol,{AR}\n", encoding="utf-8")
    with pytest.raises(InvalidInput) as refused:
        site.import_cals(file)
    assert "2 Named CALs and the site 1; the license allows 2" in refused.value.message
    assert "2 Document CALs and the site 0; the license allows 1" in refused.value.message
    assert named_users(site) == [BOB] and pool(site, "document").assigned == 0


# -- migrate-to --------------------------------------------------------------------------------------------


def test_a_move_from_sqlite_to_postgresql_keeps_every_assignment_session_license_document_and_history(
        key, clock, root, tmp_path):
    require_postgres()
    (tmp_path / "source").mkdir()
    source = open_other(tmp_path / "source", clock, key, root)
    with postgres_database(migrated=False) as url:
        try:
            busy(source, key, clock, lease=True)
            source.create_token(name="script", role="viewer")
            before = snapshot(source)
            report = source.migrate_to(url)
            assert report.consistent, report.differences
            assert report.tables["named_cals"] == [4, 4] and report.tables["api_tokens"] == [1, 1]
            assert report.counters["named"] == [4, 4]
            target = calkeeper.open_site(url, clock=clock, root_folder=root, actor="tester",
                                         trusted_keys={key.key_id: key.private.public_key()})
            try:
                after = snapshot(target)
                assert {k: v for k, v in after.items() if k != "audit"} == {
                    k: v for k, v in before.items() if k != "audit"}
                assert after["audit"][1:] == before["audit"]  # and the move's own entry, newest
                assert cals_of(target) == cals_of(source)
                assert target.user_cals(DAVE) == source.user_cals(DAVE)
                assert target.user_cals(ERIN) == source.user_cals(ERIN)
                assert target.list_sessions() == source.list_sessions()
                assert target.list_leases() == source.list_leases() and target.list_leases()
                assert target.search_directory("dev") == source.search_directory("dev")
                assert target.report("usage", by="user").rows == source.report("usage", by="user").rows
                assert [t.name for t in target.list_tokens()] == ["script"]
                with target.app.uow.read() as tx:
                    assert tx.site_data.counter_drift() == {}
                open_as(target, "ACME\\grace", SALES)  # new rows take new ids after the moved ones
                assert target.assign_named_cals("ACME\\heidi")
            finally:
                target.close()
        finally:
            source.close()


def test_a_move_refuses_a_target_that_holds_data_and_copies_nothing(site, key, clock, root, tmp_path):
    apply_license(site, key)
    other = open_other(tmp_path, clock, key, root)
    try:
        apply_license(other, key)
        url = str(other.app.engine.url)
        with pytest.raises(InvalidInput) as refused:
            site.migrate_to(url)
        assert "is not empty: it holds" in refused.value.message and "'licenses'" in refused.value.message
    finally:
        other.close()
