"""Console sign-ins are braked per user name and per address, on every worker together, and each
failure is in the audit trail; bad API tokens are braked and recorded the same way."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from calkeeper.console import routes_session
from tests.e2e.api_site import Api, running_api
from tests.e2e.servers import RunningServer, running_server

PASSWORD = "carla-password-1"


@pytest.fixture
def api(tmp_path: Path, template: Path) -> Iterator[Api]:
    with running_api(tmp_path, template=template) as running:
        for name in ("carla", "dora"):
            running.site.create_console_user(username=name, password=PASSWORD, role="admin")
        yield running


@pytest.fixture
def holds(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The seconds each failed sign-in was held back, recorded instead of waited."""
    held: list[float] = []

    async def record(seconds: float) -> None:
        held.append(seconds)

    monkeypatch.setattr(routes_session, "hold", record)
    return held


def sign_in(client: TestClient | httpx.Client, username: str, password: str) -> httpx.Response:
    """Post the console's sign-in form as a browser would: with the form's CSRF cookie and token."""
    client.get("/sign-in")
    form = {"username": username, "password": password, "csrf_token": client.cookies["calkeeper_csrf"], "next": "/"}
    return client.post("/sign-in", data=form, follow_redirects=False)


def from_address(api: Api, address: str) -> TestClient:
    """A browser on another machine, on the same running server."""
    return TestClient(api.client.app, client=(address, 50000))


def test_a_failed_sign_in_is_refused_and_recorded_in_the_audit_trail_without_the_password(api: Api) -> None:
    refused = sign_in(api.client, "carla", "not-the-password")
    assert refused.status_code == 401 and "The user name or the password is not right." in refused.text
    sign_in(api.client, "nobody", "a-guess-at-a-user")
    entries = api.site.audit(action="console.sign_in_failed")
    assert [(e.actor, e.target, e.details["reason"]) for e in entries] == [
        ("address:testclient", "nobody", "unknown user"), ("address:testclient", "carla", "wrong password")]
    assert "not-the-password" not in json.dumps([e.details for e in entries])
    assert sign_in(api.client, "carla", PASSWORD).status_code == 303
    assert api.site.audit(action="console.signed_in")[0].details == {"address": "testclient"}


def test_sign_ins_as_one_name_are_slowed_then_refused_even_with_the_right_password(
    api: Api, holds: list[float],
) -> None:
    answers = [sign_in(api.client, "carla", f"guess-number-{n}") for n in range(10)]
    assert [a.status_code for a in answers] == [401] * 9 + [429]
    # the first two mistakes are free; from the third on, each answer is held back longer, up to 4 s
    assert holds == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    refused = sign_in(api.client, "carla", PASSWORD)
    assert refused.status_code == 429
    assert "Too many failed sign-ins as &#39;carla&#39;; try again in 15 minutes." in refused.text
    assert sign_in(api.client, "dora", PASSWORD).status_code == 303, "another name is not refused"
    assert sign_in(from_address(api, "10.0.0.2"), "CARLA", PASSWORD).status_code == 429, "nor is the name elsewhere"


def test_sign_ins_from_one_address_are_refused_after_many_names(api: Api, holds: list[float]) -> None:
    answers = [sign_in(api.client, f"user{n}", "a-guess-at-a-user").status_code for n in range(30)]
    assert answers == [401] * 29 + [429]
    refused = sign_in(api.client, "dora", PASSWORD)
    assert refused.status_code == 429 and "Too many failed sign-ins from this address" in refused.text
    assert sign_in(from_address(api, "10.0.0.2"), "dora", PASSWORD).status_code == 303


def test_signing_in_forgets_the_names_earlier_failures(api: Api, holds: list[float]) -> None:
    for n in range(9):
        sign_in(api.client, "carla", f"guess-number-{n}")
    assert sign_in(api.client, "carla", PASSWORD).status_code == 303
    assert sign_in(api.client, "carla", "one-more-typo").status_code == 401


# -- the console users page ------------------------------------------------------------------------------------


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_an_admin_disables_and_deletes_console_users_on_their_page_and_a_viewer_may_not(api: Api) -> None:
    api.site.create_console_user(username="vic", password=PASSWORD, role="viewer")
    admin, viewer = api.client, from_address(api, "10.0.0.3")
    assert sign_in(admin, "carla", PASSWORD).status_code == 303
    assert sign_in(viewer, "vic", PASSWORD).status_code == 303
    listed = admin.get("/console-users")
    assert listed.status_code == 200 and "carla <span" in listed.text and "(you)" in listed.text
    assert '/console-users" aria-current="page">Console users' in listed.text, "admins find the page in the menu"
    refused = viewer.get("/console-users")
    assert refused.status_code == 403 and "Only admins manage console users" in refused.text
    assert ">Console users</a>" not in viewer.get("/").text
    csrf = csrf_of(listed)
    done = admin.post("/console-users/disable", data={"csrf_token": csrf, "username": "vic"})
    assert "vic is disabled: they cannot sign in, and their sessions have ended." in done.text
    assert viewer.get("/", follow_redirects=False).headers["location"].startswith("/sign-in"), "signed out at once"
    assert "Enable vic" in done.text
    error = admin.post("/console-users/delete", data={"csrf_token": csrf, "username": "nobody"})
    assert "There is no console user &#39;nobody&#39;." in error.text
    deleted = admin.post("/console-users/delete", data={"csrf_token": csrf, "username": "vic"})
    assert "vic is deleted." in deleted.text and [u.username for u in api.site.list_console_users()] == [
        "carla", "dora"]
    assert api.site.audit(action="console_user.deleted")[0].actor == "console:carla"


def test_a_viewer_cannot_disable_anyone_even_with_a_form_of_their_own(api: Api) -> None:
    api.site.create_console_user(username="vic", password=PASSWORD, role="viewer")
    assert sign_in(api.client, "vic", PASSWORD).status_code == 303
    csrf = csrf_of(api.client.get("/"))
    refused = api.client.post("/console-users/disable", data={"csrf_token": csrf, "username": "carla"})
    assert refused.status_code == 403
    assert not any(u.disabled for u in api.site.list_console_users())


# -- across worker processes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("workers") / "site", workers=2) as server:
        server.cli("admin", "create", "--username", "carla", "--password-stdin", stdin=f"{PASSWORD}\n")
        yield server


def audit(server: RunningServer, action: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{server.url}/api/v1/audit", params={"action": action},
                       headers={"Authorization": f"Bearer {server.admin_token}"})
    entries: list[dict[str, Any]] = answer.json()
    return entries


def at_once(count: int, attempt: Callable[[int], int]) -> list[int]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(attempt, range(count)))


def test_two_workers_brake_sign_ins_together(two_workers: RunningServer) -> None:
    def guess(n: int) -> int:
        with httpx.Client(base_url=two_workers.url, timeout=30) as browser:
            return sign_in(browser, "carla", f"guess-number-{n}").status_code

    answers = at_once(14, guess)
    assert answers.count(401) == 9 and answers.count(429) == 5
    with httpx.Client(base_url=two_workers.url, timeout=30) as browser:
        assert sign_in(browser, "carla", PASSWORD).status_code == 429
    failed = audit(two_workers, "console.sign_in_failed")
    assert len(failed) == 10 and {e["target"] for e in failed} == {"carla"}


def test_two_workers_brake_bad_tokens_together(two_workers: RunningServer) -> None:
    def guess(n: int) -> int:
        headers = {"Authorization": f"Bearer ck_guess-number-{n}"}
        return httpx.get(f"{two_workers.url}/api/v1/cals", headers=headers, timeout=30).status_code

    answers = at_once(40, guess)
    assert answers.count(401) == 29 and answers.count(429) == 11, str(answers)
    refused = audit(two_workers, "api.token_refused")
    assert len(refused) == 30 and {e["target"] for e in refused} == {"127.0.0.1"}
    assert not any("ck_guess" in json.dumps(e) for e in refused)
