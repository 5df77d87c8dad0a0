"""Who may call what: Bearer tokens, the three roles, revocation, and the brake on bad tokens."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.e2e.api_site import Api, error_of

ACCESS = {"user": "ACME\\alice", "document": "SalesFlash.qvw"}
USERS = {"users": "ACME\\dan"}

WRITES: list[tuple[str, str, dict[str, Any] | None]] = [
    ("PUT", "/api/v1/license", {"serial": "4600123456789012", "control": "00000", "owner": "o", "organization": "o",
                                "lef": "x"}),
    ("PATCH", "/api/v1/cals/settings", {"allow_dynamic_assignment": False}),
    ("POST", "/api/v1/cals/named", USERS),
    ("DELETE", "/api/v1/cals/named/ACME%5Calice", None),
    ("POST", "/api/v1/cals/named/ACME%5Calice/restore", None),
    ("POST", "/api/v1/maintenance/clear-cal-data", {"confirm": True}),
    ("PATCH", "/api/v1/documents/SalesFlash.qvw", {"cals_allocated": 11}),
    ("POST", "/api/v1/documents/SalesFlash.qvw/cals", USERS),
    ("DELETE", "/api/v1/documents/SalesFlash.qvw/cals/ACME%5Crep1", None),
    ("POST", "/api/v1/documents/SalesFlash.qvw/cals/ACME%5Crep1/restore", None),
]
READS = [
    "/api/v1/license", "/api/v1/license/history", "/api/v1/cals", "/api/v1/cals/named",
    "/api/v1/users/ACME%5Calice/cals", "/api/v1/audit", "/api/v1/denials", "/api/v1/documents",
    "/api/v1/documents/SalesFlash.qvw", "/api/v1/documents/SalesFlash.qvw/cals", "/metrics",
]
ONE_PER_ROLE = [  # the gate's, a viewer's and an admin's
    ("POST", "/api/v1/access", ACCESS), ("GET", "/api/v1/cals", None), ("POST", "/api/v1/cals/named", USERS),
]


def send(api: Api, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> Any:
    return api.client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body"), ONE_PER_ROLE)
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic YTpi"},
                                     {"Authorization": "Bearer "}], ids=["none", "bad", "basic", "empty"])
def test_a_call_without_a_valid_bearer_token_is_a_401_that_asks_for_one(
    api: Api, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str],
) -> None:
    response = send(api, method, path, body, headers)
    error_of(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_401_is_not_remembered_under_an_idempotency_key(api: Api) -> None:
    key = {"Idempotency-Key": "first-try"}
    error_of(api.client.post("/api/v1/cals/named", json=USERS, headers=key), 401, "unauthorized")
    retried = api.post("/api/v1/cals/named", json=USERS, headers=key)
    assert retried.status_code == 200 and "idempotent-replayed" not in retried.headers


@pytest.mark.parametrize(("method", "path", "body"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES])
def test_a_viewer_may_not_change_anything(api: Api, method: str, path: str, body: dict[str, Any] | None) -> None:
    error = error_of(api.call(method, path, role="viewer", json=body), 403, "forbidden")
    assert "viewer" in error["message"] and "admin" in error["message"]
    assert api.pool("named")["assigned"] == 2 and api.pool("document")["assigned"] == 3
    assert api.ok("GET", "/api/v1/documents/SalesFlash.qvw")["cals_allocated"] == 10


@pytest.mark.parametrize("path", READS)
def test_a_viewer_reads_everything_an_admin_reads(api: Api, path: str) -> None:
    assert api.get(path, role="viewer").status_code == 200


@pytest.mark.parametrize("path", READS)
def test_the_gate_token_may_not_read_admin_data(api: Api, path: str) -> None:
    error_of(api.get(path, role="gate"), 403, "forbidden")


def test_the_gate_token_may_not_assign_and_the_viewer_may_not_ask_for_access(api: Api) -> None:
    error_of(api.post("/api/v1/cals/named", role="gate", json=USERS), 403, "forbidden")
    error_of(api.post("/api/v1/access", role="viewer", json=ACCESS), 403, "forbidden")


def test_the_gate_token_asks_for_access_and_ends_sessions(api: Api) -> None:
    granted = api.post("/api/v1/access", role="gate", json=ACCESS).json()
    assert (granted["granted"], granted["cal_type"]) == (True, "named")
    ended = api.post(f"/api/v1/sessions/{granted['session_id']}/end", role="gate")
    assert ended.status_code == 200 and ended.json()["session_id"] == granted["session_id"]


def test_a_revoked_token_stops_working_within_a_second(api: Api) -> None:
    view, secret = api.site.create_token(name="app-server-2", role="gate")
    headers = {"Authorization": f"Bearer {secret}"}
    assert api.client.post("/api/v1/access", json=ACCESS, headers=headers).status_code == 200
    assert [t.name for t in api.site.revoke_token(view.name)] == ["app-server-2"]
    time.sleep(1.1)  # the guard remembers a verified token for a second
    response = api.client.post("/api/v1/access", json=ACCESS, headers=headers)
    assert error_of(response, 401, "unauthorized")["message"] == "the API token is not valid or was revoked"
    assert api.post("/api/v1/access", role="gate", json=ACCESS).status_code == 200


def test_repeated_bad_tokens_from_one_address_are_slowed_down_then_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch,
) -> None:
    delays: list[float] = []

    async def record_instead_of_waiting(delay: float) -> None:
        delays.append(delay)

    # a minute of braking, skipped (and only the brake's waits recorded, not the server's own sleeps)
    monkeypatch.setattr(api.client.app.state.guard, "hold", record_instead_of_waiting)
    bad, waited = {"Authorization": "Bearer guessed"}, []
    for _ in range(60):
        response = api.client.get("/api/v1/cals", headers=bad)
        if response.status_code == 429:
            break
        error_of(response, 401, "unauthorized")
        waited.append(len(delays))
    assert 5 <= len(waited) < 60, "never refused"
    assert waited[:3] == [0, 0, 0] and waited[-1] > 0, "the first few mistakes are free, the later ones slowed"
    assert delays == sorted(delays), "each further bad token waits at least as long as the one before"
    error_of(response, 429, "too_many_requests")
    assert int(response.headers["Retry-After"]) > 0
    error_of(api.client.get("/api/v1/cals"), 429, "too_many_requests")
