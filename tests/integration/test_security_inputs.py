"""Every input has a clean edge: what the checks accept fits where it is stored, what they refuse is
refused with a clear error, and one bad file in the root folder or one bad LEF breaks nothing else."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import calkeeper
from calkeeper.api.app import create_app
from calkeeper.console.web import SESSION_COOKIE
from calkeeper.core.allocation import OpenRequest
from calkeeper.core.cals import ClientType
from calkeeper.core.documents import DOCUMENT_PATH_MAX, DocumentInfo, DocumentProblem
from calkeeper.core.errors import InvalidUsers, LicenseRejected, UnknownDocument
from calkeeper.core.identities import MACHINE_MAX, USER_KEY_MAX, USER_NAME_MAX, Identity
from calkeeper.core.license import LICENSEE_MAX
from calkeeper.core.serials import control_number, new_serial
from calkeeper.settings import Settings
from calkeeper.store import schema
from tests.integration.authority_kit import ScriptedAuthority
from tests.integration.steps import SALES, audit_entries, open_as, snapshot
from tests.kit import ANALYTIX, apply_license, signed_lef

# Valid as typed (109 characters), but U+0958 is two characters in NFC: its user part has 208.
TOO_LONG_IN_NFC = "ACME\\" + "\u0958" * 104
IN_NFC = unicodedata.normalize("NFC", TOO_LONG_IN_NFC)


def column(table: type[schema.Base], name: str) -> int:
    length = table.__table__.c[name].type.length  # type: ignore[attr-defined]
    assert isinstance(length, int)
    return length


def stored_rows(database_url: str) -> dict[str, int]:
    """How many rows each table that holds names has."""
    engine = sa.create_engine(database_url)
    try:
        with engine.connect() as connection:
            return {table: connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()
                    for table in ("users", "named_cals", "document_cals", "session_cals", "usage_cals", "sessions",
                                  "denials", "audit_log")}
    finally:
        engine.dispose()


# -- user and machine names fit their columns ---------------------------------------------------------


def test_every_user_name_the_core_accepts_fits_the_columns_that_store_it_as_displayed() -> None:
    for table, name in ((schema.User, "name"), (schema.NamedCal, "identity_name"), (schema.DocumentCal, "user_name"),
                        (schema.SessionCal, "user_name"), (schema.UsageCal, "user_name"), (schema.Session, "user_name"),
                        (schema.DenialRecord, "user_name"), (schema.AuditEntry, "target")):
        assert column(table, name) >= USER_NAME_MAX, f"{table.__tablename__}.{name}"


def test_every_user_key_the_core_makes_fits_the_columns_that_store_it() -> None:
    for table, name in ((schema.User, "key"), (schema.NamedCal, "identity_key"), (schema.DocumentCal, "user_key"),
                        (schema.UsageCal, "holder_key")):
        assert column(table, name) >= USER_KEY_MAX, f"{table.__tablename__}.{name}"


def test_every_machine_name_the_core_accepts_fits_the_columns_that_store_it() -> None:
    for table, name in ((schema.SessionCal, "machine"), (schema.UsageCal, "machine"), (schema.Session, "machine"),
                        (schema.DenialRecord, "machine"), (schema.NamedCal, "identity_name"),
                        (schema.NamedCal, "identity_key")):
        assert column(table, name) >= MACHINE_MAX, f"{table.__tablename__}.{name}"


def test_the_longest_client_instance_key_fits_its_column() -> None:
    document = DocumentInfo(1, SALES, False, 0, False)
    machine = Identity("M" * MACHINE_MAX, "m" * MACHINE_MAX, "machine")
    longest = 0
    for user in (Identity("u" * USER_NAME_MAX, "u" * USER_KEY_MAX, "user"), None):  # a user, or anonymous
        for client in ClientType:
            request = OpenRequest(user, machine, client, document)
            assert len(request.holder_key) <= column(schema.UsageCal, "holder_key")
            longest = max(longest, len(request.client_key))
    assert longest <= column(schema.SessionCal, "client_key")


def test_a_user_name_too_long_once_in_nfc_is_refused_at_the_access_gate_and_nothing_is_stored(
        site, key, database_url) -> None:
    apply_license(site, key, named=1, session=1, usage=1)
    before, rows = snapshot(site), stored_rows(database_url)
    with pytest.raises(InvalidUsers) as caught:
        open_as(site, TOO_LONG_IN_NFC)
    assert f"'{IN_NFC}' is not a valid user name" in caught.value.message
    assert "208 characters" in caught.value.message
    assert (snapshot(site), stored_rows(database_url)) == (before, rows)
    assert open_as(site, "ACME\\" + "ß" * 104).granted  # full case folding would make 213 characters: it fits


def test_a_user_name_too_long_once_in_nfc_is_refused_by_assign_named_cals_and_nothing_is_stored(
        site, key, database_url) -> None:
    apply_license(site, key, named=2)
    before, rows = snapshot(site), stored_rows(database_url)
    with pytest.raises(InvalidUsers, match="nothing was applied: 1 entry is not valid") as caught:
        site.assign_named_cals(f"ACME\\alice;{TOO_LONG_IN_NFC}")
    assert [d["entry"] for d in caught.value.details] == [IN_NFC]
    assert (snapshot(site), stored_rows(database_url)) == (before, rows)


def test_a_machine_name_longer_than_its_limit_is_refused_at_the_access_gate(site, key, database_url) -> None:
    apply_license(site, key, named=1, session=1)
    rows = stored_rows(database_url)
    with pytest.raises(InvalidUsers, match=f"at most {MACHINE_MAX} characters"):
        open_as(site, None, machine="M" * (MACHINE_MAX + 1))
    assert stored_rows(database_url) == rows


# -- a LEF is applied only under the owner and organization it names ---------------------------------


def apply_as(site, key, serial, *, owner, organization, lef_owner="Example Site", lef_organization="Example Org",
             **counts):
    """Apply a LEF signed for ``lef_owner`` / ``lef_organization`` with the owner and organization typed."""
    lef = signed_lef(key, serial, owner=lef_owner, organization=lef_organization, **counts)
    return site.apply_license(serial=serial, control=control_number(serial), owner=owner,
                              organization=organization, lef=lef)


def test_the_owner_and_organization_fit_the_columns_of_the_license_in_force() -> None:
    assert column(schema.LicenseRecord, "owner") >= LICENSEE_MAX
    assert column(schema.LicenseRecord, "organization") >= LICENSEE_MAX


def test_a_validly_signed_lef_applied_under_another_owner_is_refused_and_the_license_in_force_stays(site, key):
    serial = apply_license(site, key, named=2)
    before = snapshot(site)
    with pytest.raises(LicenseRejected) as refused:
        apply_as(site, key, serial, owner="Mallory", organization="Mallory Inc", named=50)
    assert refused.value.code == "lef_owner_mismatch"
    assert "the owner 'Example Site', not 'Mallory' as entered" in refused.value.message
    assert "the organization 'Example Org', not 'Mallory Inc' as entered" in refused.value.message
    assert snapshot(site) == before


def test_a_first_license_under_another_owner_is_refused_and_the_site_stays_unlicensed(site, key):
    with pytest.raises(LicenseRejected) as refused:
        apply_as(site, key, new_serial(), owner="Anyone", organization="Example Org")
    assert refused.value.code == "lef_owner_mismatch"
    assert site.license() is None


def test_the_license_in_force_keeps_the_lefs_spelling_of_the_owner_and_organization(site, key):
    view = apply_as(site, key, new_serial(), owner="  example SITE ", organization="EXAMPLE org")
    assert (view.owner, view.organization) == ("Example Site", "Example Org")
    assert (site.license().owner, site.license().organization) == ("Example Site", "Example Org")
    [applied] = audit_entries(site, "license.applied")
    assert (applied.details["owner"], applied.details["organization"]) == ("Example Site", "Example Org")


def test_a_lef_fetched_from_the_authority_is_refused_under_another_owner_than_the_one_it_names(site, key):
    serial = new_serial()
    site.app.licensing.authority = ScriptedAuthority(signed_lef(key, serial))
    with pytest.raises(LicenseRejected) as refused:
        site.apply_license(serial=serial, control=control_number(serial), owner="Mallory",
                           organization="Example Org")
    assert refused.value.code == "lef_owner_mismatch"
    assert site.license() is None


def test_update_license_from_server_applies_the_newer_lef_under_the_owner_in_force(site, key):
    serial = apply_license(site, key, named=2)
    site.app.licensing.authority = ScriptedAuthority(signed_lef(key, serial, named=7))
    update = site.update_license()
    assert update.updated and update.license.cals["named"] == 7
    assert (update.license.owner, update.license.organization) == ("Example Site", "Example Org")


# -- a document file that cannot be served is reported, and breaks nothing else ----------------------

# A path of 1025 characters: five folders of 200 characters and a document in the last one.
TOO_LONG = "/".join(["f" * 200] * 5) + "/Long.qvw"

UNSERVABLE = {
    "a leading blank": (" Budget.qvw", " Budget.qvw", "begins or ends with a blank"),
    "a trailing blank": ("Budget.qvw ", "Budget.qvw ", "begins or ends with a blank"),
    "a blank around a folder name": ("Finance /Ledger.qvw", "Finance /Ledger.qvw", "begins or ends with a blank"),
    "a backslash": ("a\\b.qvw", "a\\b.qvw", "holds a backslash"),
    "a control character": ("Bud\x01get.qvw", "Bud\\x01get.qvw", "holds a control character"),
    "a line break": ("Bud\nget.qvw", "Bud\\x0aget.qvw", "holds a control character or a line break"),
    "bytes that are not UTF-8": ("Bud\udcffget.qvw", "Bud\\xffget.qvw", "is not valid UTF-8"),
    "a path too long for its column": (TOO_LONG, TOO_LONG, f"at most {DOCUMENT_PATH_MAX} are allowed"),
}


def put(root: Path, *paths: str) -> None:
    for path in paths:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(b"QVW")


def paths(site) -> list[str]:
    return [d.path for d in site.list_documents()]


def test_the_core_limit_on_document_paths_fits_the_columns_that_store_them() -> None:
    for table, name in ((schema.Document, "path"), (schema.Document, "path_key"), (schema.DenialRecord, "document"),
                        (schema.AuditEntry, "target")):
        assert column(table, name) >= DOCUMENT_PATH_MAX, f"{table.__tablename__}.{name}"


@pytest.mark.parametrize(("on_disk", "shown", "reason"), UNSERVABLE.values(), ids=UNSERVABLE.keys())
def test_a_document_file_that_cannot_be_served_is_skipped_and_reported_and_the_others_are_served(
        site, key, root, on_disk, shown, reason) -> None:
    apply_license(site, key, named=1)
    put(root, on_disk, "Added Later.qvw")
    assert sorted(paths(site)) == sorted([*ANALYTIX, "Added Later.qvw"])
    [problem] = site.document_problems()
    assert problem.path == shown
    assert reason in problem.reason
    assert open_as(site, "ACME\\alice", "Added Later.qvw").granted
    with pytest.raises(UnknownDocument):
        open_as(site, "ACME\\alice", on_disk)


def test_the_server_upkeep_scan_skips_a_path_too_long_and_still_finds_new_documents(site, root) -> None:
    put(root, TOO_LONG, "Budget.qvw")
    site.scan_documents()  # what the server's upkeep does every document_scan_seconds
    assert "Budget.qvw" in paths(site)
    assert [p.path for p in site.document_problems()] == [TOO_LONG]


def test_a_site_whose_root_folder_holds_a_name_that_is_not_utf8_opens_and_serves_the_others(
        database_url, clock, key, root) -> None:
    put(root, "Bud\udcffget.qvw")
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester")
    try:
        assert sorted(paths(site)) == sorted(ANALYTIX)
        assert [p.path for p in site.document_problems()] == ["Bud\\xffget.qvw"]
    finally:
        site.close()


def test_two_files_differing_only_in_case_serve_the_first_and_report_the_other(site, root) -> None:
    put(root, "budget.QVW", "Budget.qvw")
    assert "Budget.qvw" in paths(site) and "budget.QVW" not in paths(site)
    assert site.document_problems() == [DocumentProblem(
        "budget.QVW", "it differs only in case or Unicode form from Budget.qvw, which is served; "
                      "rename or remove one of them")]


def test_a_file_differing_only_in_case_from_a_served_document_never_takes_its_place(site, key, root) -> None:
    apply_license(site, key, named=1, document=2)
    put(root, "budget.QVW")
    site.set_document_allocation("budget.QVW", 2)
    put(root, "Budget.qvw")  # first in path order, but the site already serves the other
    assert "budget.QVW" in paths(site) and "Budget.qvw" not in paths(site)
    assert [p.path for p in site.document_problems()] == ["Budget.qvw"]
    assert site.document("budget.qvw").cals_allocated == 2


def test_a_root_folder_without_problems_reports_none(site) -> None:
    assert site.document_problems() == []


# -- the console and the REST API show them, and never fail over them ----------------------------------


@pytest.fixture
def served(site, tmp_path) -> Iterator[TestClient]:
    """The site's REST API and console, with an admin token and a signed-in console admin."""
    site.create_console_user(username="admin", password="admin-password-1", role="admin")
    secret = site.app.console_users.sign_in("admin", "admin-password-1")[0]
    _, token = site.create_token(name="inputs", role="admin")
    with TestClient(create_app(Settings(data_dir=tmp_path / "server"), site=site)) as client:
        client.cookies.set(SESSION_COOKIE, secret)
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


@pytest.mark.parametrize("bad", [" Budget.qvw", "a\\b.qvw", "Bud\udcffget.qvw", "budget.QVW", TOO_LONG])
def test_the_console_documents_page_lists_the_files_that_cannot_be_served_and_still_works(
        site, root, served, bad) -> None:
    put(root, bad, "Budget.qvw")
    page = served.get("/documents")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Cannot be served" in page.text
    [problem] = site.document_problems()
    assert problem.reason.replace("'", "&#39;") in page.text
    for document in paths(site):
        assert served.get("/documents", params={"doc": document}).status_code == 200


def test_the_console_documents_page_says_so_when_the_chosen_document_went_away_meanwhile(
        site, served, monkeypatch) -> None:
    def gone(document: str, **_: object):
        raise UnknownDocument(f"unknown document '{document}': it is not in the root folder")

    monkeypatch.setattr(site.app.document_cals, "document_cal_page", gone)
    page = served.get("/documents", params={"doc": SALES})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "unknown document &#39;SalesFlash.qvw&#39;" in page.text


def test_the_rest_api_lists_the_files_that_cannot_be_served(root, served) -> None:
    put(root, "a\\b.qvw")
    answer = served.get("/api/v1/document-problems")
    assert answer.status_code == 200
    assert [p["path"] for p in answer.json()] == ["a\\b.qvw"]
    assert "holds a backslash" in answer.json()[0]["reason"]
    assert "a\\b.qvw" not in [d["path"] for d in served.get("/api/v1/documents").json()]
