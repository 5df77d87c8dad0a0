"""The one table of error codes: every code raised in the source is in it, and the three edges (HTTP
status, CLI exit code, the client's exception class) answer exactly what it says."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
from pathlib import Path

import httpx
import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient

import calkeeper
from calkeeper.cli.output import reporting
from calkeeper.client.errors import error_from_response
from calkeeper.core import error_codes
from calkeeper.core import errors as e
from calkeeper.core.error_codes import (
    BY_CODE,
    EXIT_REFUSED,
    EXIT_USAGE,
    FALLBACK_BY_STATUS,
    HTTP_STATUS_MEANING,
    TABLE,
    ErrorCode,
    class_for,
    exit_code_of,
    status_of,
)
from calkeeper.infra import http_errors
from calkeeper.infra.http_errors import ApiError

SOURCE = Path(calkeeper.__file__).parent
# Codes raised with another class than their row's: answered by their class's own row (see the
# table's docstring). A new one should be a decision, not an accident.
RAISED_WITH_ANOTHER_CLASS = {
    ("NotFound", "serial_not_found"),  # the authority: 404, where the CAL server's LicenseRejected is 422
    ("InvalidInput", "invalid_serial"),  # the authority's own check of a serial it is given
    ("CalkeeperError", "invalid_key"),  # a pinned .pub file that is not an Ed25519 key
    ("LicenseRejected", "invalid_input"),  # a license applied without owner or organization
    ("NotFound", "no_license"),  # GET /api/v1/license with no license in force: 404
}


def _source_files() -> list[Path]:
    return [p for p in sorted(SOURCE.rglob("*.py")) if "migrations" not in p.parts]


def _raised_codes() -> set[tuple[str, str, str]]:
    """(class or function called, code, where) for every code literal in the source: a class's ``code``,
    ``code="..."`` given to a constructor, and the codes the HTTP edge writes itself."""
    found = set()
    for path in _source_files():
        where = str(path.relative_to(SOURCE))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                for statement in node.body:
                    if (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)
                            and [getattr(t, "id", None) for t in statement.targets] == ["code"]):
                        found.add((node.name, statement.value.value, where))
            elif isinstance(node, ast.Call):
                called = getattr(node.func, "id", None) or getattr(node.func, "attr", None) or ""
                for keyword in node.keywords:
                    if keyword.arg == "code" and isinstance(keyword.value, ast.Constant):
                        found.add((called, keyword.value.value, where))
                if called in {"ApiError", "body"} and node.args and isinstance(node.args[0], ast.Constant):
                    found.add((called, node.args[0].value, where))
    return found


def _calkeeper_error_classes() -> dict[str, type[e.CalkeeperError]]:
    for module in pkgutil.walk_packages(calkeeper.__path__, "calkeeper."):
        if ".migrations" not in module.name and not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    classes, todo = {}, [e.CalkeeperError]
    while todo:
        kind = todo.pop()
        if kind.__module__.startswith("calkeeper."):
            classes[kind.__name__] = kind
        todo.extend(kind.__subclasses__())
    return classes


def _error(row: ErrorCode) -> e.CalkeeperError:
    return row.kind(f"a {row.code} error", code=row.code, details={"code": row.code})


# -- the table holds every code -------------------------------------------------------------------


def test_every_code_literal_in_the_source_is_in_the_table() -> None:
    raised = _raised_codes()
    assert {code for _, code, _ in raised} >= {"unauthorized", "serial_not_found", "no_signing_key"}
    missing = sorted((code, called, where) for called, code, where in raised if code not in BY_CODE)
    assert missing == []


def test_every_error_class_has_a_row_for_its_own_code() -> None:
    classes = _calkeeper_error_classes()
    assert {"ApiAuthError", "ServerUnavailable", "SignInRefused"} <= set(classes)
    rows = {name: BY_CODE[kind.code].kind if kind.code in BY_CODE else None for name, kind in classes.items()}
    assert rows == classes


def test_codes_raised_with_another_class_than_their_rows_are_the_known_few() -> None:
    classes = _calkeeper_error_classes()
    other = {(called, code) for called, code, _ in _raised_codes()
             if called in classes and code in BY_CODE and not issubclass(classes[called], BY_CODE[code].kind)}
    assert other == RAISED_WITH_ANOTHER_CLASS


def test_each_code_has_one_row_and_the_http_edges_own_codes_are_rows() -> None:
    assert len(BY_CODE) == len(TABLE)
    assert set(http_errors.HTTP_EXCEPTION_CODES.values()) <= set(BY_CODE)


def test_the_table_is_drawn_as_it_is_in_its_modules_docstring() -> None:
    drawn, kind, status, exit_code = set(), "", 0, 0
    lines = (error_codes.__doc__ or "").split("\n\n")[1].splitlines()[1:]
    for line in lines:
        found = re.fullmatch(r"(?P<kind>[A-Z]\w+)?\s*(?:(?P<status>\d{3})\s+(?P<exit>\d)\s+)?(?P<codes>.*)",
                             line.strip(" │├└─"))
        assert found is not None, line
        kind = found["kind"] or kind
        if found["status"]:
            status, exit_code = int(found["status"]), int(found["exit"])
        for code in re.findall(r"[a-z_]+", re.sub(r"\(.*?\)", "", found["codes"])):
            drawn.add((code, kind, status, exit_code))
    assert drawn == {(r.code, r.kind.__name__, r.status, r.exit_code) for r in TABLE}


# -- the table is consistent with itself ----------------------------------------------------------


def test_bad_input_and_unknown_names_exit_2_everything_else_exits_1() -> None:
    for row in TABLE:
        usage = issubclass(row.kind, e.InvalidInput | e.NotFound)
        assert row.exit_code == (EXIT_USAGE if usage else EXIT_REFUSED), row


def test_the_codes_of_a_class_share_its_status_but_the_http_edges_own() -> None:
    own = {row.kind: row.status for row in TABLE if row.code == row.kind.code}
    differ = {row.code for row in TABLE if row.status != own[row.kind]}
    assert differ == {"method_not_allowed", "internal_error", "forbidden", "too_many_requests", "backup_too_large",
                      "too_many_sign_ins", "too_many_lease_requests", "directory_sign_in_unavailable",
                     "body_too_large", "headers_too_large", "untrusted_host"}


def test_a_code_the_table_does_not_know_is_rebuilt_from_a_status_the_table_gives_that_class() -> None:
    for status, kind in FALLBACK_BY_STATUS.items():
        assert any(row.kind is kind and row.status == status for row in TABLE), (status, kind)
    assert class_for("from_a_newer_server", 409) is e.Refused
    assert class_for("from_a_newer_server", 418) is e.CalkeeperError


def test_every_status_in_the_table_is_described_for_the_api_documentation() -> None:
    assert {row.status for row in TABLE} <= set(HTTP_STATUS_MEANING)


# -- the three edges answer what the table says -----------------------------------------------------


def _app_raising(error: Exception) -> TestClient:
    app = FastAPI()
    http_errors.install(app)

    @app.get("/fail")
    def fail() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.code)
def test_the_api_answers_each_code_with_its_status(row: ErrorCode) -> None:
    answer = _app_raising(_error(row)).get("/fail")
    assert (answer.status_code, answer.json()["error"]["code"]) == (row.status, row.code)
    assert status_of(_error(row)) == row.status


@pytest.mark.parametrize("code", ["unauthorized", "forbidden", "too_many_requests"])
def test_the_http_edges_own_errors_take_their_status_from_the_table(code: str) -> None:
    answer = _app_raising(ApiError(code, "no")).get("/fail")
    assert (answer.status_code, answer.json()["error"]["code"]) == (BY_CODE[code].status, code)


def test_an_error_raised_with_another_class_than_its_codes_row_is_answered_by_its_class() -> None:
    authority_miss = e.NotFound("no such site", code="serial_not_found")
    site_miss = e.LicenseRejected("no such site", code="serial_not_found")
    assert (status_of(authority_miss), exit_code_of(authority_miss)) == (404, EXIT_USAGE)
    assert (status_of(site_miss), exit_code_of(site_miss)) == (422, EXIT_REFUSED)
    no_owner = e.LicenseRejected("the owner name is required", code="invalid_input")
    assert (status_of(no_owner), exit_code_of(no_owner)) == (422, EXIT_REFUSED)


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.code)
def test_the_client_rebuilds_the_class_of_each_code(row: ErrorCode) -> None:
    answer = httpx.Response(row.status, json=http_errors.body(row.code, "said the server", {"n": 1}),
                            request=httpx.Request("GET", "http://cal.example/api/v1/x"))
    rebuilt = error_from_response(answer)
    assert type(rebuilt) is row.kind
    assert (rebuilt.code, rebuilt.message, rebuilt.details) == (row.code, "said the server", {"n": 1})


@pytest.mark.parametrize("row", TABLE, ids=lambda row: row.code)
def test_the_cli_exits_with_the_exit_code_of_each_code(row: ErrorCode) -> None:
    with pytest.raises(typer.Exit) as ended, reporting(as_json=True):
        raise _error(row)
    assert ended.value.exit_code == row.exit_code == exit_code_of(_error(row))
