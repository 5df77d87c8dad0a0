"""The REST API's maintenance endpoints: backup and restore, releasing a missing document, lists of
users removed and restored at once, API tokens and console users; all for the admin role only."""

from __future__ import annotations

import json

import pytest

from calkeeper.api import routes_backups
from tests.e2e.api_site import Api, error_of

CONTRACT = "/api/v1/documents/Contract%20Analytix.qvw"


def named_users(api: Api) -> set[str]:
    return {c["user"] for c in api.ok("GET", "/api/v1/cals/named")["items"]}


def test_a_backup_downloaded_and_restored_brings_the_cals_back_and_leaves_no_file_on_the_server(api: Api) -> None:
    response = api.get("/api/v1/backup")
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    assert 'filename="calkeeper-backup-' in response.headers["content-disposition"]
    backup = response.content
    tables = json.loads(backup)["tables"]
    assert json.loads(response.headers["calkeeper-backup-rows"]) == {t: len(rows) for t, rows in tables.items()}
    assert next(iter(json.loads(response.headers["calkeeper-backup-rows"]))) == "site_state"  # the site's order
    api.ok("POST", "/api/v1/cals/named", json={"users": "ACME\\newcomer"})
    counts = api.ok("POST", "/api/v1/restore", content=backup)
    assert counts["named_cals"] == 2 and named_users(api) == {"ACME\\alice", "ACME\\bob"}
    assert [e["action"] for e in api.ok("GET", "/api/v1/audit?limit=2")] == ["data.restored", "named_cal.assigned"]
    assert [p.name for p in api.settings.backups_dir.iterdir()] == []


def test_a_damaged_or_oversized_backup_is_refused_in_the_one_error_shape_and_changes_nothing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    damaged = api.post("/api/v1/restore", content=b'{"format": "calkeeper-backup", "version": 1, "tables": {}}')
    assert "the uploaded backup is incomplete" in error_of(damaged, 422, "backup_invalid")["message"]
    error_of(api.post("/api/v1/restore", content=b"not json"), 422, "backup_invalid")
    backup = api.get("/api/v1/backup").content
    monkeypatch.setattr(routes_backups, "RESTORE_LIMIT", len(backup) - 1)
    api.ok("POST", "/api/v1/cals/named", json={"users": "ACME\\newcomer"})
    error_of(api.post("/api/v1/restore", content=backup), 413, "backup_too_large")
    error_of(api.post("/api/v1/restore", content=iter([backup[:100], backup[100:]])), 413, "backup_too_large")
    assert "ACME\\newcomer" in named_users(api)
    assert [p.name for p in api.settings.backups_dir.iterdir()] == []


def test_an_edited_backup_is_refused_with_422_backup_invalid_and_changes_nothing(api: Api) -> None:
    backup = json.loads(api.get("/api/v1/backup").content)
    backup["tables"]["licenses"][-1]["named_cals"] = 100000
    api.ok("POST", "/api/v1/cals/named", json={"users": "ACME\\newcomer"})
    refused = error_of(api.post("/api/v1/restore", content=json.dumps(backup).encode()), 422, "backup_invalid")
    assert refused["message"].startswith("the uploaded backup was changed or damaged since it was written")
    assert "ACME\\newcomer" in named_users(api) and api.ok("GET", "/api/v1/license")["cals"]["named"] == 5
    assert [p.name for p in api.settings.backups_dir.iterdir()] == []


def test_only_an_admin_may_back_up_restore_or_see_tokens_and_console_users(api: Api) -> None:
    for method, path in (("GET", "/api/v1/backup"), ("POST", "/api/v1/restore"), ("GET", "/api/v1/tokens"),
                         ("POST", "/api/v1/tokens"), ("DELETE", "/api/v1/tokens/admin-token"),
                         ("GET", "/api/v1/console-users"), ("POST", "/api/v1/console-users"),
                         ("POST", f"{CONTRACT}/release"), ("POST", "/api/v1/cals/named/remove")):
        for role in ("viewer", "gate"):
            error_of(api.call(method, path, role=role, content=b"{}"), 403, "forbidden")


def test_a_missing_document_is_released_and_one_still_in_the_folder_is_not(api: Api) -> None:
    api.ok("PATCH", CONTRACT, json={"cals_allocated": 2})
    api.ok("POST", f"{CONTRACT}/cals", json={"users": "ACME\\x1"})
    error_of(api.post(f"{CONTRACT}/release"), 422, "invalid_input")
    (api.settings.documents / "Contract Analytix.qvw").unlink()
    api.ok("GET", "/api/v1/documents")  # the site looks at the root folder again
    assert api.ok("POST", f"{CONTRACT}/release") == {"document": "Contract Analytix.qvw", "cals_released": 1}
    error_of(api.post(f"{CONTRACT}/release"), 404, "unknown_document")


def test_a_list_of_users_is_removed_and_restored_all_or_nothing(api: Api) -> None:
    api.ok("POST", "/api/v1/access", json={"user": "ACME\\alice", "document": "SalesFlash.qvw"})
    error_of(api.post("/api/v1/cals/named/remove", json={"users": "ACME\\alice;ACME\\nobody"}), 404, "unknown_user")
    assert named_users(api) == {"ACME\\alice", "ACME\\bob"}
    removed = api.ok("POST", "/api/v1/cals/named/remove", json={"users": ["ACME\\alice", "ACME\\bob"]})
    assert [(r["user"], r["outcome"]) for r in removed] == [("ACME\\alice", "quarantined"), ("ACME\\bob", "freed")]
    error_of(api.post("/api/v1/cals/named/restore", json={"users": "ACME\\alice;ACME\\bob"}), 409, "not_quarantined")
    assert api.ok("POST", "/api/v1/cals/named/restore", json={"users": "ACME\\alice"}) == [
        {"user": "ACME\\alice", "outcome": "restored"}]
    sales = "/api/v1/documents/SalesFlash.qvw/cals"
    removed = api.ok("POST", f"{sales}/remove", json={"users": "ACME\\rep1;ACME\\rep2"})
    assert {r["document"] for r in removed} == {"SalesFlash.qvw"}
    assert [(r["user"], r["outcome"]) for r in removed] == [("ACME\\rep1", "freed"), ("ACME\\rep2", "freed")]
    error_of(api.post(f"{sales}/restore", json={"users": "ACME\\rep1"}), 409, "not_quarantined")
    assert api.ok("GET", sales) == []


def test_an_admin_makes_lists_and_revokes_tokens_and_console_users(api: Api) -> None:
    made = api.ok("POST", "/api/v1/tokens", json={"name": "reports", "role": "viewer"})
    assert made["token"]["name"] == "reports" and made["token"]["created_by"] == "token:admin-token"
    assert made["secret"].startswith("ck_")
    reader = {"Authorization": f"Bearer {made['secret']}"}
    assert api.client.get("/api/v1/cals", headers=reader).status_code == 200
    assert "reports" in {t["name"] for t in api.ok("GET", "/api/v1/tokens")}
    assert all("secret" not in t and "token_hash" not in t for t in api.ok("GET", "/api/v1/tokens"))
    kept = api.post("/api/v1/tokens", json={"name": "again", "role": "viewer"}, headers={"Idempotency-Key": "k1"})
    assert "shown once" in error_of(kept, 422, "invalid_input")["message"]
    error_of(api.post("/api/v1/tokens", json={"name": "x", "role": "owner"}), 422, "invalid_input")
    [revoked] = api.ok("DELETE", "/api/v1/tokens/reports")
    assert revoked["revoked_at"] is not None
    error_of(api.call("DELETE", "/api/v1/tokens/reports"), 404, "unknown_token")
    user = api.ok("POST", "/api/v1/console-users", json={"username": "carla", "password": "correct horse battery",
                                                          "role": "viewer"})
    assert (user["username"], user["role"], user["disabled"]) == ("carla", "viewer", False)
    error_of(api.post("/api/v1/console-users", json={"username": "carla", "password": "correct horse battery"}),
             422, "invalid_input")
    error_of(api.post("/api/v1/console-users", json={"username": "dora", "password": "short"}), 422, "invalid_input")
    api.ok("POST", "/api/v1/console-users", json={"username": "carla", "password": "another long secret",
                                                  "role": "admin", "replace": True})
    assert {(u["username"], u["role"]) for u in api.ok("GET", "/api/v1/console-users")} >= {("carla", "admin")}
    assert all("password" not in u and "password_hash" not in u for u in api.ok("GET", "/api/v1/console-users"))
