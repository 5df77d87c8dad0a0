"""The site's directory over HTTP on the demo site (the built-in directory): the REST API, the console's
Manage users dialog and Directory page, the remote CLI's calls, and single sign-on behind a proxy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from calkeeper.client import CalkeeperClient, RemoteSite
from tests.e2e.api_site import Api, demo_template, error_of, running_api
from tests.e2e.test_security_signin import PASSWORD, sign_in

PROXY, ELSEWHERE = "10.0.0.9", "10.0.0.8"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_template(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def api(tmp_path: Path, template: Path) -> Iterator[Api]:
    with running_api(tmp_path, template=template, sso_header="X-Remote-User", sso_proxies=[PROXY],
                     directory_admins_group="Analysts", directory_viewers_group="Finance") as running:
        running.site.create_console_user(username="carla", password=PASSWORD, role="admin")
        yield running


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_the_api_searches_users_and_groups_with_member_counts(api: Api) -> None:
    users = api.ok("GET", "/api/v1/directory/search", params={"q": "rep", "kind": "user"}, role="viewer")
    assert [u["name"] for u in users] == ["ACME\\rep1", "ACME\\rep2", "ACME\\rep3"]
    groups = api.ok("GET", "/api/v1/directory/search", params={"q": "sal", "kind": "group"})
    assert [(g["name"], g["members"]) for g in groups] == [("Sales", 3)]
    error_of(api.get("/api/v1/directory/search", params={"q": "x", "kind": "both"}), 422, "invalid_request")


def test_the_api_runs_group_rules_with_a_dry_run_first_and_a_viewer_may_not(api: Api) -> None:
    error_of(api.post("/api/v1/directory/rules", json={"group": "Finance"}, role="viewer"), 403, "forbidden")
    rule = api.ok("POST", "/api/v1/directory/rules", json={"group": "Finance", "document": None})
    preview = api.ok("POST", "/api/v1/directory/sync", json={"dry_run": True})
    assert preview["dry_run"] and {o["user"] for o in preview["rules"][0]["assign"]} == {"ACME\\carol", "ACME\\dave"}
    assert api.ok("GET", "/api/v1/directory/rules")[0]["holders"] == 0
    api.ok("POST", "/api/v1/directory/sync", json={"dry_run": False})
    assert api.ok("GET", "/api/v1/directory/rules")[0]["holders"] == 2
    assert api.ok("DELETE", f"/api/v1/directory/rules/{rule['id']}")["holders"] == 2
    error_of(api.post("/api/v1/directory/rules", json={"group": "Nobody"}), 404, "unknown_group")


def test_the_remote_site_offers_the_directory_as_the_local_one_does(api: Api) -> None:
    remote = RemoteSite("http://testserver", api.secrets["admin"])
    remote.client = CalkeeperClient("http://testserver", api.secrets["admin"],
                                    transport=api.client._transport)  # the in-process server
    assert remote.directory_test().kind == "built-in"
    assert [e.name for e in remote.search_directory("Ana", kind="group")] == ["Analysts"]
    done = remote.assign_group("Sales", document="SalesFlash.qvw")
    assert {o.user: o.outcome for o in done.outcomes}["ACME\\rep3"] == "assigned"
    assert remote.import_directory_users("user\nACME\\zoe\n").added == 1


def test_manage_users_searches_the_directory_and_shows_groups_with_member_counts(api: Api) -> None:
    sign_in(api.client, "carla", PASSWORD)
    dialog = api.client.get("/cals/assigned", params={"manage": 1, "find": "a"})
    assert 'value="ACME\\dave"' in dialog.text  # a directory user who holds no CAL yet
    assert "Analysts</bdi></a> (2 members)" in dialog.text and "Sales</bdi></a> (3 members)" in dialog.text


def test_the_directory_page_assigns_to_a_group_and_syncs_rules(api: Api) -> None:
    sign_in(api.client, "carla", PASSWORD)
    page = api.client.get("/directory")
    assert page.status_code == 200 and "Group rules" in page.text
    token = csrf_of(page)
    done = api.client.post("/directory/rules", data={"csrf_token": token, "group": "Finance", "document": ""},
                           follow_redirects=True)
    assert "Rule 1 added" in done.text
    synced = api.client.post("/directory/sync", data={"csrf_token": token}, follow_redirects=True)
    assert "<bdi>ACME\\carol</bdi>: assigned." in synced.text
    refused = api.client.post("/directory/sync", data={"csrf_token": "forged"})
    assert refused.status_code == 403


def test_single_sign_on_takes_the_user_from_the_header_of_a_trusted_proxy_only(api: Api) -> None:
    proxy = TestClient(api.client.app, client=(PROXY, 50000))
    signed_in = proxy.get("/sign-in", headers={"X-Remote-User": "ACME\\alice"}, follow_redirects=False)
    assert signed_in.status_code == 303 and "calkeeper_session" in signed_in.cookies
    assert "Sign out ACME\\alice" in proxy.get("/").text
    elsewhere = TestClient(api.client.app, client=(ELSEWHERE, 50000))
    page = elsewhere.get("/sign-in", headers={"X-Remote-User": "ACME\\alice"}, follow_redirects=False)
    assert page.status_code == 200 and "calkeeper_session" not in page.cookies
    outsider = TestClient(api.client.app, client=(PROXY, 50000))
    refused = outsider.get("/sign-in", headers={"X-Remote-User": "ACME\\rep1"}, follow_redirects=False)
    assert refused.status_code == 401 and "calkeeper_session" not in refused.cookies
    viewer = TestClient(api.client.app, client=(PROXY, 50000))
    viewer.get("/sign-in", headers={"X-Remote-User": "ACME\\carol"})
    roles = {u.username: u.role for u in api.site.list_console_users()}
    assert roles["ACME\\alice"] == "admin" and roles["ACME\\carol"] == "viewer"
