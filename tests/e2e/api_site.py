"""The REST API in process on the demo site (SQLite in a temporary folder), with a token per role."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from calkeeper.api.app import create_app
from calkeeper.bootstrap import bootstrap
from calkeeper.demo import DemoSite, set_up_demo
from calkeeper.settings import Settings
from calkeeper.site import LocalSite

ROLES = ("admin", "viewer", "gate")


@dataclass
class Api:
    client: TestClient
    site: LocalSite
    demo: DemoSite
    settings: Settings
    secrets: dict[str, str]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secrets[role]}"}

    def call(self, method: str, path: str, *, role: str = "admin", headers: dict[str, str] | None = None,
             **kwargs: Any) -> httpx.Response:
        return self.client.request(method, path, headers={**self.auth(role), **(headers or {})}, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.call("POST", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON of a call that must succeed."""
        response = self.call(method, path, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def pool(self, cal_type: str) -> dict[str, Any]:
        pools: list[dict[str, Any]] = self.ok("GET", "/api/v1/cals")["pools"]
        return next(p for p in pools if p["cal_type"] == cal_type)


def demo_template(folder: Path) -> Path:
    """A demo data dir to copy: setting the demo up takes ten times longer than copying it."""
    set_up_demo(Settings(data_dir=folder))
    return folder


@contextmanager
def running_api(folder: Path, *, template: Path | None = None, **settings: Any) -> Iterator[Api]:
    """The demo site (a copy of ``template`` if given) and its API, with one token for each role."""
    config = Settings(data_dir=folder / "site", **settings)
    if template is not None:
        shutil.copytree(template, config.data_dir)
    demo = set_up_demo(config)
    site = LocalSite(bootstrap(config))
    secrets = {role: site.create_token(name=f"{role}-token", role=role)[1] for role in ROLES}
    try:
        with TestClient(create_app(config, site=site)) as client:
            yield Api(client, site, demo, config, secrets)
    finally:
        site.close()


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape with this status and code; return the error."""
    assert response.status_code == status, f"{response.status_code} {response.text}"
    payload = response.json()
    assert set(payload) == {"error"}
    error: dict[str, Any] = payload["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error
