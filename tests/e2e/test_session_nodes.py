"""Sessions on two ``calkeeper serve`` nodes of one PostgreSQL database: a heartbeat on one node keeps a
session alive for all; the upkeep of any node ends it once it is idle."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.conftest import require_postgres
from tests.e2e.servers import running_server
from tests.kit import postgres_database

pytestmark = pytest.mark.postgres

IDLE_ON_B_SECONDS = 3.0


def test_a_session_touched_on_node_a_is_ended_by_node_bs_upkeep_once_idle(tmp_path) -> None:
    require_postgres()
    data_dir = tmp_path / "site"
    # Node A would keep the session for an hour; node B ends sessions idle for 3 seconds.
    with postgres_database() as url, running_server(data_dir, database_url=url) as a, \
            running_server(data_dir, database_url=url, demo=False, admin_token=a.admin_token,
                           extra_env={"CALKEEPER_SESSION_IDLE_MINUTES": str(IDLE_ON_B_SECONDS / 60)}), \
            httpx.Client(base_url=a.url, headers={"Authorization": f"Bearer {a.admin_token}"}, timeout=30) as api:
        opened = api.post("/api/v1/access", json={"document": "SalesFlash.qvw", "machine": "KIOSK-1"}).json()
        assert opened["granted"] and opened["cal_type"] == "session"
        session = opened["session_id"]
        assert api.post(f"/api/v1/sessions/{session}/touch").json()["active"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            expired = api.get("/api/v1/audit", params={"action": "session.expired"}).json()
            if expired:
                break
            time.sleep(0.5)
        [entry] = expired
        assert entry["actor"] == "calkeeper" and entry["details"]["why"] == "idle"
        answer = api.post(f"/api/v1/sessions/{session}/touch").json()
        assert not answer["active"] and "ended" in answer["reason"]
