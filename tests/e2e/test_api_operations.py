"""Operations over HTTP: sessions in use and ending one, reports as JSON and CSV, streamed exports, reclaim,
alerts; and the same through the remote site the CLI uses."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from calkeeper.client import CalkeeperClient
from calkeeper.core.errors import InvalidInput
from tests.e2e.api_site import Api

ALICE = "ACME\\alice"


def test_an_admin_sees_sessions_in_use_and_ends_one_which_its_heartbeat_then_learns(api: Api) -> None:
    grant = api.ok("POST", "/api/v1/access", json={"user": "ACME\\rep1", "document": "SalesFlash.qvw",
                                                    "machine": "PC-17"})
    listed = api.ok("GET", "/api/v1/sessions", params={"search": "rep1"}, role="viewer")
    assert [s["id"] for s in listed] == [grant["session_id"]] and listed[0]["machine"] == "PC-17"
    assert api.call("DELETE", f"/api/v1/sessions/{grant['session_id']}", role="viewer").status_code == 403
    ended = api.ok("DELETE", f"/api/v1/sessions/{grant['session_id']}")
    assert "heartbeat" in ended["outcome"]
    touch = api.ok("POST", f"/api/v1/sessions/{grant['session_id']}/touch")
    assert touch["active"] is False and "ended by an administrator" in touch["reason"]
    assert api.ok("GET", "/api/v1/sessions") == []


def test_reports_answer_json_or_csv(api: Api) -> None:
    api.ok("POST", "/api/v1/access", json={"user": "ACME\\rep1", "document": "SalesFlash.qvw", "machine": "PC-1"})
    report = api.ok("GET", "/api/v1/reports/usage", params={"by": "user"})
    assert report["columns"][:2] == ["user", "grants"] and report["rows"][0][:2] == ["ACME\\rep1", 1]
    answer = api.get("/api/v1/reports/denials", params={"by": "day", "format": "csv"}, role="viewer")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    assert answer.text.splitlines()[0] == "day,denials" and len(answer.text.splitlines()) == 31
    assert api.get("/api/v1/reports/usage", params={"by": "reason"}).status_code == 422
    assert api.get("/api/v1/reports/nothing").status_code == 422


def test_every_list_streams_as_csv(api: Api) -> None:
    for name in ("named-cals", "document-cals", "users", "sessions", "denials", "audit"):
        answer = api.get(f"/api/v1/exports/{name}.csv", role="viewer")
        assert answer.status_code == 200, name
        rows = list(csv.reader(io.StringIO(answer.text)))
        assert rows[0], name
    assert api.get("/api/v1/exports/nothing.csv").status_code == 422


def test_reclaim_and_alerts_over_http(api: Api) -> None:
    dry = api.ok("POST", "/api/v1/reclaim", json={"inactive_days": 1, "dry_run": True})
    assert dry["dry_run"] is True
    assert api.post("/api/v1/reclaim", json={"inactive_days": 0}).status_code == 422
    view = api.ok("GET", "/api/v1/alerts", role="viewer")
    assert set(view) == {"alerts", "deliveries"}
    assert api.post("/api/v1/alerts/test").status_code == 422  # no channel configured


def test_cal_assignments_export_as_csv_or_json_and_import_all_or_nothing(api: Api, tmp_path: Path) -> None:
    api.ok("POST", "/api/v1/cals/named", json={"users": "ACME\\mover"})
    answer = api.get("/api/v1/cals/export", role="viewer")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert int(answer.headers["Calkeeper-Cal-Rows"]) == len(rows) and "ACME\\mover" in {r["user"] for r in rows}
    as_json = api.get("/api/v1/cals/export", params={"format": "json"}, role="viewer").json()
    assert as_json["format"] == "calkeeper-cals" and len(as_json["cals"]) == len(rows)
    misspelt = api.get("/api/v1/cals/export", params={"fromat": "json"}, role="viewer")
    assert misspelt.status_code == 422 and "fromat" in misspelt.text  # an unknown parameter is refused, not ignored
    refused = api.post("/api/v1/cals/import", content=answer.content, headers={"Content-Type": "text/csv"})
    assert refused.status_code in (400, 422) and "already holds a Named CAL" in refused.json()["error"]["message"]
    assert api.post("/api/v1/cals/import", content=b"type,user\nnamed,ACME\\newcomer\n",
                    role="viewer").status_code == 403
    added = api.ok("POST", "/api/v1/cals/import", content=b"type,user\nnamed,ACME\\newcomer\n")
    assert (added["named"], added["document"]) == (1, 0)
    file = tmp_path / "cals.json"
    with CalkeeperClient(str(api.client.base_url), api.secrets["admin"], transport=api.client._transport) as client:
        assert client.export_cals(file, format="json") == len(rows) + 1
        (tmp_path / "bad.csv").write_text("type,user\nnamed,nobody\n", encoding="utf-8")
        with pytest.raises(InvalidInput, match="nothing was imported"):
            client.import_cals(tmp_path / "bad.csv")
    assert json.loads(file.read_text(encoding="utf-8"))["format"] == "calkeeper-cals"
