"""Faults over HTTP: the database goes away and comes back; the server is killed mid-burst.

The outage runs on a throwaway PostgreSQL cluster of its own (initdb and pg_ctl as the ``postgres``
OS user, trust auth, 127.0.0.1 only), never on the shared server other tests use.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from calkeeper.authority.signing import load_signing_key
from calkeeper.core.serials import control_number
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER, DEMO_SERIAL
from tests.conftest import require_postgres
from tests.e2e.api_site import error_of
from tests.e2e.servers import RunningServer, free_port, running_server
from tests.kit import postgres_database, signed_lef

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OUTAGE_ANSWER_SECONDS = 6.0  # connect_timeout is 5 s; a refused connection should answer far sooner
OUTAGE_SECONDS = 30.0  # how long the two-node test keeps the database stopped
RECOVERY_SECONDS = 15.0
ACKNOWLEDGED = 40  # assignments answered before the server is killed


@dataclass
class Cluster:
    """A PostgreSQL cluster in a temporary folder, run by the ``postgres`` OS user."""

    folder: Path
    port: int
    running: bool = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def pg(self, *args: str) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *args], cwd=self.folder, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"{args}: rc={done.returncode}\n{done.stdout}\n{done.stderr}"

    def start(self) -> None:
        self.pg(str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.folder / "log"),
                "-w", "-t", "60", "start")
        self.running = True

    def stop_immediately(self) -> None:
        """Stop as a crash would: no checkpoint, every connection cut."""
        self.pg(str(PG_BIN / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        self.running = False


@contextmanager
def throwaway_cluster() -> Iterator[Cluster]:
    """initdb a new cluster on a free port, start it, and stop and remove it at the end."""
    if os.geteuid() != 0 or not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        pytest.skip(f"needs root, runuser and PostgreSQL 15 in {PG_BIN} to run a throwaway cluster")
    folder = Path(tempfile.mkdtemp(prefix="calkeeper-pg-"))  # not under pytest's tmp: postgres must enter it
    shutil.chown(folder, "postgres", "postgres")
    cluster = Cluster(folder, free_port())
    try:
        cluster.pg(str(PG_BIN / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--no-sync", "--no-instructions")
        with (folder / "data" / "postgresql.conf").open("a") as conf:
            conf.write(f"\nport = {cluster.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{folder}'\n")
        cluster.start()
        yield cluster
    finally:
        if cluster.running:
            with suppress(AssertionError, subprocess.SubprocessError):
                cluster.stop_immediately()
        shutil.rmtree(folder, ignore_errors=True)


def _bigger_license(server: RunningServer, named: int) -> None:
    """Apply the demo serial with more Named CALs, signed by the demo authority key."""
    key = load_signing_key(server.data_dir / "authority" / "keys")
    lef = signed_lef(key, DEMO_SERIAL, named=named, session=0, usage=0, owner=DEMO_OWNER,
                     organization=DEMO_ORGANIZATION)
    response = httpx.put(f"{server.url}/api/v1/license", headers=_auth(server), timeout=30, json={
        "serial": DEMO_SERIAL, "control": control_number(DEMO_SERIAL), "owner": DEMO_OWNER,
        "organization": DEMO_ORGANIZATION, "lef": lef})
    assert response.status_code == 200, response.text


def _auth(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.admin_token}"}


def _named_holders(client: httpx.Client) -> set[str]:
    page = client.get("/api/v1/cals/named", params={"limit": 1000})
    assert page.status_code == 200, page.text
    assert page.json()["next_after"] is None
    return {c["user"] for c in page.json()["items"]}


# The database goes away and comes back


@dataclass
class PairAssigner:
    """Assigns two new users at a time (all or nothing), one request after another, until stopped."""

    client: httpx.Client
    answers: list[tuple[tuple[str, str], int]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            pair = (f"ACME\\pair{n}a", f"ACME\\pair{n}b")
            status = self.client.post("/api/v1/cals/named", json={"users": list(pair)}).status_code
            self.answers.append((pair, status))
            n += 1
            time.sleep(0.01)


@pytest.mark.postgres
def test_while_the_database_is_down_requests_fail_fast_with_503_and_the_same_server_recovers_after(
    tmp_path: Path,
) -> None:
    with throwaway_cluster() as cluster, running_server(tmp_path / "site", database_url=cluster.url) as server, \
            httpx.Client(base_url=server.url, headers=_auth(server), timeout=30) as client:
        _bigger_license(server, named=200)
        assert client.post("/api/v1/cals/named", json={"users": ["ACME\\before"]}).status_code == 200
        assert client.get("/readyz").status_code == 200
        held_before = _named_holders(client)

        # a burst of two-user assignments is running when the database stops
        assigner = PairAssigner(client)
        burst = threading.Thread(target=assigner.run, daemon=True)
        burst.start()
        time.sleep(0.5)
        cluster.stop_immediately()
        time.sleep(1.0)  # past the 0.5 s the decision cache and the 1 s the token cache may still answer from
        assigner.stop.set()
        burst.join(timeout=60)
        assert {status for _, status in assigner.answers} <= {200, 503}
        assert assigner.answers[-1][1] == 503, "the burst never saw the outage"

        during = [
            ("POST", "/api/v1/access", {"json": {"user": "ACME\\during1", "document": "SalesFlash.qvw"}}),
            ("POST", "/api/v1/cals/named", {"json": {"users": ["ACME\\during2", "ACME\\during3"]}}),
            ("DELETE", "/api/v1/cals/named/" + quote("ACME\\before", safe=""), {}),
            ("GET", "/api/v1/cals", {}),
            ("GET", "/api/v1/users/" + quote("ACME\\before", safe="") + "/cals", {}),
        ]
        slowest = 0.0
        for method, path, kwargs in during:
            started = time.perf_counter()
            response = client.request(method, path, **kwargs)
            took = time.perf_counter() - started
            slowest = max(slowest, took)
            assert took < OUTAGE_ANSWER_SECONDS, f"{method} {path} took {took:.1f} s to answer"
            error = error_of(response, 503, "store_unavailable")
            assert "the CAL database is unavailable" in error["message"], error
            assert f":{cluster.port}" not in error["message"] and "127.0.0.1" not in error["message"], error
            assert response.headers["Retry-After"] == "1"
        assert client.get("/healthz").status_code == 200  # alive, just not ready
        # degraded (203) when the node knew holders to serve from memory; the burst's last change may have
        # dropped what it knew, and then it is simply not ready
        ready = client.get("/readyz")
        assert ready.status_code in {203, 503}, ready.text
        assert "the CAL database cannot be reached: " in server.output  # why, with its address: in the log

        cluster.start()
        recovered = _wait_until_ready(client)
        assert server.process.poll() is None  # the same process, never restarted
        assert client.get("/api/v1/cals").status_code == 200
        answer = client.post("/api/v1/access", json={"user": "ACME\\after", "document": "Advertising Analytix.qvw"})
        assert answer.status_code == 200 and answer.json()["granted"] is True, answer.text
        assert client.post("/api/v1/cals/named", json={"users": ["ACME\\after2"]}).status_code == 200

        # nothing half-written: what failed during the outage left no trace, each pair is whole or absent
        holders = _named_holders(client)
        assert "ACME\\before" in holders  # its removal was refused
        assert not holders & {"ACME\\during1", "ACME\\during2", "ACME\\during3"}
        for user in ("ACME\\during2", "ACME\\during3"):
            assert client.get("/api/v1/audit", params={"target": user}).json() == []
        for (first, second), status in assigner.answers:
            assert (first in holders) == (second in holders), f"{first} and {second} were split"
            if status == 200:
                assert first in holders, f"{first} and {second} were acknowledged, then lost"
        pairs = {user for pair, _ in assigner.answers for user in pair}
        assert holders == held_before | (pairs & holders) | {"ACME\\after", "ACME\\after2"}
        print(f"outage answers within {slowest * 1000:.0f} ms; ready {recovered:.1f} s after the database came "
              f"back; {sum(s == 200 for _, s in assigner.answers)} pairs acknowledged before the outage")


def _wait_until_ready(client: httpx.Client) -> float:
    """Seconds until /readyz answers 200 again."""
    started = time.perf_counter()
    while time.perf_counter() - started < RECOVERY_SECONDS:
        with suppress(httpx.TransportError):
            if client.get("/readyz").status_code == 200:
                return time.perf_counter() - started
        time.sleep(0.1)
    pytest.fail(f"the server was still not ready {RECOVERY_SECONDS:g} s after the database came back")


# The server is killed mid-burst


@dataclass
class Assigner:
    """Assigns one new user per request until the server stops answering; keeps what was acknowledged."""

    client: httpx.Client
    prefix: str
    acknowledged: list[str] = field(default_factory=list)
    refused: list[tuple[str, int]] = field(default_factory=list)
    cut_off: bool = False

    def run(self) -> None:
        n = 0
        while True:
            user = f"ACME\\{self.prefix}{n}"
            try:
                response = self.client.post("/api/v1/cals/named", json={"users": [user]})
            except httpx.TransportError:
                self.cut_off = True
                return
            if response.status_code == 200:
                assert response.json() == [{"user": user, "outcome": "assigned"}]
                self.acknowledged.append(user)
            else:
                self.refused.append((user, response.status_code))
            n += 1


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """None: SQLite in the data dir (the default); else a throwaway database on the shared PostgreSQL."""
    if request.param == "sqlite":
        yield None
    else:
        require_postgres()
        with postgres_database() as url:
            yield url


def test_a_server_killed_mid_burst_loses_no_acknowledged_assignment(
    tmp_path: Path, database: str | None
) -> None:
    data_dir = tmp_path / "site"
    with running_server(data_dir, database_url=database) as server:
        _bigger_license(server, named=5000)
        token = server.admin_token
        assigners = [Assigner(httpx.Client(base_url=server.url, headers=_auth(server), timeout=30), f"burst{w}x")
                     for w in range(3)]
        threads = [threading.Thread(target=a.run, daemon=True) for a in assigners]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while sum(len(a.acknowledged) for a in assigners) < ACKNOWLEDGED and time.monotonic() < deadline:
            time.sleep(0.05)
        server.kill()
        for thread in threads:
            thread.join(timeout=60)
        for assigner in assigners:
            assigner.client.close()
    acknowledged = [user for a in assigners for user in a.acknowledged]
    assert all(a.cut_off for a in assigners), "every assigner was still sending when the server died"
    assert not [r for a in assigners for r in a.refused]
    assert len(acknowledged) >= ACKNOWLEDGED

    with running_server(data_dir, database_url=database, demo=False, admin_token=token) as again, \
            httpx.Client(base_url=again.url, headers=_auth(again), timeout=30) as client:
        holders = _named_holders(client)
        lost = sorted(set(acknowledged) - holders)
        assert not lost, f"{len(lost)} acknowledged assignments were lost: {lost[:5]}"
        attempted = len(acknowledged) + len(assigners)  # at most one unanswered request per assigner
        assert len(acknowledged) <= len(holders - {"ACME\\alice", "ACME\\bob"}) <= attempted
        one = client.get("/api/v1/users/" + quote(acknowledged[-1], safe="") + "/cals").json()
        assert one["named_cal"]["user"] == acknowledged[-1]
        pool: dict[str, Any] = next(p for p in client.get("/api/v1/cals").json()["pools"] if p["cal_type"] == "named")
        assert pool["assigned"] == len(holders)
        print(f"{len(acknowledged)} acknowledged assignments before SIGKILL, all held after the restart")


# Two nodes through an outage: holders keep opening, first-time opens wait, nothing is lost


@dataclass
class SteadyLoad:
    """Repeat opens by holders and first-time opens by newcomers, on both nodes, until stopped."""

    nodes: list[httpx.Client]
    holders: list[str]
    answers: list[tuple[str, float, int, bool]] = field(default_factory=list)  # kind, asked at, status, degraded
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            node = self.nodes[n % 2]
            holder = self.holders[n % len(self.holders)]
            self._ask(node, "holder", holder, f"PC-{holder[-1]}")
            self._ask(node, "newcomer", f"ACME\\new{n}", f"NEW-{n}")
            n += 1
            time.sleep(0.05)

    def _ask(self, node: httpx.Client, kind: str, user: str, machine: str) -> None:
        sent = time.monotonic()  # a slow answer still counts for the moment it was asked
        with suppress(httpx.TransportError):
            r = node.post("/api/v1/access", json={"user": user, "document": "SalesFlash.qvw", "machine": machine})
            degraded = r.status_code == 200 and r.json().get("degraded", False)
            if degraded:
                assert r.headers["X-Calkeeper-Degraded"] == "true"
            if r.status_code == 503:
                assert r.headers["Retry-After"]
            self.answers.append((kind, sent, r.status_code, degraded))


def test_two_nodes_serve_holders_through_an_outage_and_catch_up_after(tmp_path: Path) -> None:
    holders = [f"ACME\\holder{i}" for i in range(4)]
    with throwaway_cluster() as cluster, \
            running_server(tmp_path / "site", database_url=cluster.url) as a, \
            running_server(tmp_path / "site", database_url=cluster.url, demo=False,
                           admin_token=a.admin_token) as b, \
            httpx.Client(base_url=a.url, headers=_auth(a), timeout=30) as node_a, \
            httpx.Client(base_url=b.url, headers=_auth(a), timeout=30) as node_b:
        _bigger_license(a, named=60)
        assert node_a.post("/api/v1/cals/named", json={"users": holders}).status_code == 200
        for node in (node_a, node_b):  # each node has served every holder once: its cache knows them
            for user in holders:
                r = node.post("/api/v1/access", json={"user": user, "document": "SalesFlash.qvw",
                                                      "machine": f"PC-{user[-1]}"})
                assert r.json()["granted"], r.text
        load = SteadyLoad([node_a, node_b], holders)
        worker = threading.Thread(target=load.run, daemon=True)
        worker.start()
        time.sleep(1.0)
        cluster.stop_immediately()
        stopped = time.monotonic()
        time.sleep(3.0)
        for node in (node_a, node_b):
            assert node.get("/readyz").status_code == 203
            assert node.get("/healthz").status_code == 200
            assert error_of(node.get("/api/v1/cals"), 503, "store_unavailable")
            page = node.get("/cals", follow_redirects=False)
            assert page.status_code in {303, 503}  # a console page: the sign-in redirect or the outage page
        time.sleep(OUTAGE_SECONDS - 3.0)
        restarting = time.monotonic()  # the database may answer before pg_ctl returns
        cluster.start()
        _wait_until_ready(node_a)
        _wait_until_ready(node_b)
        ready_at = time.monotonic()
        time.sleep(3.0)  # the first-time opens succeed again
        load.stop.set()
        worker.join(timeout=30)

        during = [x for x in load.answers if stopped + 1.0 < x[1] < restarting]
        after = [x for x in load.answers if x[1] > ready_at + 1.0]
        assert during and after
        assert all(status == 200 and degraded for kind, _, status, degraded in during if kind == "holder"), \
            [x for x in during if x[0] == "holder" and x[2] != 200][:3]
        assert all(status == 503 for kind, _, status, _ in during if kind == "newcomer")
        assert any(kind == "newcomer" and status == 200 for kind, _, status, _ in after)
        assert all(status == 200 and not degraded for kind, _, status, degraded in after if kind == "holder")

        # within the license, every degraded grant recorded, the audit trail in order
        time.sleep(2.0)  # an upkeep tick on each node writes what waited
        pools = {p["cal_type"]: p for p in node_a.get("/api/v1/cals").json()["pools"]}
        assert pools["named"]["assigned"] <= pools["named"]["in_license"] == 60
        for user in holders:
            cals = node_a.get("/api/v1/users/" + quote(user, safe="") + "/cals").json()
            assert cals["named_cal"]["last_used"] is not None
        audit = node_a.get("/api/v1/audit", params={"limit": 500}).json()
        times = [row["at"] for row in audit]
        assert times == sorted(times, reverse=True)
