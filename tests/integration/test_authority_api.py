"""The authority's HTTP service in-process: LEFs for sites, one answer for unknown serials, the brake,
and the vendor's admin API."""

from __future__ import annotations

import base64
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from calkeeper.authority.api import create_authority_app
from calkeeper.authority.settings import AuthoritySettings
from calkeeper.authority.tokens import AdminTokens
from calkeeper.core.keys import public_pem
from calkeeper.core.serials import control_number
from calkeeper.infra.brake import FailureBrake
from tests.integration.authority_kit import make_registry, new_site


@pytest.fixture
def registry(tmp_path, clock):
    registry = make_registry(tmp_path / "authority", clock)
    yield registry
    registry.engine.dispose()


@pytest.fixture
def http(registry, tmp_path):
    tokens = AdminTokens(registry.engine)
    app = create_authority_app(AuthoritySettings(dir=tmp_path / "authority"), registry=registry, tokens=tokens,
                               lef_brake=FailureBrake("slow down", slow_after=2, block_after=4))
    with TestClient(app) as client:
        _, secret = tokens.create("vendor")
        client.headers["Authorization"] = f"Bearer {secret}"
        yield client


def query(record, **extra):
    return {"serial": record.serial, "control": record.control, "owner": record.owner,
            "organization": record.organization, **extra}


def test_a_site_gets_its_newest_lef_as_plain_text_exactly_as_signed(http, registry):
    record = new_site(registry)
    answer = http.get("/lef", params=query(record))
    assert answer.status_code == 200 and answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.content == registry.lef_for(record.serial).encode()
    posted = http.post("/lef", json=query(record))
    assert posted.content == answer.content


def test_a_wrong_control_number_and_an_unknown_serial_get_the_same_404(http, registry):
    record = new_site(registry)
    wrong = http.get("/lef", params=query(record, control=f"{(int(record.control) + 1) % 100000:05d}"))
    unknown = http.get("/lef", params={"serial": "1234567812345678", "control": control_number("1234567812345678")})
    assert wrong.status_code == unknown.status_code == 404
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"]["code"] == "serial_not_found"


def test_repeated_failures_from_one_address_are_slowed_down_then_refused(http, registry):
    record = new_site(registry)
    bad = query(record, control=f"{(int(record.control) + 1) % 100000:05d}")
    timings = []
    for _ in range(3):
        started = time.monotonic()
        assert http.get("/lef", params=bad).status_code == 404
        timings.append(time.monotonic() - started)
    assert timings[0] < 0.2 and timings[1] >= 0.25 and timings[2] >= 0.5
    assert http.get("/lef", params=bad).status_code == 429
    refused = http.get("/lef", params=query(record))  # even a right answer waits out the minute
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json()["error"]["code"] == "too_many_requests"


@pytest.mark.parametrize("encode", [
    lambda key: base64.b64encode(key.public_bytes_raw()).decode(),
    lambda key: base64.urlsafe_b64encode(key.public_bytes_raw()).decode().rstrip("="),
    lambda key: public_pem(key).decode(),
])
def test_a_site_may_send_its_lease_key_raw_or_as_pem(http, registry, encode):
    record = new_site(registry)
    lease = Ed25519PrivateKey.generate().public_key()
    text = http.post("/lef", json=query(record, lease_key=encode(lease))).text
    assert f":{base64.b64encode(lease.public_bytes_raw()).decode()};;\n" in text
    assert http.get("/lef", params=query(record, lease_key=encode(lease))).text == text


def test_a_lease_key_that_is_not_an_ed25519_key_is_refused(http, registry):
    record = new_site(registry)
    answer = http.post("/lef", json=query(record, lease_key="bm90IGEga2V5"))
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_key"
    assert registry.site(record.serial).lease_key_id is None


def test_the_admin_api_needs_the_admin_token(http):
    for call in (lambda h: http.get("/api/v1/sites", headers=h),
                 lambda h: http.post("/api/v1/sites", json={}, headers=h)):
        assert call({"Authorization": ""}).status_code == 401
        assert call({"Authorization": "Bearer cka_wrong"}).json()["error"]["code"] == "unauthorized"


def test_the_vendor_manages_sites_over_the_admin_api(http, registry):
    made = http.post("/api/v1/sites", json={"owner": "Example Site", "organization": "Example Org", "named": 25,
                                            "document": 100, "session": 10, "usage": 280,
                                            "maintenance_until": "2027-12-31", "time_limit": "2027-06-30"})
    assert made.status_code == 201
    serial = made.json()["serial"]
    assert made.json()["control"] == control_number(serial)
    bought = http.post(f"/api/v1/sites/{serial}/purchases", json={"named": 5})
    assert bought.json()["cals"]["named"] == 30
    changed = http.patch(f"/api/v1/sites/{serial}", json={"time_limit": None, "usage": 300})
    assert changed.json()["time_limit"] is None and changed.json()["maintenance_until"] == "2027-12-31"
    assert changed.json()["cals"]["usage"] == 300
    assert [s["serial"] for s in http.get("/api/v1/sites").json()] == [serial]
    assert http.get(f"/api/v1/sites/{serial}").json()["cals"]["named"] == 30
    actions = [e["action"] for e in http.get(f"/api/v1/sites/{serial}/history").json()]
    assert actions == ["terms_changed", "cals_added", "created"]
    assert http.get(f"/api/v1/sites/{serial}/history").json()[-1]["actor"] == "token:vendor"
    assert http.get(f"/api/v1/sites/{serial}/lef").text == registry.lef_for(serial)


@pytest.mark.parametrize(("body", "code"), [
    ({"owner": "A", "organization": "B", "named": 0}, "invalid_request"),
    ({"owner": "A;B", "organization": "B", "named": 1}, "invalid_input"),
    ({"owner": "A", "organization": "B", "named": 1, "serial": "42"}, "invalid_serial"),
])
def test_a_site_no_cal_server_could_apply_is_refused_and_not_recorded(http, body, code):
    answer = http.post("/api/v1/sites", json=body)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == code
    assert http.get("/api/v1/sites").json() == []


def test_an_unknown_site_is_a_404_for_the_vendor(http):
    answer = http.post("/api/v1/sites/1234567812345678/purchases", json={"named": 1})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_site"
