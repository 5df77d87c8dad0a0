"""Which files of the root folder are served as documents, and why the others cannot be (domain.md 8)."""

from __future__ import annotations

import pytest

from calkeeper.core.documents import (
    DOCUMENT_PATH_MAX,
    DocumentInfo,
    DocumentProblem,
    document_key,
    looks_like_document_file,
    match_document,
    serving_problem,
    shown_path,
    sort_out_documents,
)
from calkeeper.core.errors import UnknownDocument

SERVABLE = ["SalesFlash.qvw", "Finance/2026/Ledger.qvf", "Ünïcödé Analytix.qvw", "q?#%&+.qvw", "a b/c d.qvw"]


@pytest.mark.parametrize("path", SERVABLE)
def test_an_ordinary_document_path_can_be_served(path: str) -> None:
    assert serving_problem(path) is None


@pytest.mark.parametrize(("path", "reason"), [
    (" Budget.qvw", "begins or ends with a blank"),
    ("Budget.qvw ", "begins or ends with a blank"),
    ("Finance /Budget.qvw", "begins or ends with a blank"),
    ("Finance/\tBudget.qvw", "control character"),
    ("a\\b.qvw", "backslash"),
    ("Bud\x00get.qvw", "control character"),
    ("Bud\x7fget.qvw", "control character"),
    ("Bud\u2028get.qvw", "line break"),
    ("Bud\udcffget.qvw", "not valid UTF-8"),
    ("f/" * 500 + "x.qvw", f"at most {DOCUMENT_PATH_MAX} are allowed"),
])
def test_a_path_that_cannot_be_served_says_why(path: str, reason: str) -> None:
    problem = serving_problem(path)
    assert problem is not None and reason in problem


def test_a_path_that_fits_only_before_nfc_is_too_long() -> None:
    path = "\u0958" * (DOCUMENT_PATH_MAX - 4) + ".qvw"  # 1000 characters, 1996 in NFC (U+0958 becomes two)
    assert len(path) == DOCUMENT_PATH_MAX
    assert len(document_key(path)) > DOCUMENT_PATH_MAX
    assert "1996 characters" in (serving_problem(path) or "")


def test_a_key_keeps_a_sharp_s_so_a_long_path_of_them_fits() -> None:
    path = "ß" * (DOCUMENT_PATH_MAX - 4) + ".qvw"  # 1996 characters once case-folded, 1000 as its key
    assert len(document_key(path)) == DOCUMENT_PATH_MAX
    assert serving_problem(path) is None


def test_the_longest_path_that_fits_is_served() -> None:
    path = "x" * (DOCUMENT_PATH_MAX - 4) + ".qvw"
    assert sort_out_documents([path]).served == [path]


def test_undecodable_bytes_and_control_characters_are_shown_escaped() -> None:
    assert shown_path("Bud\udcffget\x01\u2028.qvw") == "Bud\\xffget\\x01\\u2028.qvw"
    assert shown_path("Ünïcödé.qvw") == "Ünïcödé.qvw"


def test_a_file_name_with_blanks_around_it_still_looks_like_a_document_so_it_is_reported() -> None:
    assert looks_like_document_file("Budget.qvw ")
    assert not looks_like_document_file(".hidden.qvw")
    assert not looks_like_document_file("notes.txt")


def test_the_files_that_cannot_be_served_are_set_aside_and_the_others_served() -> None:
    contents = sort_out_documents([*SERVABLE, " Budget.qvw", "a\\b.qvw"])
    assert contents.served == sorted(SERVABLE)
    assert [p.path for p in contents.problems] == [" Budget.qvw", "a\\b.qvw"]


def test_of_two_files_differing_only_in_case_the_first_in_path_order_is_served() -> None:
    contents = sort_out_documents(["budget.QVW", "Budget.qvw", "BUDGET.qvw"])
    assert contents.served == ["BUDGET.qvw"]
    assert contents.problems == [
        DocumentProblem("Budget.qvw", "it differs only in case or Unicode form from BUDGET.qvw, which is served; "
                                      "rename or remove one of them"),
        DocumentProblem("budget.QVW", "it differs only in case or Unicode form from BUDGET.qvw, which is served; "
                                      "rename or remove one of them"),
    ]


def test_of_two_files_differing_only_in_case_the_one_the_site_knows_stays_served() -> None:
    contents = sort_out_documents(["budget.QVW", "Budget.qvw"], known=["budget.QVW"])
    assert contents.served == ["budget.QVW"]
    assert [p.path for p in contents.problems] == ["Budget.qvw"]


def test_files_named_as_windows_tells_apart_are_two_documents() -> None:
    contents = sort_out_documents(["Straße.qvw", "STRASSE.qvw"])
    assert contents.served == ["STRASSE.qvw", "Straße.qvw"]
    assert contents.problems == []


def test_files_whose_names_differ_only_in_unicode_form_count_as_differing_only_in_case() -> None:
    contents = sort_out_documents(["Caf\u00e9.qvw", "Cafe\u0301.qvw"])
    assert contents.served == ["Cafe\u0301.qvw"]
    assert [p.path for p in contents.problems] == ["Caf\u00e9.qvw"]
    assert "differs only in case or Unicode form" in contents.problems[0].reason


# -- how a name finds a document ------------------------------------------------------------------------

SERVED = [DocumentInfo(1, "Finance/Budget.qvw", False, 0, False),
          DocumentInfo(2, "Archive/Stra\u00dfe.qvf", False, 0, False)]


@pytest.mark.parametrize("name", ["Finance/Budget.qvw", "finance\\BUDGET.QVW", "Finance/Budget", "budget",
                                  "Budget.qvw", " BUDGET.qvw "])
def test_a_document_is_found_by_its_path_without_its_extension_or_by_its_file_name(name: str) -> None:
    assert match_document(SERVED, name).id == 1


@pytest.mark.parametrize("name", ["stra\u00dfe", "STRA\u00dfE.QVF", "archive/Stra\u00dfe"])
def test_a_document_is_found_by_its_name_as_windows_compares_it(name: str) -> None:
    assert match_document(SERVED, name).id == 2


def test_a_name_windows_tells_apart_finds_no_document() -> None:
    with pytest.raises(UnknownDocument):
        match_document(SERVED, "STRASSE")
