"""Over the REST API: a token is revoked by its name (by its id only when asked), and admins disable,
enable and delete console users and end their sessions."""

from __future__ import annotations

import pytest

from tests.e2e.api_site import Api, error_of

PASSWORD = "a long and odd phrase"


def test_deleting_a_token_by_a_number_revokes_the_token_of_that_name_and_by_id_only_when_asked(api: Api) -> None:
    admin_id = next(t.id for t in api.site.list_tokens() if t.name == "admin-token")
    named = api.ok("POST", "/api/v1/tokens", json={"name": str(admin_id), "role": "viewer"})["token"]
    [revoked] = api.ok("DELETE", f"/api/v1/tokens/{admin_id}")
    assert (revoked["id"], revoked["name"]) == (named["id"], str(admin_id))
    assert api.get("/api/v1/tokens").status_code == 200, "the admin token with that id still works"
    viewer_id = next(t.id for t in api.site.list_tokens() if t.name == "viewer-token")
    [by_id] = api.ok("DELETE", f"/api/v1/tokens/{viewer_id}", params={"by": "id"})
    assert by_id["name"] == "viewer-token"
    error_of(api.call("DELETE", "/api/v1/tokens/viewer-token", params={"by": "id"}), 422, "invalid_input")
    error_of(api.call("DELETE", "/api/v1/tokens/nope", params={"by": "number"}), 422, "invalid_request")


def test_a_second_live_token_of_the_same_name_is_refused(api: Api) -> None:
    error = error_of(api.post("/api/v1/tokens", json={"name": "gate-token", "role": "gate"}), 422, "token_name_taken")
    assert "already a live token named 'gate-token'" in error["message"]


def test_an_admin_disables_enables_signs_out_and_deletes_console_users(api: Api) -> None:
    for name, role in (("carla", "admin"), ("vic", "viewer")):
        api.ok("POST", "/api/v1/console-users", json={"username": name, "password": PASSWORD, "role": role})
    secret, _ = api.site.app.console_users.sign_in("vic", PASSWORD)
    assert api.ok("POST", "/api/v1/console-users/vic/disable")["disabled"] is True
    assert api.site.app.console_users.console_identity(secret) is None
    assert api.ok("POST", "/api/v1/console-users/vic/enable")["disabled"] is False
    api.site.app.console_users.sign_in("vic", PASSWORD)
    assert api.ok("POST", "/api/v1/console-users/vic/sessions/end") == {"username": "vic", "ended": 1}
    assert api.ok("DELETE", "/api/v1/console-users/vic")["username"] == "vic"
    error_of(api.call("DELETE", "/api/v1/console-users/vic"), 404, "unknown_console_user")
    last = error_of(api.post("/api/v1/console-users/carla/disable"), 409, "last_console_admin")
    assert "last enabled console admin" in last["message"]
    assert api.site.audit(action="console_user.deleted")[0].actor == "token:admin-token"


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/console-users/carla/disable"), ("POST", "/api/v1/console-users/carla/enable"),
    ("DELETE", "/api/v1/console-users/carla"), ("POST", "/api/v1/console-users/carla/sessions/end"),
])
def test_only_an_admin_token_changes_console_users(api: Api, method: str, path: str) -> None:
    api.site.create_console_user(username="carla", password=PASSWORD, role="admin")
    error_of(api.call(method, path, role="viewer"), 403, "forbidden")
    assert [(u.username, u.disabled) for u in api.site.list_console_users()] == [("carla", False)]
