"""License leases over HTTP on the demo site: the desktop routes with the NT identity from a trusted proxy
and with an alternate identity, the lease history in the REST API by role, and the console's License leases
page, which ends and revokes."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from calkeeper.core.keys import load_public_keys
from calkeeper.core.lease import check_lease, machine_fingerprint
from tests.e2e.api_site import Api, demo_template, error_of, running_api
from tests.e2e.test_security_signin import PASSWORD, sign_in

PROXY, ELSEWHERE = "10.0.0.9", "10.0.0.8"
DEV_PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_template(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def api(tmp_path: Path, template: Path) -> Iterator[Api]:
    with running_api(tmp_path, template=template, sso_header="X-Remote-User", sso_proxies=[PROXY]) as running:
        running.site.create_console_user(username="carla", password=PASSWORD, role="admin")
        running.site.import_directory_users(f"user,password\nACME\\dev1,{DEV_PASSWORD}\n")
        running.site.assign_named_cals("ACME\\dev1")
        yield running


def body(n: int, server: str = "http://testserver") -> dict[str, object]:
    return {"machine": f"PC-{n}", "fingerprint": machine_fingerprint(f"{n:032x}", f"PC-{n}"), "server": server}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_the_nt_identity_from_a_trusted_proxy_leases_and_the_client_can_check_it(api: Api) -> None:
    proxy = TestClient(api.client.app, client=(PROXY, 50000))
    granted = proxy.post("/desktop/v1/lease", headers={"X-Remote-User": "ACME\\alice"}, json=body(1))
    assert granted.status_code == 200, granted.text
    vendor = load_public_keys([api.settings.trusted_keys_dir])
    lease = check_lease(granted.json()["lease"], vendor_keys=vendor, fingerprint=str(body(1)["fingerprint"]),
                        now=api.site.app.clock.now())
    assert lease.user == "ACME\\alice" and lease.serial == api.demo.serial
    listing = proxy.post("/desktop/v1/documents", headers={"X-Remote-User": "ACME\\alice"}, json={})
    assert listing.json()["user"] == "ACME\\alice" and "SalesFlash.qvw" in listing.json()["documents"]
    elsewhere = TestClient(api.client.app, client=(ELSEWHERE, 50000))
    refused = elsewhere.post("/desktop/v1/lease", headers={"X-Remote-User": "ACME\\alice"}, json=body(1))
    error_of(refused, 401, "sign_in_refused")


def test_an_alternate_identity_leases_and_opens_and_a_wrong_password_is_refused(api: Api) -> None:
    opened = api.client.post("/desktop/v1/open", headers=basic("ACME\\dev1", DEV_PASSWORD),
                             json={"document": "SalesFlash.qvw", "machine": "PC-1"})
    assert opened.json()["granted"] and opened.json()["cal_type"] == "named"
    assert api.client.post("/desktop/v1/lease", headers=basic("acme\\DEV1", DEV_PASSWORD), json=body(1)).json()[
        "renewed"] is False
    error_of(api.client.post("/desktop/v1/lease", headers=basic("ACME\\dev1", "wrong"), json=body(1)), 401,
             "sign_in_refused")
    error_of(api.client.post("/desktop/v1/lease", headers=basic("ACME\\carol", "x"), json=body(1)), 401,
             "sign_in_refused")
    no_cal = api.client.post("/desktop/v1/lease", headers={"X-Remote-User": "ACME\\carol"}, json=body(1))
    error_of(no_cal, 401, "sign_in_refused")  # not from the proxy: nobody is named


def test_the_history_is_read_by_viewers_and_ended_or_revoked_by_admins(api: Api) -> None:
    for n in (1, 2):
        api.client.post("/desktop/v1/lease", headers=basic("ACME\\dev1", DEV_PASSWORD), json=body(n))
    third = api.client.post("/desktop/v1/lease", headers=basic("ACME\\dev1", DEV_PASSWORD), json=body(3))
    assert "PC-1" in error_of(third, 409, "lease_machines_full")["message"]
    rows = api.ok("GET", "/api/v1/leases", params={"user": "ACME\\dev1", "state": "live"}, role="viewer")
    assert sorted(r["machine"] for r in rows) == ["PC-1", "PC-2"]
    error_of(api.post(f"/api/v1/leases/{rows[0]['lease_id']}/end", role="viewer"), 403, "forbidden")
    ended = api.ok("POST", f"/api/v1/leases/{rows[0]['lease_id']}/end")
    assert ended["state"] == "ended" and ended["ended_by"] == "token:admin-token"
    error_of(api.post("/api/v1/leases/nothing/end"), 404, "unknown_lease")
    revoked = api.ok("POST", "/api/v1/leases/revoke", json={"user": "ACME\\dev1"})
    assert [r["state"] for r in revoked] == ["revoked"]
    assert api.ok("GET", "/api/v1/leases", params={"state": "live"}) == []
    error_of(api.get("/api/v1/leases", params={"state": "soon"}), 422, "invalid_request")


def test_the_console_page_lists_leases_and_ends_and_revokes_them(api: Api) -> None:
    for n in (1, 2):
        api.client.post("/desktop/v1/lease", headers=basic("ACME\\dev1", DEV_PASSWORD), json=body(n))
    console = TestClient(api.client.app)
    sign_in(console, "carla", PASSWORD)
    page = console.get("/leases")
    assert "PC-1" in page.text and "PC-2" in page.text and "Leasing is allowed" in page.text
    lease_id = api.site.list_leases(machine="PC-1")[0].lease_id
    done = console.post("/leases/end", data={"csrf_token": csrf_of(page), "lease_id": lease_id})
    assert "its place is free" in done.text
    done = console.post("/leases/revoke", data={"csrf_token": csrf_of(done), "user": "ACME\\dev1"})
    assert "1 lease of ACME\\dev1 revoked (PC-2)" in done.text
    assert {v.state for v in api.site.list_leases()} == {"ended", "revoked"}
    assert "revoked" in console.get("/leases", params={"state": "ended"}).text
