"""The REST API as an app server and an admin use it: every endpoint, its errors, retries, health, OpenAPI.

Roles, tokens and the brake on bad tokens are in ``test_api_auth.py``.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote

import pytest

from calkeeper.core.serials import control_number
from tests.e2e.api_site import Api, error_of, running_api

DOC = "/api/v1/documents/SalesFlash.qvw"


def named_cal(user: str) -> str:
    return f"/api/v1/cals/named/{quote(user, safe='')}"


def document_cal(user: str) -> str:
    return f"{DOC}/cals/{quote(user, safe='')}"


def named_users(api: Api) -> set[str]:
    return {c["user"] for c in api.ok("GET", "/api/v1/cals/named")["items"]}


def open_doc(api: Api, document: str, user: str | None = None, **more: str) -> dict[str, object]:
    answer: dict[str, object] = api.ok("POST", "/api/v1/access", json={"user": user, "document": document, **more})
    return answer


def metric(text: str, name: str, label: str) -> float:
    found = re.search(rf'^{name}\{{cal_type="{label}"\}} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


# --- every endpoint, its happy path ---------------------------------------------------------------

def test_the_access_gate_grants_the_named_cal_a_user_holds_and_says_so(api: Api) -> None:
    answer = open_doc(api, "SalesFlash.qvw", "ACME\\alice", machine="PC-1")
    assert (answer["granted"], answer["cal_type"], answer["user"]) == (True, "named", "ACME\\alice")
    assert answer["session_id"] and answer["code"] is None


def test_an_anonymous_client_gets_a_session_cal_and_the_app_server_ends_the_session(api: Api) -> None:
    assert api.ok("PATCH", "/api/v1/cals/settings", json={"allow_dynamic_assignment": False}) == {
        "allow_dynamic_assignment": False, "allow_license_lease": True, "identification_mode": "user",
        "lease_allowed_by_license": True, "maintenance": False, "other_kind_named_cals": 0}
    answer = open_doc(api, "Contract Analytix.qvw", machine="KIOSK-1")
    assert (answer["cal_type"], answer["user"]) == ("session", None)
    ended = api.ok("POST", f"/api/v1/sessions/{answer['session_id']}/end")
    assert ended["session_id"] == answer["session_id"] and ended["released_at"]
    error_of(api.post("/api/v1/sessions/S-nope/end"), 404, "unknown_session")


def test_the_license_in_force_its_history_and_reapplying_it(api: Api) -> None:
    before = api.ok("GET", "/api/v1/license")
    assert (before["serial"], before["status"], before["cals"]["named"]) == (api.demo.serial, "valid", 5)
    again = api.ok("PUT", "/api/v1/license", json={
        "serial": api.demo.serial, "control": api.demo.control, "owner": "Analytix Demo Site",
        "organization": "ACME Corporation", "lef": api.demo.lef_file.read_text()})
    assert again["applied_by"] == "token:admin-token"
    history = api.ok("GET", "/api/v1/license/history")
    assert len(history) == 2 and history[0]["applied_by"] == "token:admin-token"


def test_an_admin_assigns_lists_pages_and_looks_up_named_cals(api: Api) -> None:
    assert api.ok("POST", "/api/v1/cals/named", json={"users": "ACME\\dan; ACME\\dan;;ACME\\erin"}) == [
        {"user": "ACME\\dan", "outcome": "assigned"}, {"user": "ACME\\erin", "outcome": "assigned"}]
    assert api.ok("POST", "/api/v1/cals/named", json={"users": ["acme\\DAN"]})[0]["outcome"] == "already assigned"
    assert api.pool("named")["assigned"] == 4
    first = api.ok("GET", "/api/v1/cals/named", params={"limit": 3})
    rest = api.ok("GET", "/api/v1/cals/named", params={"limit": 3, "after": first["next_after"]})
    assert first["total"] == 4 and len(first["items"]) + len(rest["items"]) == 4
    assert [c["user"] for c in api.ok("GET", "/api/v1/cals/named", params={"search": "erin"})["items"]] == [
        "ACME\\erin"]
    held = api.ok("GET", "/api/v1/users/" + quote("ACME\\dan", safe="") + "/cals")
    assert held["named_cal"]["user"] == "ACME\\dan" and held["document_cals"] == []


def test_removing_a_recently_used_named_cal_quarantines_it_and_restore_gives_it_back(api: Api) -> None:
    open_doc(api, "SalesFlash.qvw", "ACME\\alice")
    removed = api.ok("DELETE", named_cal("ACME\\alice"))
    assert removed["outcome"] == "quarantined" and removed["quarantined_until"]
    assert api.pool("named")["quarantined"] == 1
    assert api.ok("POST", named_cal("ACME\\alice") + "/restore") == {
        "user": "ACME\\alice", "outcome": "restored"}
    assert api.pool("named")["quarantined"] == 0
    error_of(api.post(named_cal("ACME\\alice") + "/restore"), 409, "not_quarantined")
    never_used = api.ok("DELETE", named_cal("ACME\\bob"))
    assert (never_used["outcome"], never_used["quarantined_until"]) == ("freed", None)


def test_an_admin_allocates_assigns_removes_and_restores_document_cals(api: Api) -> None:
    names = {d["path"] for d in api.ok("GET", "/api/v1/documents")}
    assert "SalesFlash.qvw" in names and len(names) == 4
    assert api.ok("GET", DOC)["cals_allocated"] == 10
    patched = api.ok("PATCH", DOC, json={"cals_allocated": 12, "allow_dynamic_assignment": False})
    assert (patched["cals_allocated"], patched["allow_dynamic_assignment"]) == (12, False)
    assigned = api.ok("POST", f"{DOC}/cals", json={"users": ["ACME\\rep3"]})
    assert assigned == [{"user": "ACME\\rep3", "outcome": "assigned"}]
    assert {c["user"] for c in api.ok("GET", f"{DOC}/cals")} == {"ACME\\rep1", "ACME\\rep2", "ACME\\rep3"}
    assert open_doc(api, "SalesFlash.qvw", "ACME\\rep1")["cal_type"] == "document"
    removed = api.ok("DELETE", document_cal("ACME\\rep1"))
    assert (removed["outcome"], removed["document"]) == ("quarantined", "SalesFlash.qvw")
    assert api.ok("POST", document_cal("ACME\\rep1") + "/restore")["outcome"] == "restored"
    assert api.ok("GET", DOC)["cals_assigned"] == 3


def test_a_refused_open_is_answered_not_raised_and_shows_in_the_denials(api: Api) -> None:
    api.site.update_cal_settings(allow_dynamic_assignment=False)
    for n in range(5 + 28):  # every Session and Usage CAL of the demo license
        assert api.site.open_document(None, "Contract Analytix.qvw", machine=f"PC-{n}").granted
    answer = open_doc(api, "Contract Analytix.qvw", "ACME\\zed", machine="PC-99")
    assert (answer["granted"], answer["code"], answer["cal_type"]) == (False, "no_cal_available", None)
    assert "ACME\\zed" in str(answer["reason"])
    denials = api.ok("GET", "/api/v1/denials", params={"limit": 5})
    assert any("zed" in str(d) for d in denials)


def test_the_audit_trail_names_the_token_that_made_each_change(api: Api) -> None:
    api.ok("POST", "/api/v1/cals/named", json={"users": "ACME\\dan"})
    rows = api.ok("GET", "/api/v1/audit", params={"limit": 5, "target": "ACME\\dan"})
    assert [(r["actor"], r["target"]) for r in rows][:1] == [("token:admin-token", "ACME\\dan")]
    same_action = api.ok("GET", "/api/v1/audit", params={"action": rows[0]["action"]})
    assert same_action and {r["action"] for r in same_action} == {rows[0]["action"]}


def test_clearing_cal_data_needs_confirmation_writes_a_backup_and_keeps_the_license(api: Api) -> None:
    error_of(api.post("/api/v1/maintenance/clear-cal-data", json={"confirm": False}), 422, "invalid_input")
    assert named_users(api) == {"ACME\\alice", "ACME\\bob"}
    cleared = api.ok("POST", "/api/v1/maintenance/clear-cal-data", json={"confirm": True})
    assert Path(cleared["backup"]).is_file() and cleared["removed"]
    assert named_users(api) == set() and api.ok("GET", DOC)["cals_allocated"] == 0
    assert api.ok("GET", "/api/v1/license")["serial"] == api.demo.serial


def test_a_document_in_a_subfolder_is_managed_by_its_path(api: Api) -> None:
    (api.settings.documents / "Sales").mkdir()
    (api.settings.documents / "Sales" / "Report.qvw").write_bytes(b"QVW")
    assert "Sales/Report.qvw" in {d["path"] for d in api.ok("GET", "/api/v1/documents")}
    assert api.ok("GET", "/api/v1/documents/" + quote("Sales/Report.qvw", safe=""))["path"] == "Sales/Report.qvw"
    assert api.ok("GET", "/api/v1/documents/Sales/Report.qvw/cals") == []


# --- errors: one shape, the right status, nothing half done ----------------------------------------

def test_an_invalid_entry_in_a_user_list_is_named_and_nothing_is_assigned(api: Api) -> None:
    error = error_of(api.post("/api/v1/cals/named", json={"users": "ACME\\dan;not-a-user;ACME\\erin"}),
                     422, "invalid_user")
    assert [d["entry"] for d in error["details"]] == ["not-a-user"]
    assert named_users(api) == {"ACME\\alice", "ACME\\bob"}


def test_an_unknown_document_is_a_404_everywhere(api: Api) -> None:
    error_of(api.get("/api/v1/documents/Nope.qvw"), 404, "unknown_document")
    error_of(api.post("/api/v1/access", json={"user": "ACME\\alice", "document": "Nope.qvw"}), 404, "unknown_document")
    error_of(api.get("/api/v1/no-such-route"), 404, "not_found")


def test_a_wrong_control_number_is_refused_and_the_license_in_force_stays(api: Api) -> None:
    before = api.ok("GET", "/api/v1/license")
    wrong = f"{(int(api.demo.control) + 1) % 100000:05d}"
    error_of(api.call("PUT", "/api/v1/license", json={
        "serial": api.demo.serial, "control": wrong, "owner": "Someone Else", "organization": "Other Org",
        "lef": api.demo.lef_file.read_text()}), 422, "control_number_mismatch")
    assert api.ok("GET", "/api/v1/license") == before


def test_a_tampered_lef_is_refused_for_its_signature(api: Api) -> None:
    tampered = api.demo.lef_file.read_text().replace("NAMED_CALS;5;;", "NAMED_CALS;500;;")
    assert control_number(api.demo.serial) == api.demo.control
    error_of(api.call("PUT", "/api/v1/license", json={
        "serial": api.demo.serial, "control": api.demo.control, "owner": "Analytix Demo Site",
        "organization": "ACME Corporation", "lef": tampered}), 422, "lef_signature_invalid")
    assert api.pool("named")["in_license"] == 5


def test_a_negative_allocation_is_refused_and_one_below_the_assigned_count_too(api: Api) -> None:
    error_of(api.call("PATCH", DOC, json={"cals_allocated": -1}), 422, "invalid_input")
    error_of(api.call("PATCH", DOC, json={"cals_allocated": 1}), 409, "allocation_refused")
    assert api.ok("GET", DOC)["cals_allocated"] == 10


def test_assigning_more_named_cals_than_are_free_is_a_409_and_assigns_nobody(api: Api) -> None:
    error = error_of(api.post("/api/v1/cals/named", json={"users": [f"ACME\\new{n}" for n in range(4)]}),
                     409, "no_cal_available")
    assert error["details"] == {"needed": 4, "free": 3, "in_license": 5, "assigned": 2, "quarantined": 0}
    assert api.pool("named")["assigned"] == 2


@pytest.mark.parametrize("content", [b"{not json", b'{"document": "SalesFlash.qvw", "colour": "red"}', b"[]"])
def test_a_malformed_body_is_an_invalid_request(api: Api, content: bytes) -> None:
    response = api.post("/api/v1/access", content=content, headers={"Content-Type": "application/json"})
    assert error_of(response, 422, "invalid_request")["details"]


# --- Idempotency-Key -------------------------------------------------------------------------------

def test_a_retried_assignment_with_the_same_key_is_answered_again_not_run_again(api: Api) -> None:
    key = {"Idempotency-Key": "assign-dan-1"}
    first = api.post("/api/v1/cals/named", json={"users": "ACME\\dan"}, headers=key)
    again = api.post("/api/v1/cals/named", json={"users": "ACME\\dan"}, headers=key)
    assert first.status_code == again.status_code == 200 and "idempotent-replayed" not in first.headers
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == first.json() == [{"user": "ACME\\dan", "outcome": "assigned"}]
    assert api.pool("named")["assigned"] == 3


def test_a_retried_open_with_the_same_key_gets_the_same_session_and_no_second_cal(api: Api) -> None:
    api.site.update_cal_settings(allow_dynamic_assignment=False)
    grants = metric(api.get("/metrics").text, "calkeeper_grants_total", "session")
    body = {"document": "Contract Analytix.qvw", "machine": "KIOSK-7"}
    first = api.post("/api/v1/access", json=body, headers={"Idempotency-Key": "open-42"})
    again = api.post("/api/v1/access", json=body, headers={"Idempotency-Key": "open-42"})
    # run again, an open would get a new session id; replayed, it gets the first one
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert first.json()["cal_type"] == "session" and api.pool("session")["assigned"] == 1
    assert metric(api.get("/metrics").text, "calkeeper_grants_total", "session") == grants + 1


def test_the_same_key_with_another_body_is_a_conflict(api: Api) -> None:
    key = {"Idempotency-Key": "k-1"}
    api.ok("POST", "/api/v1/cals/named", json={"users": "ACME\\dan"}, headers=key)
    error_of(api.post("/api/v1/cals/named", json={"users": "ACME\\erin"}, headers=key), 409, "idempotency_conflict")
    assert "ACME\\erin" not in named_users(api)


# --- health, metrics, OpenAPI ----------------------------------------------------------------------

def test_liveness_and_readiness_need_no_token(api: Api) -> None:
    assert api.client.get("/healthz").json() == {"status": "ok"}
    assert api.client.get("/readyz").json() == {"status": "ready"}


def test_metrics_count_grants_and_show_the_pools(api: Api) -> None:
    before = metric(api.get("/metrics", role="viewer").text, "calkeeper_grants_total", "named")
    open_doc(api, "SalesFlash.qvw", "ACME\\alice")
    scraped = api.get("/metrics", role="viewer")
    assert scraped.headers["content-type"].startswith("text/plain")
    assert metric(scraped.text, "calkeeper_grants_total", "named") == before + 1
    for gauge in ("in_license", "assigned", "quarantined", "free", "excess"):
        assert f'calkeeper_pool_{gauge}{{cal_type="usage"}}' in scraped.text
    assert metric(scraped.text, "calkeeper_pool_in_license", "named") == 5
    assert "calkeeper_request_seconds_bucket" in scraped.text


def test_the_openapi_document_and_the_docs_page_are_served(api: Api) -> None:
    spec = api.get("/api/openapi.json", role="viewer").json()
    assert spec["info"]["title"] == "calkeeper" and "servers" not in spec
    some = {"/api/v1/access", "/api/v1/cals/named", "/api/v1/documents/{document}/cals", "/readyz", "/metrics"}
    assert some <= set(spec["paths"])
    docs = api.get("/api/docs", role="viewer")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/api/openapi.json" in docs.text


def test_behind_a_proxy_prefix_the_openapi_server_url_carries_the_prefix(tmp_path: Path, template: Path) -> None:
    with running_api(tmp_path, template=template, root_path="/calkeeper") as api:
        spec = api.get("/calkeeper/api/openapi.json").json()
        assert spec["servers"] == [{"url": "/calkeeper"}]
        assert "/calkeeper/api/openapi.json" in api.get("/calkeeper/api/docs").text
        assert api.get("/calkeeper/api/v1/license").json()["serial"] == api.demo.serial
