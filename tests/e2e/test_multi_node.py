"""Two ``calkeeper serve`` nodes on one PostgreSQL database, over HTTP: one pool, one truth.

The site: the demo site with a bigger license (40 Named CALs, no Session or Usage CALs, dynamic
Named assignment on), served by node A and node B from the same data dir and database.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from calkeeper.authority.signing import load_signing_key
from calkeeper.core.serials import control_number
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER, DEMO_SERIAL
from tests.conftest import require_postgres
from tests.e2e.servers import RunningServer, running_server
from tests.kit import postgres_database, signed_lef

pytestmark = pytest.mark.postgres

NAMED_CALS = 40
FIRST_OPENS = 400
CONCURRENT = 64
DOCUMENT = "Advertising Analytix.qvw"  # no Document CALs allocated: a Named CAL or nothing
LOAD_CALS = 2_000  # the load test's license: 2,000 Named CALs for 5,000 first-time users
LOAD_OPENS = 5_000
PROPAGATION_BOUND = 1.0  # seconds: the product's promise (the cache re-reads the generation every 0.5 s)


@dataclass
class Node:
    server: RunningServer
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.server.admin_token}"}

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.client.request(method, path, **kwargs)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()

    def open(self, user: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.ok("POST", "/api/v1/access", json={"user": user, "document": DOCUMENT})
        return answer

    def named_holders(self) -> list[str]:
        """Every user holding a Named CAL, page by page."""
        users: list[str] = []
        after: str | None = ""
        while after is not None:
            page = self.ok("GET", "/api/v1/cals/named", params={"limit": 1000, "after": after})
            users += [c["user"] for c in page["items"]]
            after = page["next_after"]
        return users

    def named_pool(self) -> dict[str, Any]:
        pools: list[dict[str, Any]] = self.ok("GET", "/api/v1/cals")["pools"]
        return next(p for p in pools if p["cal_type"] == "named")


def _bearer(server: RunningServer) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.admin_token}"}


@pytest.fixture(scope="module")
def nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Node, Node]]:
    """Node A sets up the demo site and applies the bigger license; node B joins the same database."""
    require_postgres()
    data_dir = tmp_path_factory.mktemp("multi-node") / "site"
    with postgres_database() as url, running_server(data_dir, database_url=url) as a, \
            running_server(data_dir, database_url=url, demo=False, admin_token=a.admin_token) as b, \
            httpx.Client(base_url=a.url, headers=_bearer(a), timeout=30) as client_a, \
            httpx.Client(base_url=b.url, headers=_bearer(a), timeout=30) as client_b:
        node_a, node_b = Node(a, client_a), Node(b, client_b)
        _apply_license(node_a, NAMED_CALS)
        yield node_a, node_b


@pytest.fixture
def site(nodes: tuple[Node, Node]) -> tuple[Node, Node]:
    """Both nodes, with every CAL assignment cleared: all 40 Named CALs free."""
    a, b = nodes
    a.ok("POST", "/api/v1/maintenance/clear-cal-data", json={"confirm": True})
    for node in (a, b):
        pool = node.named_pool()
        assert (pool["in_license"], pool["assigned"], pool["free"]) == (NAMED_CALS, 0, NAMED_CALS)
    assert a.ok("GET", "/api/v1/cals")["settings"]["allow_dynamic_assignment"] is True
    return a, b


def _apply_license(node: Node, named: int) -> None:
    key = load_signing_key(node.server.data_dir / "authority" / "keys")
    lef = signed_lef(key, DEMO_SERIAL, named=named, session=0, usage=0, owner=DEMO_OWNER,
                     organization=DEMO_ORGANIZATION)
    node.ok("PUT", "/api/v1/license", json={
        "serial": DEMO_SERIAL, "control": control_number(DEMO_SERIAL), "owner": DEMO_OWNER,
        "organization": DEMO_ORGANIZATION, "lef": lef})


async def _first_opens(nodes: tuple[Node, Node], users: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Every user opens the document once, on node A or B in turn, CONCURRENT at a time."""
    gate = asyncio.Semaphore(CONCURRENT)
    limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
    clients = [httpx.AsyncClient(base_url=n.url, headers=n.headers, timeout=60, limits=limits) for n in nodes]

    async def open_once(n: int, user: str) -> tuple[str, dict[str, Any]]:
        async with gate:
            response = await clients[n % 2].post("/api/v1/access", json={"user": user, "document": DOCUMENT})
        assert response.status_code == 200, f"{user}: {response.status_code} {response.text}"
        return user, response.json()

    try:
        return await asyncio.gather(*(open_once(n, user) for n, user in enumerate(users)))
    finally:
        for client in clients:
            await client.aclose()


def test_two_nodes_grant_exactly_the_licensed_named_cals_to_a_crowd_of_first_time_users(
    site: tuple[Node, Node],
) -> None:
    users = [f"ACME\\crowd{n:03d}" for n in range(FIRST_OPENS)]
    answers = asyncio.run(_first_opens(site, users))

    granted = [user for user, answer in answers if answer["granted"]]
    assert len(granted) == NAMED_CALS
    assert {(a["cal_type"], a["dynamic"]) for _, a in answers if a["granted"]} == {("named", True)}
    assert Counter(a["code"] for _, a in answers if not a["granted"]) == {"no_cal_available": FIRST_OPENS - NAMED_CALS}

    for node in site:  # both nodes read the same pool: 40 rows, the 40 users the answers named
        pool = node.named_pool()
        assert (pool["assigned"], pool["free"], pool["excess"]) == (NAMED_CALS, 0, 0)
        page = node.ok("GET", "/api/v1/cals/named", params={"limit": 1000})
        assert page["total"] == NAMED_CALS
        assert sorted(c["user"] for c in page["items"]) == sorted(granted)


def test_5000_first_time_opens_from_64_clients_on_two_nodes_take_exactly_the_licensed_cals(
    site: tuple[Node, Node],
) -> None:
    """The load test of the write path: every first-time open a claim, half on each node, 64 at a time."""
    a = site[0]
    _apply_license(a, LOAD_CALS)
    try:
        users = [f"ACME\\load{n:05d}" for n in range(LOAD_OPENS)]
        started = time.perf_counter()
        answers = asyncio.run(_first_opens(site, users))
        print(f"{LOAD_OPENS:,} first-time opens in {time.perf_counter() - started:.1f} s")

        granted = sorted(user for user, answer in answers if answer["granted"])
        assert len(granted) == LOAD_CALS
        refused = Counter(answer["code"] for _, answer in answers if not answer["granted"])
        assert refused == {"no_cal_available": LOAD_OPENS - LOAD_CALS}
        served_by = Counter(n % 2 for n, (_, answer) in enumerate(answers) if answer["granted"])
        assert served_by[0] > 0 and served_by[1] > 0  # both nodes claimed from the one pool

        for node in site:  # every grant acknowledged is held, on both nodes' reading, and counters agree
            pool = node.named_pool()
            assert (pool["in_license"], pool["assigned"], pool["free"], pool["excess"]) == (LOAD_CALS, LOAD_CALS, 0, 0)
            assert sorted(node.named_holders()) == granted
            metrics = node.client.get("/metrics").text
            assert "calkeeper_pool_counters_disagreeing 0.0" in metrics
        for user in granted[:50]:  # a holder's next open is a repeat: the same CAL, on either node
            for node in site:
                answer = node.open(user)
                assert (answer["granted"], answer["cal_type"], answer["dynamic"]) == (True, "named", False), answer
    finally:
        a.ok("POST", "/api/v1/maintenance/clear-cal-data", json={"confirm": True})
        _apply_license(a, NAMED_CALS)


def test_a_named_cal_removed_on_one_node_stops_serving_on_the_other_within_a_second(
    site: tuple[Node, Node],
) -> None:
    a, b = site
    delays = []
    for n in range(3):
        user = f"ACME\\roaming{n}"
        a.ok("POST", "/api/v1/cals/named", json={"users": [user]})
        for _ in range(3):  # the first open reads the database; the next ones come from node B's cache
            answer = b.open(user)
            assert (answer["granted"], answer["cal_type"]) == (True, "named"), answer

        removal = a.ok("DELETE", f"/api/v1/cals/named/{quote(user, safe='')}")
        removed_at = time.perf_counter()
        assert removal["outcome"] == "quarantined", removal  # used a moment ago: it stays out for 7 days
        assert a.open(user)["granted"] is False  # the node that made the change knows at once

        delay = _until_not_named(b, user, removed_at)
        delays.append(delay)
        answer = b.open(user)
        assert (answer["granted"], answer["code"]) == (False, "no_cal_available"), answer
    print(f"removal took effect on the other node after {', '.join(f'{d * 1000:.0f} ms' for d in delays)}")
    assert max(delays) < PROPAGATION_BOUND, delays


def _until_not_named(node: Node, user: str, since: float) -> float:
    """Seconds from ``since`` until the node stops granting the user's Named CAL (polled every 20 ms)."""
    deadline = since + 3 * PROPAGATION_BOUND
    while time.perf_counter() < deadline:
        answer = node.open(user)
        if not (answer["granted"] and answer["cal_type"] == "named"):
            return time.perf_counter() - since
        time.sleep(0.02)
    pytest.fail(f"{node.url} still granted {user} the removed Named CAL after {3 * PROPAGATION_BOUND:g} s")
