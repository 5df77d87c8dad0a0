"""Which document paths the root folder's scan can give: the rule a restored document must pass."""

from __future__ import annotations

import pytest

from calkeeper.core.documents import document_path_problem


@pytest.mark.parametrize("path", ["SalesFlash.qvw", "Finance/AR Analytix.qvw", "a/b/c/Report 2026 (draft).QVF",
                                  "Ventes/Année été.qvw", ".hidden folder/x.qvw"])
def test_a_path_the_scan_gives_passes(path: str) -> None:
    assert document_path_problem(path) is None


@pytest.mark.parametrize(("path", "problem"), [
    ("", "empty"),
    ("/etc/passwd.qvw", "absolute"),
    ("C:/Documents/x.qvw", "absolute"),
    ("../../../etc/passwd", "'..' folder"),
    ("Finance/../x.qvw", "'..' folder"),
    ("./x.qvw", "'.' or '..' folder"),
    ("Finance//x.qvw", "empty"),
    ("Finance\\x.qvw", "'\\'"),
    ("x\n.qvw", "control characters"),
    ("notes.txt", "document file"),
    ("Finance/.x.qvw", "document file"),
    ("Finance/", "empty"),
])
def test_a_path_the_scan_never_gives_is_named_with_its_problem(path: str, problem: str) -> None:
    found = document_path_problem(path)
    assert found is not None and problem in found
