"""The access gate's own lane (``api.gate_lane``): the same answers, refusals, headers and metrics as behind
the router, under a proxy prefix too, and every other method and path still goes to the router."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from calkeeper.api.routes_access import ACCESS_PATH
from tests.e2e.api_site import Api, error_of, running_api

BODY = {"user": "ACME\\alice", "document": "SalesFlash.qvw", "machine": "PC-1"}


def access_latency_count(api: Api) -> float:
    for line in api.get("/metrics", role="viewer").text.splitlines():
        if line.startswith("calkeeper_request_seconds_count") and f'route="{ACCESS_PATH}"' in line \
                and 'method="POST"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_grant_has_the_documented_answer_the_api_headers_and_its_latency_counted(api: Api) -> None:
    before = access_latency_count(api)
    answer = api.post(ACCESS_PATH, json=BODY, role="gate")
    assert answer.status_code == 200, answer.text
    assert set(answer.json()) == {"granted", "cal_type", "session_id", "user", "document", "reason", "code",
                                  "dynamic", "cal_id", "degraded"}
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["cache-control"] == "no-store"
    assert access_latency_count(api) == before + 1


def test_refusals_have_the_one_error_shape(api: Api) -> None:
    error_of(api.post(ACCESS_PATH, json={**BODY, "document": "Nowhere.qvw"}, role="gate"), 404, "unknown_document")
    error_of(api.post(ACCESS_PATH, content=b"{not json", role="gate",
                      headers={"Content-Type": "application/json"}), 422, "invalid_request")
    error_of(api.post(ACCESS_PATH, json={**BODY, "user": "no\tname"}, role="gate"), 422, "invalid_user")
    error_of(api.post(ACCESS_PATH, json=BODY, role="viewer"), 403, "forbidden")
    error_of(api.client.post(ACCESS_PATH, json=BODY), 401, "unauthorized")


def test_an_unexpected_failure_is_the_500_shape_and_the_gate_goes_on(api: Api, monkeypatch: pytest.MonkeyPatch
                                                                      ) -> None:
    access = api.client.app.state.application.access  # type: ignore[attr-defined]

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a fault the gate does not expect")

    monkeypatch.setattr(access, "cached_decision", broken)
    as_a_server_would = TestClient(api.client.app, raise_server_exceptions=False)  # the lifespan has run
    error_of(as_a_server_would.post(ACCESS_PATH, json=BODY, headers=api.auth("gate")), 500, "internal_error")
    monkeypatch.undo()
    assert api.post(ACCESS_PATH, json=BODY, role="gate").json()["granted"] is True


def test_other_methods_and_paths_go_to_the_router(api: Api) -> None:
    wrong = error_of(api.get(ACCESS_PATH, role="gate"), 405, "method_not_allowed")
    assert "POST" in wrong["message"]
    slash = api.post(ACCESS_PATH + "/", json=BODY, role="gate", follow_redirects=False)
    assert slash.status_code == 307 and slash.headers["location"].endswith(ACCESS_PATH)


def test_behind_a_proxy_prefix_the_lane_serves_the_prefixed_path(tmp_path: Path, template: Path) -> None:
    with running_api(tmp_path, template=template, root_path="/calkeeper") as api:
        answer = api.post("/calkeeper" + ACCESS_PATH, json=BODY, role="gate")
        assert answer.status_code == 200 and answer.json()["granted"] is True
