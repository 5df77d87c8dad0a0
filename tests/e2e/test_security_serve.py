"""What ``calkeeper serve`` prints and logs: each request in an access log, and never a database password."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from calkeeper.api.access_log import AccessLog
from calkeeper.cli.main import app
from tests.e2e.servers import RunningServer, running_server

ACCESS_LINE = re.compile(r'127\.0\.0\.1:\d+ - - \[\d\d/\w{3}/\d{4}(:\d\d){3} [+-]\d{4}\] "GET /healthz HTTP/1\.1" 200')


def printed_after(server: RunningServer, seconds: float = 2.0) -> str:
    """What the server printed, once a logged line has had time to come through the pipe."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and "GET /healthz" not in server.output:
        time.sleep(0.05)
    return server.output


def test_serve_logs_each_request_in_the_common_log_format(tmp_path: Path) -> None:
    with running_server(tmp_path / "site") as server:
        httpx.get(f"{server.url}/healthz")
        assert ACCESS_LINE.search(printed_after(server)), server.output


def test_the_access_log_can_be_turned_off(tmp_path: Path) -> None:
    with running_server(tmp_path / "site", extra_env={"CALKEEPER_ACCESS_LOG": "false"}) as server:
        httpx.get(f"{server.url}/healthz")
        assert "GET /healthz" not in printed_after(server, seconds=1.0)


def test_no_access_log_is_a_flag_of_serve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda served, **options: given.update(options, app=served))
    for flag, logged in (("--no-access-log", False), ("--access-log", True)):
        done = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "site"), "serve", flag])
        assert done.exit_code == 0, done.output
        assert given["access_log"] is False  # uvicorn's own: the app writes the access log itself
        assert any(m.cls is AccessLog for m in given["app"].user_middleware) is logged


def test_serve_prints_its_database_without_the_password(tmp_path: Path, pg_url: str) -> None:
    with_password = pg_url.replace("://postgres@", "://postgres:s3cret-Pw@", 1)
    with running_server(tmp_path / "site", database_url=with_password) as server:
        assert "database: postgresql+psycopg://postgres:***@127.0.0.1" in server.output
        assert "s3cret-Pw" not in server.output
