"""A first open's claim in one call (``store.first_claims``): the same rows and answer as the whole order,
and the whole order wherever the one call cannot decide (rules changed, a CAL held, a CAL in quarantine)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

import calkeeper
from calkeeper.usecases.access import Access
from tests.integration.steps import SALES, audit_entries, open_as, pool
from tests.kit import apply_license

LICENSES = {
    "named": {"named": 5, "document": 0, "session": 0, "usage": 0},
    "document": {"named": 1, "document": 5, "session": 0, "usage": 0},
    "session": {"named": 1, "document": 0, "session": 5, "usage": 0},
    "usage": {"named": 1, "document": 0, "session": 0, "usage": 5},
}
TABLES = {"named": "named_cals", "document": "document_cals", "session": "session_cals", "usage": "usage_cals"}
# what differs between two users' rows, and the ids
PERSONAL = {"id", "identity_key", "identity_name", "user_key", "user_name", "client_key", "holder_key", "cal_id",
            "target", "machine"}


def licensed_for(site: calkeeper.LocalSite, key: Any, cal_type: str) -> None:
    """A first open of a new user takes a CAL of ``cal_type``."""
    apply_license(site, key, **LICENSES[cal_type])
    site.update_cal_settings(allow_dynamic_assignment=cal_type == "named")
    if cal_type == "document":
        site.set_document_allocation(SALES, 5)
        site.set_document_dynamic(SALES, True)


def rows(site: calkeeper.LocalSite, table: str) -> list[dict[str, Any]]:
    with site.app.engine.connect() as connection:
        return [dict(r) for r in connection.execute(sa.text(f"SELECT * FROM {table} ORDER BY 1")).mappings()]


def impersonal(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k not in PERSONAL}


def counters(site: calkeeper.LocalSite) -> dict[str, int]:
    with site.app.engine.connect() as connection:
        return dict(connection.execute(sa.text("SELECT cal_type, used FROM cal_pools")).all())  # type: ignore[arg-type]


@pytest.mark.parametrize("cal_type", list(LICENSES))
def test_the_one_call_writes_what_the_whole_order_writes(site, key, cal_type, monkeypatch):
    licensed_for(site, key, cal_type)
    one_call = open_as(site, "ACME\\first", machine="PC-1")
    after_one = counters(site)
    with monkeypatch.context() as patched:
        patched.setattr(Access, "_claim_first", lambda *args: None)  # the whole order (``allocate``)
        whole = open_as(site, "ACME\\second", machine="PC-2")

    assert (one_call.cal_type, whole.cal_type) == (cal_type, cal_type)
    assert one_call.reason == whole.reason.replace("second", "first")
    assert (one_call.user, one_call.dynamic) == ("ACME\\first", whole.dynamic)
    assert counters(site)[cal_type] == after_one[cal_type] + 1 == 2
    first, second = rows(site, TABLES[cal_type])
    assert impersonal(first) == impersonal(second)
    assert (first.get("machine"), second.get("machine")) == ("PC-1", "PC-2")
    sessions = {row["id"]: row for row in rows(site, "sessions")}  # ids of one millisecond: in no order
    first_session, second_session = sessions[one_call.session_id], sessions[whole.session_id]
    assert impersonal(first_session) == impersonal(second_session)
    assert first_session["cal_id"] == first["id"]
    assert first_session["user_name"] == "ACME\\first"
    audits = [impersonal(e.__dict__) for e in audit_entries(site) if e.action.endswith("_cal.assigned")]
    assert audits[:2] == [audits[1]] * 2 if cal_type in ("named", "document") else audits == []
    assert site.find_users("acme") == ["ACME\\first", "ACME\\second"]


@pytest.mark.parametrize("cal_type", ["named", "document"])
def test_the_cal_claimed_in_one_call_carries_the_first_spelling_seen(site, key, cal_type):
    apply_license(site, key, named=1, document=0, session=0, usage=0)
    site.update_cal_settings(allow_dynamic_assignment=False)
    assert not open_as(site, "ACME\\Alice").granted  # refused, but seen
    licensed_for(site, key, cal_type)
    decision = open_as(site, "acme\\ALICE")
    assert decision.cal_type == cal_type and decision.user == "ACME\\Alice"
    [row] = rows(site, TABLES[cal_type])
    assert row.get("identity_name", row.get("user_name")) == "ACME\\Alice"
    [entry] = [e for e in audit_entries(site) if e.action == f"{cal_type}_cal.assigned"]
    assert entry.target == "ACME\\Alice"
    assert rows(site, "sessions")[0]["user_name"] == "ACME\\Alice"


def test_an_anonymous_first_open_takes_a_session_cal_in_one_call(site, key):
    licensed_for(site, key, "session")
    decision = open_as(site, None, machine="KIOSK-7")
    assert decision.cal_type == "session" and decision.user is None
    [row] = rows(site, "session_cals")
    assert (row["client_key"], row["user_name"], row["machine"]) == ("anonymous@KIOSK-7|KIOSK-7|ajax", None, "KIOSK-7")
    assert rows(site, "sessions")[0]["user_name"] is None


def test_rules_changed_on_another_node_are_read_before_a_first_claim(database_url, clock, key, root):
    trusted = {key.key_id: key.private.public_key()}
    node_a, node_b = (calkeeper.open_site(database_url, clock=clock, trusted_keys=trusted, root_folder=root)
                      for _ in range(2))
    try:
        apply_license(node_a, key, named=5, document=0, session=5, usage=0)
        node_a.update_cal_settings(allow_dynamic_assignment=True)
        assert open_as(node_a, "ACME\\one").cal_type == "named"  # node A's cache holds rules with dynamic Named on
        node_b.update_cal_settings(allow_dynamic_assignment=False)
        assert open_as(node_a, "ACME\\two", machine="PC-2").cal_type == "session"
        assert pool(node_a, "named").assigned == 1
    finally:
        node_a.close()
        node_b.close()


def test_a_holder_whose_cal_is_in_quarantine_gets_what_the_whole_order_gives(site, key):
    apply_license(site, key, named=2, document=0, session=2, usage=0)
    assert open_as(site, "ACME\\leaver").cal_type == "named"
    site.remove_named_cals("ACME\\leaver")  # in quarantine for 7 days: it still occupies the pool
    decision = open_as(site, "ACME\\leaver")
    assert decision.cal_type == "session"
    assert counters(site) == {"named": 1, "document": 0, "session": 1, "usage": 0}


def test_a_full_pool_is_swept_by_the_whole_order_before_a_first_claim_is_refused(site, key, clock):
    apply_license(site, key, named=1, document=0, session=0, usage=0)
    assert open_as(site, "ACME\\leaver").cal_type == "named"
    site.remove_named_cals("ACME\\leaver")
    clock.advance(timedelta(days=8))  # the quarantine has ended, but nothing swept it yet: the counter says full
    decision = open_as(site, "ACME\\newcomer")
    assert decision.cal_type == "named"
    assert [c.user for c in site.list_named_cals().items] == ["ACME\\newcomer"]
    assert counters(site)["named"] == 1
