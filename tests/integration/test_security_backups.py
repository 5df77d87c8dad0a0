"""The license cannot be forged through a backup: a restore checks a backup as live input is checked.

A backup is a file an admin can edit, and its digest (SHA-256) can be recomputed by whoever edits it,
so most tests here edit a backup and seal it again: what stops them is the re-check of every LEF
against the pinned keys and of every row against the rules live input passes. The digest itself
stops a file damaged or edited without that care.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from calkeeper.authority.signing import create_key, make_lef, sign_lef
from calkeeper.core.errors import BackupError, LicenseRejected
from calkeeper.core.serials import control_number, new_serial
from calkeeper.store.backup import digest_of
from tests.integration.steps import AR, DAY, SALES, audit_entries, named_users, open_as, pool, snapshot
from tests.kit import apply_license, signed_lef

ALICE, BOB = "ACME\\alice", "ACME\\bob"
Content = dict[str, Any]


@pytest.fixture
def licensed(site, key):
    """A site with a license of 5 Named CALs, two of them assigned, and a document with a Document CAL."""
    apply_license(site, key, named=5, document=20, session=5, usage=28)
    site.update_cal_settings(allow_dynamic_assignment=False)
    site.assign_named_cals(f"{ALICE};{BOB}")
    site.set_document_allocation(SALES, 2)
    site.assign_document_cals(SALES, ALICE)
    return site


def backed_up(site, tmp_path: Path, name: str = "backup.json") -> Path:
    target = tmp_path / name
    site.backup(target)
    return target


def edited(path: Path, change: Callable[[Content], object], *, seal: bool = True) -> Path:
    """The backup changed as ``change`` says; sealed again with a fresh digest, as a careful forger would."""
    content = json.loads(path.read_text())
    change(content)
    if seal:
        content["digest"] = digest_of(content)
    target = path.with_name(f"edited-{path.name}")
    target.write_text(json.dumps(content))
    return target


def in_force(content: Content) -> dict[str, Any]:
    return max(content["tables"]["licenses"], key=lambda row: row["id"])


def refused(site, path: Path, error: type[Exception] = BackupError) -> Any:
    """Restore a backup that must be refused; nothing of the site may change. Returns the error."""
    before = snapshot(site)
    with pytest.raises(error) as caught:
        site.restore(path)
    assert snapshot(site) == before
    return caught.value


# -- the license is checked as "Apply license" checks it -------------------------------------------


def test_a_backup_edited_to_hold_more_cals_than_its_lef_grants_is_refused_and_the_license_stays(licensed, tmp_path):
    forged = edited(backed_up(licensed, tmp_path), lambda c: in_force(c).update(named_cals=100000))
    error = refused(licensed, forged)
    assert error.code == "backup_invalid"
    assert "named_cals '100000' where its signed LEF says '5'" in error.message
    assert licensed.license().cals["named"] == 5 and licensed.license().status == "valid"


def test_a_license_row_for_another_serial_is_refused_by_the_serial_check(licensed, tmp_path):
    other = new_serial()
    forged = edited(backed_up(licensed, tmp_path),
                    lambda c: in_force(c).update(serial=other, control=control_number(other)))
    error = refused(licensed, forged, LicenseRejected)
    assert error.code == "lef_serial_mismatch"
    assert "the backup's license in force fails the license checks" in error.message


def test_a_license_row_whose_lef_is_not_a_lef_is_refused_as_malformed(licensed, tmp_path):
    other = new_serial()
    forged = edited(backed_up(licensed, tmp_path), lambda c: in_force(c).update(
        serial=other, control=control_number(other), lef_text="not a LEF"))
    assert refused(licensed, forged, LicenseRejected).code == "lef_malformed"


def test_a_lef_changed_after_signing_is_refused_by_its_signature(licensed, tmp_path):
    def more_cals(content: Content) -> None:
        row = in_force(content)
        row.update(lef_text=row["lef_text"].replace("NAMED_CALS;5;", "NAMED_CALS;500;"), named_cals=500)

    forged = edited(backed_up(licensed, tmp_path), more_cals)
    assert refused(licensed, forged, LicenseRejected).code == "lef_signature_invalid"


def test_a_lef_signed_by_a_key_this_server_does_not_pin_is_refused(licensed, tmp_path):
    stranger = create_key(tmp_path / "stranger-keys")
    serial = licensed.license().serial
    forged = edited(backed_up(licensed, tmp_path), lambda c: in_force(c).update(
        lef_text=signed_lef(stranger, serial, named=500), named_cals=500, key_id=stranger.key_id))
    assert refused(licensed, forged, LicenseRejected).code == "lef_unknown_key"


def test_a_signed_lef_with_30_digit_counts_is_refused_as_malformed(licensed, key, tmp_path):
    serial = licensed.license().serial
    huge = sign_lef(make_lef(serial=serial, owner="Example Site", organization="Example Org", named=10**30,
                             maintenance_until=date(2027, 12, 31)), key)
    forged = edited(backed_up(licensed, tmp_path), lambda c: in_force(c).update(lef_text=huge))
    error = refused(licensed, forged, LicenseRejected)
    assert error.code == "lef_malformed" and "more than a CAL server can count" in error.message


def test_a_license_in_force_that_has_expired_since_the_backup_is_refused(site, key, clock, tmp_path):
    apply_license(site, key, time_limit=(clock.now() + 10 * DAY).date())
    backup = backed_up(site, tmp_path)
    clock.advance(30 * DAY)
    assert refused(site, backup, LicenseRejected).code == "license_expired"


def test_an_older_license_in_the_history_may_have_expired_since_it_was_applied(site, key, clock, tmp_path):
    serial = apply_license(site, key, named=2, time_limit=(clock.now() + 10 * DAY).date())
    clock.advance(DAY)
    apply_license(site, key, serial, named=5)
    clock.advance(30 * DAY)
    backup = backed_up(site, tmp_path)
    history = site.license_history()
    site.restore(backup)
    assert site.license_history() == history and site.license().cals["named"] == 5


def test_a_forged_license_in_the_history_is_refused(site, key, clock, tmp_path):
    serial = apply_license(site, key, named=2)
    clock.advance(DAY)
    apply_license(site, key, serial, named=5)
    oldest = lambda c: min(c["tables"]["licenses"], key=lambda row: row["id"])  # noqa: E731
    forged = edited(backed_up(site, tmp_path), lambda c: oldest(c).update(lef_text="not a LEF"))
    error = refused(site, forged, LicenseRejected)
    assert error.code == "lef_malformed" and "the backup's license applied on 2026-01-05" in error.message


# -- a backup without a license ----------------------------------------------------------------------


def test_an_empty_license_list_beside_cal_data_is_refused(licensed, tmp_path):
    forged = edited(backed_up(licensed, tmp_path), lambda c: c["tables"]["licenses"].clear())
    error = refused(licensed, forged)
    assert error.code == "backup_invalid"
    assert "no license, yet holds 2 Named CALs, 1 Document CALs, 2 Document CALs allocated" in error.message


def test_a_backup_without_a_license_or_cal_data_restores_a_site_without_a_license(site, key, tmp_path):
    backup = backed_up(site, tmp_path)
    apply_license(site, key)
    site.restore(backup)
    assert site.license() is None and site.license_history() == []


# -- never more CALs than the license ----------------------------------------------------------------


def fifty_named_cals(content: Content) -> None:
    rows = content["tables"]["named_cals"]
    for number in range(48):
        rows.append({**rows[0], "id": 1000 + number, "identity_name": f"ACME\\user{number}",
                     "identity_key": f"ACME\\USER{number}"})


def more_session_cals_in_use(content: Content) -> None:
    template = {"user_name": None, "client": "ajax", "acquired_at": "2026-01-05T08:00:00+00:00", "released_at": None}
    content["tables"]["session_cals"] += [
        {**template, "id": 100 + n, "machine": f"PC-{n}", "client_key": f"anonymous@PC-{n}|PC-{n}|ajax"}
        for n in range(6)]


def over_allocated(content: Content) -> None:
    ar = next(d for d in content["tables"]["documents"] if d["path"] == AR)
    ar["cals_allocated"] = 21


def more_document_cals_than_allocated(content: Content) -> None:
    sales = next(d for d in content["tables"]["documents"] if d["path"] == SALES)
    sales["cals_allocated"] = 0


@pytest.mark.parametrize(("change", "named"), [
    (fifty_named_cals, "the backup holds 50 Named CALs, the license allows 5"),
    (more_session_cals_in_use, "6 Session CALs in use, the license allows 5"),
    (over_allocated, "23 Document CALs allocated to documents, the license allows 20"),
    (more_document_cals_than_allocated, "1 Document CALs for SalesFlash.qvw, which has 0 allocated"),
], ids=["named", "session", "allocated", "document"])
def test_rows_beyond_the_license_are_refused_naming_the_excess(licensed, tmp_path, change, named):
    error = refused(licensed, edited(backed_up(licensed, tmp_path), change))
    assert error.code == "backup_over_license" and named in error.message


def test_a_refused_restore_leaves_the_next_ids_where_they_were(licensed, tmp_path):
    backup = backed_up(licensed, tmp_path)
    licensed.assign_named_cals("ACME\\carol;ACME\\dave")  # ids beyond the backup's highest
    refused(licensed, edited(backup, more_session_cals_in_use))
    licensed.assign_named_cals("ACME\\erin")
    assert named_users(licensed) == [ALICE, BOB, "ACME\\carol", "ACME\\dave", "ACME\\erin"]


# -- every row as live input -------------------------------------------------------------------------


def named(content: Content, **values: Any) -> None:
    content["tables"]["named_cals"][0].update(values)


def document(content: Content, path: str) -> None:
    content["tables"]["documents"][0].update(path=path, path_key=path.casefold())


ROWS = {
    "script user": lambda c: named(c, identity_name="<script>x</script>", identity_key="<script>x</script>"),
    "user without domain": lambda c: named(c, identity_name="alice", identity_key="alice"),
    "lone surrogate": lambda c: named(c, identity_name="ACME\\\ud800", identity_key="acme\\\ud800"),
    "key of another user": lambda c: named(c, identity_key="acme\\somebody"),
    "traversal": lambda c: document(c, "../../../etc/passwd"),
    "absolute path": lambda c: document(c, "/etc/passwd.qvw"),
    "not a document": lambda c: document(c, "notes.txt"),
    "script document user": lambda c: c["tables"]["document_cals"][0].update(user_name="<b>x</b>", user_key="<b>x</b>"),
    "huge count": lambda c: c["tables"]["documents"][0].update(claims=2**40),
    "30-digit column": lambda c: in_force(c).update(named_cals=10**30),
    "denial machine": lambda c: c["tables"]["denials"].append(
        {"id": 1, "at": "2026-01-05T09:00:00+00:00", "user_name": None, "document": "x.qvw",
         "machine": "../../etc", "code": "no_cal_available", "reason": "none"}),
}


@pytest.mark.parametrize("change", ROWS.values(), ids=ROWS.keys())
def test_a_row_live_input_would_refuse_is_refused(licensed, tmp_path, change):
    error = refused(licensed, edited(backed_up(licensed, tmp_path), change))
    assert error.code == "backup_invalid"


def test_the_refusal_names_the_row_and_the_rule_it_breaks(licensed, tmp_path):
    error = refused(licensed, edited(backed_up(licensed, tmp_path), ROWS["traversal"]))
    assert "documents row 1, path '../../../etc/passwd'" in error.message
    assert "'..' folder" in error.message


def test_a_session_cal_of_a_client_type_no_app_server_sends_is_refused(licensed, tmp_path):
    open_as(licensed, None, AR, machine="PC-9")
    error = refused(licensed, edited(backed_up(licensed, tmp_path),
                                     lambda c: c["tables"]["session_cals"][0].update(client="telnet")))
    assert "session_cals row 1, client 'telnet'" in error.message


# -- the file itself ---------------------------------------------------------------------------------


def test_a_backup_edited_without_a_new_digest_is_refused_as_changed_since_written(licensed, tmp_path):
    changed = edited(backed_up(licensed, tmp_path), lambda c: in_force(c).update(named_cals=100000), seal=False)
    error = refused(licensed, changed)
    assert error.code == "backup_invalid" and "was changed or damaged since it was written" in error.message


def test_a_backup_without_its_digest_is_refused_as_changed_since_written(licensed, tmp_path):
    changed = edited(backed_up(licensed, tmp_path), lambda c: c.pop("digest"), seal=False)
    assert "its digest is missing" in refused(licensed, changed).message


def test_a_backup_carries_the_sha256_digest_of_its_canonical_content(licensed, tmp_path):
    content = json.loads(backed_up(licensed, tmp_path).read_text())
    assert content["version"] == 3 and content["digest"].startswith("sha256:")
    assert content["digest"] == digest_of(content)


def as_version_1(content: Content) -> None:
    content.pop("digest")
    content["version"] = 1


def test_a_version_1_backup_restores_and_the_audit_trail_says_it_had_no_digest(licensed, tmp_path):
    old = edited(backed_up(licensed, tmp_path), as_version_1, seal=False)
    licensed.assign_named_cals("ACME\\carol")
    licensed.restore(old)
    assert named_users(licensed) == [ALICE, BOB]
    [entry] = audit_entries(licensed, "data.restored")
    assert entry.details["digest"] == "none: a version 1 backup has no digest"


def test_a_version_1_backup_passes_every_other_check(licensed, tmp_path):
    def forged(content: Content) -> None:
        as_version_1(content)
        in_force(content).update(named_cals=100000)

    assert refused(licensed, edited(backed_up(licensed, tmp_path), forged, seal=False)).code == "backup_invalid"


HOSTILE_FILES: dict[str, bytes] = {
    "nested": b"[" * 100_000 + b"]" * 100_000,
    "nested in a backup": b'{"format": "calkeeper-backup", "version": 2, "tables": ' + b"[" * 50_000 + b"]" * 50_000
                          + b"}",
    "huge integer": b'{"format": "calkeeper-backup", "version": 2, "size": 1' + b"0" * 5000 + b"}",
    "not a number": b'{"format": "calkeeper-backup", "version": NaN}',
    "not UTF-8": b'{"format": "calkeeper-backup", "version": 2, "x": "\xff\xfe"}',
}


@pytest.mark.parametrize("data", HOSTILE_FILES.values(), ids=HOSTILE_FILES.keys())
def test_a_hostile_file_is_refused_as_not_a_backup(licensed, tmp_path, data):
    hostile = tmp_path / "hostile.json"
    hostile.write_bytes(data)
    assert refused(licensed, hostile).code == "backup_invalid"


def test_a_file_of_a_gigabyte_is_refused_without_being_read(licensed, tmp_path):
    huge = tmp_path / "huge.json"
    with huge.open("wb") as file:
        file.truncate(2**30)  # sparse: it takes no room on disk
    assert "larger than the 512 MB a backup can be" in refused(licensed, huge).message


# -- what a restore still does -----------------------------------------------------------------------


def test_an_unchanged_backup_still_restores_exactly(licensed, clock, tmp_path):
    open_as(licensed, None, AR, machine="PC-9")
    backup = backed_up(licensed, tmp_path)
    before = {k: v for k, v in snapshot(licensed).items() if k != "audit"}
    licensed.clear_cal_data(backup_to=tmp_path / "cleared.json")
    clock.advance(timedelta(minutes=1))
    licensed.restore(backup)
    after = {k: v for k, v in snapshot(licensed).items() if k != "audit"}
    assert after == before and pool(licensed, "session").assigned == 1


# -- backups written when names were keyed by case folding (versions 1 and 2) ---------------------------


def keyed_by_case_folding(content: Content) -> None:
    """The backup as a release before version 3 wrote it: keys case-folded."""
    content["version"] = 2
    tables = content["tables"]
    for row in tables["users"]:
        row["key"] = row["name"].casefold()
    for row in tables["named_cals"]:
        row["identity_key"] = row["identity_name"].casefold()
    for row in tables["document_cals"]:
        row["user_key"] = row["user_name"].casefold()
    for row in tables["documents"]:
        row["path_key"] = row["path"].casefold()


def test_a_version_2_backup_with_case_folded_keys_restores_with_keys_as_names_compare_now(licensed, tmp_path):
    path = edited(backed_up(licensed, tmp_path), keyed_by_case_folding)
    licensed.restore(path)
    assert [c.user for c in licensed.list_named_cals().items] == [ALICE, BOB]
    assert licensed.open_document(ALICE.upper(), SALES, machine="PC-1", client="ajax").cal_type == "named"
    assert licensed.assign_named_cals(ALICE.lower())[0].outcome == "already assigned"


def test_a_version_2_backup_whose_names_are_now_one_is_refused_naming_them(licensed, tmp_path):
    def two_cafes(content: Content) -> None:
        keyed_by_case_folding(content)
        rows = content["tables"]["named_cals"]
        rows.append({**rows[0], "id": 900, "identity_name": "ACME\\caf\u00e9", "identity_key": "acme\\caf\u00e9"})
        rows.append({**rows[0], "id": 901, "identity_name": "ACME\\cafe\u0301", "identity_key": "acme\\cafe\u0301"})
    error = refused(licensed, edited(backed_up(licensed, tmp_path), two_cafes))
    assert "are one name now that names compare as Windows compares them" in error.message
