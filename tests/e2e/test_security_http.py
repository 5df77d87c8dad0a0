"""The HTTP edge's trust boundary: nothing is read, parsed or stored before the caller is known, and
what a caller may send (bodies, headers, keys, JSON) and learn (documents, hosts, the API's description)
is bounded.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.types import ASGIApp, Message

from calkeeper.api.app import create_app
from calkeeper.core.lef import MAX_LEF_BYTES
from calkeeper.core.serials import control_number
from calkeeper.demo import DEMO_OWNER
from calkeeper.settings import Settings, load_settings
from calkeeper.store.root_folder import RootFolder
from tests.e2e.api_site import Api, error_of, running_api
from tests.e2e.servers import RunningServer, running_server

ONE_MB = 1024 * 1024


def api_operations() -> list[Any]:
    """Every /api/v1 operation of the OpenAPI document, its path parameters filled in."""
    spec = create_app(Settings(data_dir=Path("/nonexistent/calkeeper"))).openapi()
    found = []
    for path, item in spec["paths"].items():
        if path.startswith("/api/v1/"):
            concrete = path.replace("{document}", "SalesFlash.qvw").replace("{user}", "ACME%5Calice")
            concrete = concrete.replace("{session_id}", "S-1").replace("{name_or_id}", "admin-token")
            found += [pytest.param(method.upper(), concrete, id=f"{method.upper()} {path}") for method in item]
    return found


def call_asgi(app: ASGIApp, method: str, path: str, headers: dict[str, str],
              receive_body: bytes | None = None) -> tuple[int, dict[str, str], bytes, int]:
    """Run one request through the app; answers (status, headers, body, times the app read the body)."""
    reads = 0
    sent: list[Message] = []

    async def receive() -> Message:
        nonlocal reads
        reads += 1
        if receive_body is None:
            raise AssertionError("the app read the body")
        return {"type": "http.request", "body": receive_body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "client": ("203.0.113.9", 5000), "server": ("testserver", 80), "state": {}}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, answer, reads


# -- 1. the caller is known before the body is read; bodies and headers are bounded ---------------


@pytest.mark.parametrize(("method", "path"), api_operations())
def test_every_api_route_refuses_a_caller_without_a_valid_token_before_reading_the_body(
    api: Api, method: str, path: str,
) -> None:
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        headers = {**headers, "Content-Type": "application/json", "Content-Length": str(300 * ONE_MB)}
        status, answered, _, reads = call_asgi(api.client.app, method, path, headers)
        assert (status, reads) == (401, 0), (method, path, headers)
        assert answered["www-authenticate"] == "Bearer"


def test_malformed_json_without_a_token_is_a_401_not_a_422(api: Api) -> None:
    for path in ("/api/v1/cals/named", "/api/v1/access"):
        response = api.client.post(path, content=b'{"users": ', headers={"Content-Type": "application/json"})
        error_of(response, 401, "unauthorized")


def test_a_body_larger_than_the_limit_is_refused_by_its_content_length_before_it_is_read(api: Api) -> None:
    status, _, answer, reads = call_asgi(api.client.app, "POST", "/api/v1/cals/named",
                                         {**api.auth("admin"), "Content-Length": str(ONE_MB + 1)})
    assert (status, reads) == (413, 0)
    assert b'"body_too_large"' in answer and b"1 MB" in answer


def test_a_chunked_body_is_counted_as_it_streams_and_refused_past_the_limit(api: Api) -> None:
    chunks = [b'{"users": "' + b"A" * (64 * 1024)] * 20  # 1.25 MB without a Content-Length
    response = api.post("/api/v1/cals/named", content=iter(chunks))
    error = error_of(response, 413, "body_too_large")
    assert "CALKEEPER_MAX_BODY_BYTES" in error["message"]
    for path in ("/api/v1/access", "/api/v1/cals/named"):  # read by hand, and by FastAPI
        keyed = api.post(path, content=iter(chunks), headers={"Idempotency-Key": f"big-{path}"})
        error_of(keyed, 413, "body_too_large")
    assert api.pool("named")["assigned"] == 2


def test_the_limit_is_a_setting_and_a_restore_keeps_its_own_larger_one(tmp_path: Path, template: Path) -> None:
    with running_api(tmp_path, template=template, max_body_bytes=4096) as api:
        error_of(api.post("/api/v1/cals/named", json={"users": "ACME\\x" + "y" * 5000}), 413, "body_too_large")
        assert api.post("/api/v1/cals/named", json={"users": "ACME\\newcomer"}).status_code == 200
        backup = api.get("/api/v1/backup").content
        assert len(backup) > 4096
        assert api.ok("POST", "/api/v1/restore", content=backup)["named_cals"] == 3
        assert api.ok("POST", "/api/v1/restore", content=iter([backup[:3000], backup[3000:]]))["named_cals"] == 3


def test_a_console_form_larger_than_the_limit_is_refused_too(api: Api) -> None:
    form = {"username": "admin", "password": "x" * (ONE_MB + 10), "csrf_token": "t"}
    response = api.client.post("/sign-in", data=form)
    error_of(response, 413, "body_too_large")
    streamed = api.client.post("/sign-in", content=iter([b"password=" + b"x" * ONE_MB, b"x"]),
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    error_of(streamed, 413, "body_too_large")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("served") / "site") as running:
        yield running


def connect(url: str) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def answer_to(conn: socket.socket, *, wait: float = 5.0) -> bytes:
    """What the server sends on a connection until it closes it, or until ``wait`` passes."""
    received, deadline = b"", time.monotonic() + wait
    with suppress(TimeoutError, ConnectionResetError):
        while time.monotonic() < deadline:
            chunk = conn.recv(65536)
            if not chunk:
                break
            received += chunk
            if b"\r\n\r\n" in received and b"connection: close" not in received.lower():
                break
    return received


def raw_request(url: str, head: str) -> bytes:
    """Send a request head (and no body) on a connection of its own; what the server answers."""
    with connect(url) as conn:
        conn.sendall(head.encode("latin-1"))
        return answer_to(conn)


def test_a_real_server_answers_a_huge_upload_at_once_without_waiting_for_its_body(server: RunningServer) -> None:
    head = ("POST /api/v1/cals/named HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {300 * ONE_MB}\r\n")
    started = time.monotonic()
    assert raw_request(server.url, head + "\r\n").startswith(b"HTTP/1.1 401 ")
    admin = f"Authorization: Bearer {server.admin_token}\r\n"
    assert raw_request(server.url, head + admin + "\r\n").startswith(b"HTTP/1.1 413 ")
    assert time.monotonic() - started < 4


def test_a_real_server_refuses_headers_past_its_bound_and_goes_on_serving(server: RunningServer) -> None:
    usual = raw_request(server.url, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Usual: {'a' * 20_000}\r\n\r\n")
    assert usual.startswith(b"HTTP/1.1 200 ")
    at_once = raw_request(server.url, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * 100_000}\r\n\r\n")
    assert at_once.startswith(b"HTTP/1.1 431 ") and b'"headers_too_large"' in at_once
    # a head that never ends, sent a piece at a time: refused once it passes the bound, not read on and on
    sent = 0
    with connect(server.url) as conn:
        conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        with suppress(BrokenPipeError, ConnectionResetError):
            while sent < 10 * ONE_MB:
                conn.sendall(b"X-More: " + b"a" * 4000 + b"\r\n")
                sent += 4010
                time.sleep(0.001)
        trickled = answer_to(conn)
    assert trickled.startswith(b"HTTP/1.1 431 "), trickled[:200]
    assert sent < ONE_MB
    assert httpx.get(f"{server.url}/healthz").status_code == 200


# -- 2. Idempotency-Key: after the token, on routes that change something, bound to the token --------


def stored_keys(api: Api) -> int:
    with api.site.app.engine.connect() as connection:
        return int(connection.exec_driver_sql("SELECT count(*) FROM idempotency_keys").scalar_one())


def test_an_idempotency_key_is_stored_only_for_a_known_caller_on_a_route_that_changes_something(api: Api) -> None:
    strangers = [("POST", "/api/v1/cals/named"), ("POST", "/api/v1/nowhere"), ("POST", "/nowhere"),
                 ("POST", "/sign-in"), ("PUT", "/api/v1/license"), ("DELETE", "/api/v1/tokens/admin-token")]
    for number, (method, path) in enumerate(strangers):
        api.client.request(method, path, json={"users": "ACME\\dan"}, headers={"Idempotency-Key": f"s{number}"})
    admin = [("POST", "/api/v1/nowhere"), ("GET", "/api/v1/cals"), ("PUT", "/api/v1/cals/named"),
             ("POST", "/healthz")]
    for number, (method, path) in enumerate(admin):
        api.call(method, path, json={"users": "ACME\\dan"}, headers={"Idempotency-Key": f"a{number}"})
    assert stored_keys(api) == 0
    api.post("/api/v1/cals/named", json={"users": "ACME\\dan"}, headers={"Idempotency-Key": "kept"})
    assert stored_keys(api) == 1


def test_a_stored_answer_is_replayed_only_to_the_token_that_made_it_and_never_once_it_is_revoked(api: Api) -> None:
    view, secret = api.site.create_token(name="second-admin", role="admin")
    first, other = {"Authorization": f"Bearer {secret}"}, api.auth("admin")
    key, users = {"Idempotency-Key": "assign-dan"}, {"users": "ACME\\dan"}
    made = api.client.post("/api/v1/cals/named", json=users, headers={**first, **key})
    assert made.status_code == 200
    again = api.client.post("/api/v1/cals/named", json=users, headers={**first, **key})
    assert again.headers.get("idempotent-replayed") == "true" and again.json() == made.json()
    by_another = api.client.post("/api/v1/cals/named", json=users, headers={**other, **key})
    assert by_another.status_code == 200 and "idempotent-replayed" not in by_another.headers
    api.site.revoke_token(view.name)
    time.sleep(1.1)  # the guard remembers a verified token for a second
    error_of(api.client.post("/api/v1/cals/named", json=users, headers={**first, **key}), 401, "unauthorized")


def test_put_patch_and_delete_take_an_idempotency_key_too(api: Api) -> None:
    removal = "/api/v1/cals/named/ACME%5Cbob"
    removed = api.call("DELETE", removal, headers={"Idempotency-Key": "remove-bob"})
    assert removed.status_code == 200
    retried = api.call("DELETE", removal, headers={"Idempotency-Key": "remove-bob"})
    assert retried.headers.get("idempotent-replayed") == "true" and retried.json() == removed.json()
    patched = api.call("PATCH", "/api/v1/cals/settings", json={"allow_license_lease": False},
                       headers={"Idempotency-Key": "no-leases"})
    conflict = api.call("PATCH", "/api/v1/cals/settings", json={"allow_license_lease": True},
                        headers={"Idempotency-Key": "no-leases"})
    assert patched.status_code == 200
    error_of(conflict, 409, "idempotency_conflict")


# -- 3. the API's description: to known callers (or published), Swagger UI from the server itself ---


def sign_in_to_the_console(api: Api, role: str = "viewer") -> None:
    """Sign a console user in through the sign-in form: the client keeps the session cookie."""
    api.site.create_console_user(username=f"docs-{role}", password="a long enough password", role=role)
    page = api.client.get("/sign-in")
    token = page.cookies["calkeeper_csrf"]
    signed = api.client.post("/sign-in", data={"username": f"docs-{role}", "password": "a long enough password",
                                                "csrf_token": token, "next": "/api/docs"}, follow_redirects=False)
    assert signed.status_code == 303 and "calkeeper_session" in api.client.cookies, signed.text


def test_the_api_description_is_for_viewers_admins_and_console_users_only(api: Api) -> None:
    error = error_of(api.client.get("/api/openapi.json"), 401, "unauthorized")
    assert "CALKEEPER_PUBLISH_API_DOCS" in error["message"]
    error_of(api.client.get("/api/openapi.json", headers={"Authorization": "Bearer guessed"}), 401, "unauthorized")
    error_of(api.get("/api/openapi.json", role="gate"), 403, "forbidden")
    error_of(api.get("/api/docs", role="gate"), 403, "forbidden")
    for role in ("viewer", "admin"):
        assert api.get("/api/openapi.json", role=role).json()["info"]["title"] == "calkeeper"
        assert api.get("/api/docs", role=role).status_code == 200
    sent_to_sign_in = api.client.get("/api/docs", follow_redirects=False)
    assert sent_to_sign_in.status_code == 303
    assert sent_to_sign_in.headers["location"] == "/sign-in?next=/api/docs"
    sign_in_to_the_console(api)
    assert api.client.get("/api/docs").status_code == 200
    assert api.client.get("/api/openapi.json").json()["info"]["title"] == "calkeeper"


def test_publishing_the_api_description_serves_it_to_anyone(tmp_path: Path, template: Path) -> None:
    with running_api(tmp_path, template=template, publish_api_docs=True) as api:
        assert api.client.get("/api/openapi.json").status_code == 200
        assert api.client.get("/api/docs").status_code == 200
        error_of(api.client.get("/api/v1/cals"), 401, "unauthorized")  # the API itself still needs a token


def test_the_docs_page_loads_swagger_ui_from_the_server_and_has_no_inline_script(api: Api) -> None:
    page = api.get("/api/docs", role="viewer").text
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert loaded and all(url.startswith("/api/docs/assets/") for url in loaded), loaded
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "an inline script"
    for url in loaded:
        asset = api.client.get(url)
        assert asset.status_code == 200 and len(asset.content) > 200, url
    assert "SwaggerUIBundle" in api.client.get("/api/docs/assets/swagger-ui-bundle.js").text
    error_of(api.client.get("/api/docs/assets/index.html"), 404, "not_found")


# -- 4. a gate token learns decisions, not the root folder ------------------------------------------


def test_an_unknown_document_at_the_gate_names_no_other_document_and_walks_no_folder(
    tmp_path: Path, template: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    walks: list[Path] = []
    real_walk = RootFolder.documents

    def counted(folder: RootFolder) -> list[str]:
        walks.append(folder.path)
        return real_walk(folder)

    monkeypatch.setattr(RootFolder, "documents", counted)
    with running_api(tmp_path, template=template, document_scan_seconds=86400) as api:
        time.sleep(0.5)  # the upkeep's first round
        before = len(walks)
        for name in ("Secret Plans.qvw", "nothing", "Sales", "../SalesFlash.qvw"):
            answer = api.post("/api/v1/access", role="gate", json={"user": "ACME\\alice", "document": name})
            message = error_of(answer, 404, "unknown_document")["message"]
            assert "documents:" not in message and "Analytix" not in message, message
        assert len(walks) == before, "the access gate looked at the disk"
        for_an_admin = error_of(api.get("/api/v1/documents/Secret%20Plans.qvw"), 404, "unknown_document")
        assert "SalesFlash.qvw" in for_an_admin["message"]


# -- 5. a database that is down is "unavailable", not an address -----------------------------------


def test_with_the_database_down_answers_say_it_is_unavailable_and_only_the_log_says_where(
    api: Api, caplog: pytest.LogCaptureFixture,
) -> None:
    uow = api.site.app.uow
    working = uow.engine
    uow.engine = sa.create_engine("postgresql+psycopg://calkeeper@127.0.0.1:9/secret_cal_db", poolclass=sa.NullPool)
    try:
        answers = [api.client.get("/readyz"), api.post("/api/v1/cals/named", json={"users": "ACME\\dan"}),
                   api.post("/api/v1/access", role="gate", json={"user": "ACME\\x", "document": "Nope.qvw"})]
        for answer in answers:
            message = error_of(answer, 503, "store_unavailable")["message"]
            assert message.startswith("the CAL database is unavailable (since 20"), message
            assert "127.0.0.1" not in message and "secret_cal_db" not in message and "calkeeper@" not in message
            assert answer.headers["Retry-After"] == "1"
    finally:
        uow.engine = working
    assert "127.0.0.1" in caplog.text and "port 9" in caplog.text
    assert api.client.get("/readyz").json() == {"status": "ready"}
    assert "answers again" in caplog.text


# -- 6. text that is not valid Unicode is a 422, never a 500 ----------------------------------------

LONE = "\\ud800"  # as it is written in JSON: a lone surrogate, which no database can store
NOT_UNICODE = [
    ("POST", "/api/v1/cals/named", '{"users": "ACME\\\\d%san"}'),
    ("POST", "/api/v1/cals/named", '{"users": ["ACME\\\\dan", "ACME\\\\e%s"]}'),
    ("POST", "/api/v1/cals/named/remove", '{"users": "ACME\\\\alice%s"}'),
    ("POST", "/api/v1/documents/SalesFlash.qvw/cals", '{"users": "ACME\\\\d%san"}'),
    ("POST", "/api/v1/tokens", '{"name": "app-%s", "role": "viewer"}'),
    ("POST", "/api/v1/console-users", '{"username": "d%sra", "password": "a long enough password"}'),
    ("PUT", "/api/v1/license", '{"serial": "4600123456789012", "control": "1", "owner": "%s", "organization": "o", '
                               '"lef": null}'),
    ("POST", "/api/v1/access", '{"user": "ACME\\\\d%san", "document": "SalesFlash.qvw"}'),
]


@pytest.mark.parametrize(("method", "path", "template_body"), NOT_UNICODE, ids=[f"{m} {p}" for m, p, _ in NOT_UNICODE])
@pytest.mark.parametrize("bad", [LONE.encode(), b"\xff\xfe", b"\xed\xa0\x80"], ids=["surrogate", "latin", "cesu"])
def test_a_body_with_text_that_is_not_unicode_is_a_422_in_the_one_shape(
    api: Api, method: str, path: str, template_body: str, bad: bytes,
) -> None:
    before, tokens = api.pool("named")["assigned"], len(api.site.list_tokens())
    content = template_body.encode().replace(b"%s", bad)
    response = api.call(method, path, content=content, headers={"Content-Type": "application/json"})
    assert error_of(response, 422, "invalid_request")["message"].startswith("the request is not valid: body")
    assert (api.pool("named")["assigned"], len(api.site.list_tokens())) == (before, tokens)


def test_a_backup_with_text_that_is_not_unicode_is_refused_as_a_damaged_backup(api: Api) -> None:
    backup = api.get("/api/v1/backup").content
    assert b'"ACME\\\\alice"' in backup
    for bad in (LONE.encode(), b"\xff"):
        damaged = backup.replace(b'"ACME\\\\alice"', b'"ACME\\\\al' + bad + b'ice"', 1)
        error_of(api.post("/api/v1/restore", content=damaged), 422, "backup_invalid")
    assert api.pool("named")["assigned"] == 2


def test_percent_escapes_that_are_not_utf8_in_paths_and_queries_are_never_a_500(api: Api) -> None:
    for path in ("/api/v1/cals/named?search=%ED%A0%80", "/api/v1/audit?target=%FF", "/api/v1/users/%ED%A0%80/cals",
                 "/api/v1/documents/%FF%FE", "/api/v1/documents/%ED%A0%80/cals"):
        assert api.get(path).status_code in (200, 404, 422), path
    assert api.call("DELETE", "/api/v1/cals/named/%ED%A0%80").status_code == 422


# -- 7. booleans are true and false ------------------------------------------------------------------

NOT_BOOLEANS = ["yes", "true", 1, 0, "false", "1", None]


@pytest.mark.parametrize("value", NOT_BOOLEANS, ids=repr)
def test_clearing_cal_data_takes_only_true_as_confirmation(api: Api, value: object) -> None:
    error_of(api.post("/api/v1/maintenance/clear-cal-data", json={"confirm": value}), 422, "invalid_request")
    assert api.pool("named")["assigned"] == 2 and api.pool("document")["assigned"] == 3


@pytest.mark.parametrize("value", [v for v in NOT_BOOLEANS if v is not None], ids=repr)
def test_setting_patches_take_only_true_and_false(api: Api, value: object) -> None:
    settings = api.ok("GET", "/api/v1/cals")["settings"]
    for field in ("allow_dynamic_assignment", "allow_license_lease"):
        error_of(api.call("PATCH", "/api/v1/cals/settings", json={field: value}), 422, "invalid_request")
    document = api.ok("GET", "/api/v1/documents/SalesFlash.qvw")
    patch = api.call("PATCH", "/api/v1/documents/SalesFlash.qvw", json={"allow_dynamic_assignment": value})
    error_of(patch, 422, "invalid_request")
    user = {"username": "carla", "password": "a long enough password", "replace": value}
    error_of(api.post("/api/v1/console-users", json=user), 422, "invalid_request")
    assert api.ok("GET", "/api/v1/cals")["settings"] == settings
    assert api.ok("GET", "/api/v1/documents/SalesFlash.qvw") == document
    assert api.ok("PATCH", "/api/v1/cals/settings", json={"allow_license_lease": False})["allow_license_lease"] is False


# -- 8. the browser's headers, no inline script or style, no URL from the Host header ----------------

CONSOLE_PAGES = ["/", "/license", "/cals", "/cals/assigned", "/leases", "/documents", "/users", "/audit",
                 "/maintenance/clear", "/documents?document=SalesFlash.qvw", "/users?search=ACME", "/console-users"]


def directives(policy: str) -> dict[str, str]:
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


def assert_page_headers(response: Any) -> None:
    policy = directives(response.headers["content-security-policy"])
    assert policy["script-src"] == "script-src 'self'" and policy["style-src"] == "style-src 'self'"
    assert policy["default-src"] == "default-src 'self'" and policy["frame-ancestors"] == "frame-ancestors 'none'"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"


def test_console_pages_carry_a_strict_policy_and_hold_no_inline_script_or_style(api: Api) -> None:
    sign_in_to_the_console(api, role="admin")
    assert_page_headers(api.client.get("/sign-in"))
    for path in CONSOLE_PAGES:
        page = api.client.get(path)
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html"), path
        assert_page_headers(page)
        html = page.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"an inline script on {path}"
        assert not re.search(r"<style\b|\sstyle=|\son[a-z]+=", html, re.IGNORECASE), f"inline style or handler: {path}"
    redirect = api.client.post("/sign-out", data={"csrf_token": "wrong"}, follow_redirects=False)
    assert redirect.headers["x-frame-options"] == "DENY"  # answers that are not pages get them too


def test_the_dashboard_chart_is_an_image_of_its_own_that_runs_nothing(api: Api) -> None:
    assert api.client.get("/dashboard/grants.svg", follow_redirects=False).status_code == 303  # signed in only
    sign_in_to_the_console(api, role="viewer")
    assert 'src="/dashboard/grants.svg"' in api.client.get("/").text
    chart = api.client.get("/dashboard/grants.svg")
    assert chart.headers["content-type"] == "image/svg+xml" and chart.text.startswith("<svg")
    assert directives(chart.headers["content-security-policy"])["default-src"] == "default-src 'none'"
    assert chart.headers["cache-control"] == "no-store"


def test_api_answers_are_not_sniffed_or_stored_and_static_files_may_be_cached(api: Api) -> None:
    for response in (api.get("/api/v1/cals"), api.client.get("/api/v1/cals"), api.client.get("/healthz"),
                     api.post("/api/v1/access", role="gate", json={"user": "ACME\\alice", "document": "SalesFlash"}),
                     api.get("/metrics", role="viewer"), api.get("/api/openapi.json")):
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["cache-control"] == "no-store", response.url
    docs = api.get("/api/docs")
    assert "'unsafe-inline'" not in directives(docs.headers["content-security-policy"])["script-src"]
    assert docs.headers["x-frame-options"] == "DENY" and docs.headers["cache-control"] == "no-store"
    for path in ("/static/console.js", "/api/docs/assets/swagger-ui.css"):
        asset = api.client.get(path)
        assert asset.headers["x-content-type-options"] == "nosniff" and "cache-control" not in asset.headers


def test_no_page_builds_a_url_from_the_host_header(api: Api) -> None:
    forged = {"Host": "evil.example", "X-Forwarded-Host": "evil.example"}
    pages = [api.client.get("/", headers=forged, follow_redirects=False), api.client.get("/sign-in", headers=forged)]
    assert pages[0].status_code == 303
    sign_in_to_the_console(api, role="admin")
    pages += [api.client.get(path, headers=forged) for path in CONSOLE_PAGES]
    pages += [api.get("/api/docs", headers=forged), api.get("/api/openapi.json", headers=forged)]
    for response in pages:
        assert "evil.example" not in response.text and "evil.example" not in response.headers.get("location", "")
        links = re.findall(r'(?:href|src|action)="([^"]*)"', response.text)
        assert all(link.startswith(("/", "#", "?")) or link == "" for link in links), (response.url, links)


def test_with_trusted_hosts_set_other_host_names_are_refused(tmp_path: Path, template: Path) -> None:
    with running_api(tmp_path, template=template, trusted_hosts=["calkeeper.example.org", "*.cal.example"]) as api:
        refused = api.get("/api/v1/cals", headers={"Host": "evil.example"})
        assert "evil.example" in error_of(refused, 400, "untrusted_host")["message"]
        error_of(api.client.get("/sign-in", headers={"Host": "example.org"}), 400, "untrusted_host")
        error_of(api.get("/api/v1/cals"), 400, "untrusted_host")  # the test client's own 'testserver'
        for host in ("calkeeper.example.org", "CALKEEPER.example.org:8443", "node1.cal.example", "localhost:8080",
                     "127.0.0.1", "[::1]:8080"):
            assert api.get("/api/v1/cals", headers={"Host": host}).status_code == 200, host
        for probe in ("/healthz", "/readyz"):  # load balancers ask by address
            assert api.client.get(probe, headers={"Host": "10.0.0.7:8080"}).status_code == 200


def test_trusted_hosts_are_read_from_a_comma_separated_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALKEEPER_TRUSTED_HOSTS", "calkeeper.example.org, *.cal.example,")
    assert load_settings().trusted_hosts == ["calkeeper.example.org", "*.cal.example"]
    monkeypatch.delenv("CALKEEPER_TRUSTED_HOSTS")
    assert load_settings().trusted_hosts == []


# -- 9. one LEF size limit, one error, from the API and the CLI --------------------------------------


def test_the_api_and_the_cli_refuse_a_lef_over_the_limit_with_the_same_error(api: Api, tmp_path: Path) -> None:
    license_fields = {"serial": api.demo.serial, "control": control_number(api.demo.serial), "owner": "o",
                      "organization": "o"}
    for lef in ("x" * (MAX_LEF_BYTES + 1), "é" * (MAX_LEF_BYTES // 2 + 1)):  # bytes count, not characters
        refused = api.call("PUT", "/api/v1/license", json={**license_fields, "lef": lef})
        from_api = error_of(refused, 422, "lef_malformed")
        assert f"a LEF has at most {MAX_LEF_BYTES} bytes" in from_api["message"]
    huge = tmp_path / "huge.lef"
    with huge.open("wb") as file:
        file.truncate(300 * ONE_MB)  # sparse: the CLI must refuse it without reading it all
    done = subprocess.run([sys.executable, "-m", "calkeeper.cli", "--data-dir", str(api.settings.data_dir),
                           "license", "apply", "--serial", license_fields["serial"], "--control",
                           license_fields["control"], "--owner", "o", "--org", "o", "--lef", str(huge), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout) == {"error": {**from_api, "details": None}}
    assert api.ok("GET", "/api/v1/license")["owner"] == DEMO_OWNER  # the license in force stays


# -- 10. answers as documented: 405s name every method, unknown query parameters are refused ----------


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("POST", "/api/v1/license", "GET, PUT"),
    ("DELETE", "/api/v1/cals/named", "GET, POST"),
    ("PUT", "/api/v1/documents/SalesFlash.qvw", "GET, PATCH"),
    ("PATCH", "/api/v1/documents/SalesFlash.qvw/cals", "GET, POST"),
    ("PATCH", "/api/v1/documents/SalesFlash.qvw/cals/ACME%5Crep1", "DELETE"),
    ("GET", "/api/v1/documents/SalesFlash.qvw/release", "POST"),
    ("DELETE", "/api/v1/cals/named/remove", "POST"),
    ("OPTIONS", "/api/v1/documents/SalesFlash.qvw/cals/restore", "POST"),
    ("POST", "/healthz", "GET"),
])
def test_a_method_a_path_does_not_take_is_a_405_naming_every_method_it_takes(
    api: Api, method: str, path: str, allowed: str,
) -> None:
    response = api.call(method, path, json={})
    assert method in error_of(response, 405, "method_not_allowed")["message"]
    assert response.headers["allow"] == allowed
    assert api.ok("GET", "/api/v1/documents/SalesFlash.qvw")["cals_allocated"] == 10


def test_a_query_parameter_a_listing_does_not_know_is_refused_not_ignored(api: Api) -> None:
    for path in ("/api/v1/cals/named?limt=1", "/api/v1/audit?actoin=x", "/api/v1/denials?limit=5&from=2020"):
        assert "Extra inputs" in error_of(api.get(path), 422, "invalid_request")["message"]
    assert len(api.ok("GET", "/api/v1/cals/named?limit=1&search=ACME")["items"]) == 1
