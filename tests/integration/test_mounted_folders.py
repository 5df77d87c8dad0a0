"""Folders linked into the root folder and folders mounted under it are served (domain.md section 8)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import calkeeper
from calkeeper.core.errors import InvalidInput, UnknownDocument
from calkeeper.settings import load_settings
from tests.integration.steps import document_users, open_as
from tests.kit import ANALYTIX, apply_license, make_root

ALICE, BOB = "ACME\\alice", "ACME\\bob"


def paths(site) -> list[str]:
    return sorted(d.path for d in site.list_documents())


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """A folder outside the root folder, with documents of its own."""
    return make_root(tmp_path / "archive", ["Old Sales.qvw", "2019/Ledger.qvf"])


@pytest.fixture
def mounted(database_url, clock, key, root, archive, tmp_path) -> Iterator[calkeeper.LocalSite]:
    """A site whose root folder has the folder ``archive`` mounted as ``Archive`` (and one that is missing)."""
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester",
                               mounted_folders={"Archive": archive, "Gone": tmp_path / "no-such-folder"})
    yield site
    site.close()


# -- symbolic links -----------------------------------------------------------------------------------


def test_a_symlinked_folder_is_served_under_the_link_name(site, root, archive):
    (root / "Linked").symlink_to(archive, target_is_directory=True)
    assert paths(site) == sorted([*ANALYTIX, "Linked/2019/Ledger.qvf", "Linked/Old Sales.qvw"])


def test_a_symlinked_document_can_be_opened(site, key, root, archive):
    apply_license(site, key, named=1)
    (root / "Linked").symlink_to(archive, target_is_directory=True)
    site.scan_documents()
    assert open_as(site, ALICE, "Linked/2019/Ledger.qvf").cal_type == "named"


def test_a_link_to_an_ancestor_ends_and_lists_each_document_once(site, root):
    (root / "Finance").mkdir()
    (root / "Finance" / "Budget.qvw").write_bytes(b"QVW")
    (root / "Finance" / "Up").symlink_to(root, target_is_directory=True)  # a loop back to the root
    (root / "Finance" / "Self").symlink_to(root / "Finance", target_is_directory=True)
    assert paths(site) == sorted([*ANALYTIX, "Finance/Budget.qvw"])


def test_a_cycle_of_links_ends_and_each_real_folder_is_listed_once(site, root, tmp_path):
    a, b = make_root(tmp_path / "a", ["A.qvw"]), make_root(tmp_path / "b", ["B.qvw"])
    (a / "to-b").symlink_to(b, target_is_directory=True)
    (b / "to-a").symlink_to(a, target_is_directory=True)
    (root / "A").symlink_to(a, target_is_directory=True)
    (root / "B").symlink_to(b, target_is_directory=True)
    assert paths(site) == sorted([*ANALYTIX, "A/A.qvw", "B/B.qvw"])


def test_a_folder_reached_by_a_link_and_by_its_own_path_is_listed_under_its_own_path(site, root):
    (root / "Deep" / "Er").mkdir(parents=True)
    (root / "Deep" / "Er" / "Plan.qvw").write_bytes(b"QVW")
    (root / "AAA").symlink_to(root / "Deep" / "Er", target_is_directory=True)
    assert paths(site) == sorted([*ANALYTIX, "Deep/Er/Plan.qvw"])


def test_a_dangling_link_is_skipped(site, root, tmp_path):
    (root / "Broken").symlink_to(tmp_path / "nowhere", target_is_directory=True)
    (root / "Broken.qvw").symlink_to(tmp_path / "nowhere.qvw")
    assert paths(site) == sorted(ANALYTIX)


# -- mounted folders ------------------------------------------------------------------------------------


def test_a_mounted_folder_is_a_branch_of_the_tree(mounted):
    assert paths(mounted) == sorted([*ANALYTIX, "Archive/2019/Ledger.qvf", "Archive/Old Sales.qvw"])


def test_a_document_of_a_mounted_folder_can_be_opened_and_given_document_cals(mounted, key):
    apply_license(mounted, key, named=1, document=3, session=0, usage=0)
    mounted.update_cal_settings(allow_dynamic_assignment=False)
    mounted.set_document_allocation("Archive/Old Sales.qvw", 2)
    mounted.assign_document_cals("Archive/Old Sales.qvw", f"{ALICE};{BOB}")
    assert sorted(document_users(mounted, "Archive/Old Sales.qvw")) == [ALICE, BOB]
    decision = open_as(mounted, BOB, "archive/old sales")
    assert decision.granted and decision.cal_type == "document" and decision.document == "Archive/Old Sales.qvw"


def test_a_missing_mounted_folder_is_reported_and_the_others_are_served(mounted):
    problems = {p.path: p.reason for p in mounted.document_problems()}
    assert "does not exist" in problems["Gone/"] and "no-such-folder" in problems["Gone/"]
    assert "Archive/Old Sales.qvw" in paths(mounted)


def test_a_mounted_folder_that_goes_away_leaves_its_documents_missing_with_their_cals(mounted, key, archive):
    apply_license(mounted, key, named=1, document=2)
    mounted.set_document_allocation("Archive/Old Sales.qvw", 1)
    mounted.assign_document_cals("Archive/Old Sales.qvw", ALICE)
    archive.rename(archive.with_name("archive-moved"))
    docs = {d.path: d for d in mounted.list_documents()}
    assert docs["Archive/Old Sales.qvw"].missing_since is not None
    assert docs["Archive/Old Sales.qvw"].cals_assigned == 1
    assert any(p.path == "Archive/" for p in mounted.document_problems())


def test_a_mount_whose_name_an_entry_of_the_root_folder_has_is_reported_not_merged(database_url, clock, key, root,
                                                                                  archive):
    (root / "archive").mkdir()
    (root / "archive" / "Local.qvw").write_bytes(b"QVW")
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, mounted_folders={"Archive": archive})
    try:
        assert "archive/Local.qvw" in paths(site) and not any(p.startswith("Archive/") for p in paths(site))
        assert "would hide" in next(p.reason for p in site.document_problems() if p.path == "Archive/")
    finally:
        site.close()


def test_a_folder_mounted_twice_is_listed_once(database_url, clock, key, root, archive):
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, mounted_folders={"Archive": archive, "Again": archive})
    try:
        assert [p for p in paths(site) if p.endswith("Old Sales.qvw")] == ["Again/Old Sales.qvw"]
        assert "already listed" in next(p.reason for p in site.document_problems() if p.path == "Archive/")
    finally:
        site.close()


# -- names never leave the configured folders -------------------------------------------------------------


@pytest.mark.parametrize("name", ["../outside.qvw", "Archive/../../outside.qvw", "/tmp/outside.qvw",
                                  "Archive/../outside.qvw"])
def test_a_name_with_dot_dot_or_an_absolute_path_reaches_no_file(mounted, key, tmp_path, name):
    apply_license(mounted, key, named=1)
    (tmp_path / "outside.qvw").write_bytes(b"QVW")  # beside the root folder and the mounted one
    with pytest.raises(UnknownDocument):
        open_as(mounted, ALICE, name)
    with pytest.raises(UnknownDocument):
        mounted.document(name)
    assert not any("outside" in p for p in paths(mounted))


# -- the setting ------------------------------------------------------------------------------------------


def test_the_setting_reads_name_path_pairs(monkeypatch, tmp_path):
    monkeypatch.setenv("CALKEEPER_MOUNTED_FOLDERS", f"Archive={tmp_path / 'a'}; EU = {tmp_path / 'eu'} ;")
    settings = load_settings(data_dir=tmp_path)
    assert settings.mounted_folders == {"Archive": tmp_path / "a", "EU": tmp_path / "eu"}


@pytest.mark.parametrize(("value", "problem"), [
    ("Archive", "NAME=PATH"),
    ("../x=/srv/x", "one folder name"),
    ("A/B=/srv/x", "one folder name"),
    ("Archive=relative/path", "absolute path"),
    ("Archive=/srv/a;ARCHIVE=/srv/b", "two mounted folders"),
    ("Ar\u202echive=/srv/a", "U+202E"),
])
def test_a_bad_mounted_folder_setting_stops_the_start_saying_why(monkeypatch, tmp_path, value, problem):
    monkeypatch.setenv("CALKEEPER_MOUNTED_FOLDERS", value)
    with pytest.raises(InvalidInput, match="mounted_folders") as caught:
        load_settings(data_dir=tmp_path)
    assert problem in caught.value.message
