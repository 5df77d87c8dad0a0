"""Documents are the files under the root folder; a missing one keeps its CALs until the admin releases it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calkeeper.core.errors import InvalidInput, UnknownDocument, UnknownSession
from tests.integration.steps import AR, MINUTE, SALES, audit_entries, document_users, open_as, pool, snapshot
from tests.kit import ANALYTIX, apply_license

ALICE, BOB, CAROL = "ACME\\alice", "ACME\\bob", "ACME\\carol"


def paths(site):
    return [d.path for d in site.list_documents()]


def document(site, path):
    return next(d for d in site.list_documents() if d.path == path)


def test_the_documents_are_the_files_in_the_root_folder(site):
    assert sorted(paths(site)) == sorted(ANALYTIX)
    assert {e.target for e in audit_entries(site, "document.found")} == set(ANALYTIX)


def test_a_file_added_to_the_root_folder_appears_on_the_next_listing(site, root):
    paths(site)
    (root / "Budget.qvw").write_bytes(b"QVW")
    assert "Budget.qvw" in paths(site)
    assert document(site, "Budget.qvw").cals_allocated == 0


def test_documents_in_folders_under_the_root_are_listed_with_their_folder(site, root):
    (root / "Finance" / "2026").mkdir(parents=True)
    (root / "Finance" / "2026" / "Ledger.qvf").write_bytes(b"QVF")
    (root / "Finance" / "notes.txt").write_text("not a document")
    assert "Finance/2026/Ledger.qvf" in paths(site)
    assert not any(p.endswith("notes.txt") for p in paths(site))


def test_a_file_added_to_the_root_folder_can_be_opened_after_the_next_scan_and_not_before(site, key, root):
    apply_license(site, key, named=1)
    open_as(site, ALICE, SALES)
    (root / "Budget.qvw").write_bytes(b"QVW")
    with pytest.raises(UnknownDocument):  # the access gate never walks the root folder itself
        open_as(site, ALICE, "Budget.qvw")
    site.scan_documents()  # what the server's upkeep does every document_scan_seconds
    assert open_as(site, ALICE, "Budget.qvw").cal_type == "named"


def test_a_document_name_with_stray_blanks_or_backslashes_finds_the_document(site, key, root):
    apply_license(site, key, named=1)
    (root / "Finance").mkdir()
    (root / "Finance" / "Ledger.qvw").write_bytes(b"QVW")
    site.scan_documents()
    assert open_as(site, ALICE, "  salesflash.QVW ").document == SALES
    assert open_as(site, ALICE, "Finance\\Ledger.qvw").document == "Finance/Ledger.qvw"


def test_a_new_file_can_be_allocated_cals_without_listing_the_documents_first(site, key, root):
    apply_license(site, key, named=1, document=2)
    (root / "Budget.qvw").write_bytes(b"QVW")
    assert site.set_document_allocation("Budget.qvw", 2).cals_allocated == 2


def test_listing_twice_without_changes_writes_nothing(site):
    paths(site)
    audit_before = audit_entries(site)
    paths(site)
    assert audit_entries(site) == audit_before


# -- a document that disappears --------------------------------------------------------------------


@pytest.fixture
def sales_with_cals(site, key):
    """SalesFlash has 2 Document CALs allocated, one assigned to Alice."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, document=3, session=2, usage=2)
    site.set_document_allocation(SALES, 2)
    site.assign_document_cals(SALES, ALICE)
    return site


def test_a_deleted_document_is_flagged_missing_and_keeps_its_cals(sales_with_cals, root, clock):
    site = sales_with_cals
    (root / SALES).unlink()
    sales = document(site, SALES)
    assert sales.missing and sales.missing_since == clock.now()
    assert (sales.cals_allocated, sales.cals_assigned) == (2, 1)
    assert document_users(site, SALES) == [ALICE]
    assert pool(site, "document").assigned == 1 and pool(site, "document").allocated == 2
    [entry] = audit_entries(site, "document.missing")
    assert entry.target == SALES and entry.details["cals_kept"] == 1


def test_opening_a_missing_document_is_denied_with_its_reason(sales_with_cals, root):
    site = sales_with_cals
    (root / SALES).unlink()
    site.scan_documents()
    for user in (ALICE, BOB, None):
        decision = open_as(site, user, SALES)
        assert not decision.granted and decision.code == "document_missing"
        assert decision.reason == "the document SalesFlash.qvw is missing from the root folder"
    assert [d.code for d in site.denials()] == ["document_missing"] * 3
    assert pool(site, "session").assigned == 0 and pool(site, "usage").assigned == 0


def test_a_document_that_comes_back_serves_its_cals_again(sales_with_cals, root):
    site = sales_with_cals
    (root / SALES).unlink()
    site.scan_documents()
    (root / SALES).write_bytes(b"QVW")
    assert not document(site, SALES).missing
    assert open_as(site, ALICE, SALES).cal_type == "document"
    assert [e.target for e in audit_entries(site, "document.returned")] == [SALES]


def test_releasing_a_missing_document_frees_its_cals_and_allocation(sales_with_cals, root):
    site = sales_with_cals
    (root / SALES).unlink()
    site.scan_documents()
    released = site.release_missing_document("salesflash", actor="ACME\\admin")
    assert (released.document, released.cals_released) == (SALES, 1)
    assert SALES not in paths(site)
    documents = pool(site, "document")
    assert (documents.assigned, documents.allocated, documents.unallocated) == (0, 0, 3)
    assert site.set_document_allocation(AR, 3).cals_allocated == 3
    [entry] = audit_entries(site, "document.released")
    assert (entry.actor, entry.target, entry.details) == (
        "ACME\\admin", SALES, {"cals_allocated": 2, "cals_released": 1})


def test_releasing_a_missing_document_ends_its_sessions_and_frees_the_session_cals_they_held(
    sales_with_cals, root, clock
):
    site = sales_with_cals
    only_sales = open_as(site, BOB, SALES, machine="PC-2")
    open_as(site, CAROL, SALES, machine="PC-3")
    open_as(site, CAROL, AR, machine="PC-3")
    assert only_sales.cal_type == "session" and pool(site, "session").assigned == 2
    (root / SALES).unlink()
    site.scan_documents()
    clock.advance(20 * MINUTE)
    site.release_missing_document(SALES)
    assert pool(site, "session").assigned == 1
    with pytest.raises(UnknownSession):
        site.close_session(only_sales.session_id)
    assert open_as(site, BOB, AR, machine="PC-2").cal_type == "session"


def test_a_released_document_that_comes_back_starts_afresh(sales_with_cals, root):
    site = sales_with_cals
    (root / SALES).unlink()
    site.scan_documents()
    site.release_missing_document(SALES)
    (root / SALES).write_bytes(b"QVW")
    sales = document(site, SALES)
    assert (sales.cals_allocated, sales.cals_assigned, sales.missing) == (0, 0, False)
    assert document_users(site, SALES) == []


def test_a_document_still_in_the_root_folder_cannot_be_released(sales_with_cals):
    site = sales_with_cals
    before = snapshot(site)
    with pytest.raises(InvalidInput) as refused:
        site.release_missing_document(SALES)
    assert "still in the root folder" in refused.value.message
    assert snapshot(site) == before


# -- a document that never was ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda site: site.set_document_allocation("Budget.qvw", 1),
        lambda site: site.set_document_dynamic("Budget.qvw", True),
        lambda site: site.assign_document_cals("Budget.qvw", ALICE),
        lambda site: site.remove_document_cals("Budget.qvw", ALICE),
        lambda site: site.restore_document_cals("Budget.qvw", ALICE),
        lambda site: site.list_document_cals("Budget.qvw"),
        lambda site: site.release_missing_document("Budget.qvw"),
        lambda site: site.open_document(ALICE, "Budget.qvw"),
    ],
    ids=["allocate", "dynamic", "assign", "remove", "restore", "list", "release", "open"],
)
def test_an_unknown_document_raises_unknown_document_and_changes_nothing(sales_with_cals, call):
    site = sales_with_cals
    before = snapshot(site)
    with pytest.raises(UnknownDocument) as refused:
        call(site)
    assert "Budget.qvw" in refused.value.message
    assert snapshot(site) == before


def test_a_name_that_matches_several_documents_is_refused(site, root):
    for folder in ("Archive", "Finance"):
        (root / folder).mkdir()
        (root / folder / "Budget.qvw").write_bytes(b"QVW")
    paths(site)
    with pytest.raises(UnknownDocument) as refused:
        site.set_document_dynamic("Budget", True)
    assert "several" in refused.value.message
    assert site.set_document_dynamic("Finance/Budget.qvw", True).allow_dynamic_assignment
    assert not document(site, "Archive/Budget.qvw").allow_dynamic_assignment


def test_usage_cals_consumed_on_a_released_document_still_return_only_after_28_days(site, key, root, clock):
    apply_license(site, key, named=1, document=0, session=0, usage=1)
    site.update_cal_settings(allow_dynamic_assignment=False)
    assert open_as(site, None, SALES, machine="KIOSK-1").cal_type == "usage"
    (root / SALES).unlink()
    site.scan_documents()
    site.release_missing_document(SALES)
    assert pool(site, "usage").assigned == 1
    assert not open_as(site, None, AR, machine="KIOSK-2").granted
    clock.advance(timedelta(days=28))
    assert open_as(site, None, AR, machine="KIOSK-2").cal_type == "usage"
