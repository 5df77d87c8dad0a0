"""Names compare as Windows compares them, on SQLite and PostgreSQL, and migration 0009 re-keys what is stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from calkeeper.core.errors import InvalidUsers
from calkeeper.infra.database import make_engine
from calkeeper.store.engine import alembic_config
from tests.conftest import require_postgres
from tests.integration.steps import SALES, named_users, open_as, pool
from tests.kit import apply_license, postgres_database

PRECOMPOSED, DECOMPOSED = "ACME\\caf\u00e9", "ACME\\cafe\u0301"


@pytest.fixture
def manual_only(site):
    site.update_cal_settings(allow_dynamic_assignment=False)
    return site


def test_cafe_typed_two_ways_holds_one_named_cal(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    site.assign_named_cals(DECOMPOSED)
    assert [o.outcome for o in site.assign_named_cals(PRECOMPOSED)] == ["already assigned"]
    assert named_users(site) == [PRECOMPOSED]  # shown in NFC
    decision = open_as(site, PRECOMPOSED)
    assert decision.granted and decision.cal_type == "named"
    assert open_as(site, DECOMPOSED.upper()).cal_type == "named"
    assert pool(site, "named").assigned == 1


def test_strasse_and_its_capitals_hold_two_named_cals(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    site.assign_named_cals("ACME\\Stra\u00dfe;ACME\\STRASSE")
    assert sorted(named_users(site)) == ["ACME\\STRASSE", "ACME\\Stra\u00dfe"]
    assert pool(site, "named").assigned == 2
    site.remove_named_cals("ACME\\STRASSE")  # never used: freed at once
    assert named_users(site) == ["ACME\\Stra\u00dfe"]
    assert open_as(site, "acme\\STRAßE").cal_type == "named"
    assert open_as(site, "acme\\strasse").cal_type != "named"


def test_dotless_i_is_the_same_user_as_a_capital_i_as_on_windows(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    site.assign_named_cals("ACME\\IAN")
    site.assign_named_cals("ACME\\\u0131an")
    assert pool(site, "named").assigned == 1


def test_a_bidi_override_in_a_name_is_refused_at_the_gate_naming_it(site, key):
    apply_license(site, key, named=1, session=1)
    with pytest.raises(InvalidUsers, match="U\\+202E RIGHT-TO-LEFT OVERRIDE"):
        open_as(site, "ACME\\eve\u202egpj.exe")
    assert site.denials() == []


def test_a_console_user_name_is_nfc_and_refuses_format_characters(site):
    site.create_console_user(username="ren\u0065\u0301", password="a long enough passphrase 1", role="viewer")
    assert [u.username for u in site.list_console_users() if u.username.startswith("ren")] == ["ren\u00e9"]
    with pytest.raises(Exception, match="U\\+200B ZERO WIDTH SPACE"):
        site.create_console_user(username="ad\u200bmin", password="a long enough passphrase 2", role="viewer")


# -- migration 0009: keys stored by case folding become keys as Windows compares ----------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def bare_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, migrated by the test itself."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        require_postgres()
        with postgres_database(migrated=False) as url:
            yield url


def alembic_to(engine: sa.Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(minutes: int, sqlite: bool) -> datetime:
    when = T0 + timedelta(minutes=minutes)
    return when.replace(tzinfo=None) if sqlite else when


def test_migration_0009_rekeys_stored_names_and_merges_those_that_are_now_one(bare_url):
    engine = make_engine(bare_url)
    try:
        alembic_to(engine, "0007")
        lite = engine.dialect.name == "sqlite"
        with engine.begin() as c:
            def insert(table: str, **values: object) -> None:
                c.execute(sa.text(f"INSERT INTO {table} ({', '.join(values)}) VALUES "
                                  f"({', '.join(':' + k for k in values)})"), values)
            # users as 0007 keyed them: case-folded, two forms of café apart, Straße and STRASSE one
            insert("users", key=PRECOMPOSED.casefold(), name=PRECOMPOSED, first_seen=at(0, lite))
            insert("users", key=DECOMPOSED.casefold(), name=DECOMPOSED, first_seen=at(5, lite))
            insert("users", key="acme\\strasse", name="ACME\\Stra\u00dfe", first_seen=at(1, lite))
            for i, (name, removed) in enumerate([(PRECOMPOSED, None), (DECOMPOSED, None),
                                                 ("ACME\\Stra\u00dfe", None)], start=1):
                insert("named_cals", id=i, identity_kind="user", identity_key=name.casefold(), identity_name=name,
                       source="manual", assigned_at=at(i, lite), last_used=at(100 + i, lite), removed_at=removed)
            insert("named_cals", id=4, identity_kind="machine", identity_key="ws-1", identity_name="WS-1",
                   source="manual", assigned_at=at(0, lite))
            insert("documents", id=1, path="Sales.qvw", path_key="sales.qvw", cals_allocated=2,
                   allow_dynamic_assignment=False, claims=0)
            insert("documents", id=2, path="Caf\u00e9.qvw", path_key="caf\u00e9.qvw", cals_allocated=1,
                   allow_dynamic_assignment=False, claims=0)
            insert("documents", id=3, path="Cafe\u0301.qvw", path_key="cafe\u0301.qvw", cals_allocated=1,
                   allow_dynamic_assignment=False, claims=0, missing_since=at(0, lite))
            insert("document_cals", id=1, document_id=1, user_key="acme\\bob", user_name="ACME\\Bob",
                   source="manual", assigned_at=at(0, lite))
            insert("document_cals", id=2, document_id=3, user_key="acme\\ann", user_name="ACME\\Ann",
                   source="manual", assigned_at=at(0, lite))
            insert("session_cals", id=1, client_key="acme\\bob|pc-1|ajax", user_name="ACME\\Bob", machine="PC-1",
                   client="ajax", acquired_at=at(0, lite))
            insert("session_cals", id=2, client_key=f"{PRECOMPOSED.casefold()}|pc-2|ajax", user_name=PRECOMPOSED,
                   machine="PC-2", client="ajax", acquired_at=at(1, lite))
            insert("session_cals", id=3, client_key=f"{DECOMPOSED.casefold()}|pc-2|ajax", user_name=DECOMPOSED,
                   machine="PC-2", client="ajax", acquired_at=at(2, lite))
            insert("sessions", id="S-3", cal_type="session", cal_id=3, user_name=DECOMPOSED, document_id=1,
                   machine="PC-2", client="ajax", started_at=at(2, lite))
            insert("usage_cals", id=1, holder_key="anonymous@pc-9", user_name=None, machine="PC-9", document_id=1,
                   consumed_at=at(0, lite), expires_at=at(60, lite), returns_at=at(28 * 24 * 60, lite))
            insert("console_users", id=1, username="Stra\u00dfe", username_key="strasse", password_hash="x",
                   role="admin", created_at=at(0, lite))

        alembic_to(engine, "head")

        with engine.connect() as c:
            def rows(query: str) -> list[tuple[object, ...]]:
                return [tuple(r) for r in c.execute(sa.text(query))]
            assert rows("SELECT key, name FROM users ORDER BY key") == [
                ("ACME\\CAF\u00c9", PRECOMPOSED), ("ACME\\STRA\u00dfE", "ACME\\Stra\u00dfe")]
            named = rows("SELECT id, identity_kind, identity_key, identity_name FROM named_cals ORDER BY id")
            assert named == [(1, "user", "ACME\\CAF\u00c9", PRECOMPOSED), (3, "user", "ACME\\STRA\u00dfE",
                                                                            "ACME\\Stra\u00dfe"),
                             (4, "machine", "WS-1", "WS-1")]
            last_used = c.execute(sa.text("SELECT last_used FROM named_cals WHERE id = 1")).scalar_one()
            assert str(last_used).startswith("2026-01-05 09:42")  # the later "last used" of the two merged
            assert rows("SELECT id, path, path_key, cals_allocated FROM documents ORDER BY id") == [
                (1, "Sales.qvw", "SALES.QVW", 2), (2, "Caf\u00e9.qvw", "CAF\u00c9.QVW", 2)]
            assert rows("SELECT id, document_id, user_key FROM document_cals ORDER BY id") == [
                (1, 1, "ACME\\BOB"), (2, 2, "ACME\\ANN")]
            sessions = rows("SELECT id, client_key, released_at IS NULL FROM session_cals ORDER BY id")
            assert sessions == [(1, "ACME\\BOB|PC-1|ajax", True), (2, "ACME\\CAF\u00c9|PC-2|ajax", True),
                                (3, "ACME\\CAF\u00c9|PC-2|ajax", False)]
            assert rows("SELECT cal_id, user_name FROM sessions") == [(2, PRECOMPOSED)]
            assert rows("SELECT holder_key FROM usage_cals") == [("anonymous@PC-9",)]
            assert rows("SELECT username_key FROM console_users") == [("STRA\u00dfE",)]
            audit = [(a, t, json.loads(d)) for a, t, d in rows("SELECT action, target, details FROM audit_log")]
            actions = sorted(a for a, _, _ in audit)
            assert actions == ["cal.merged", "cal.merged", "document.merged"]
            merged = next(d for a, _, d in audit if a == "cal.merged" and d["cal_type"] == "named")
            assert merged["released"] == DECOMPOSED and "Windows" in merged["why"]
    finally:
        engine.dispose()


def test_a_site_upgraded_from_0007_serves_its_users_by_the_new_keys(bare_url, clock, key, root):
    import calkeeper
    engine = make_engine(bare_url)
    try:
        alembic_to(engine, "0007")
        with engine.begin() as c:
            c.execute(sa.text("INSERT INTO users (key, name, first_seen) VALUES ('acme\\alice', 'ACME\\Alice', "
                              "CURRENT_TIMESTAMP)"))
    finally:
        engine.dispose()
    site = calkeeper.open_site(bare_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester")
    try:
        site.update_cal_settings(allow_dynamic_assignment=False)
        apply_license(site, key, named=1)
        site.assign_named_cals("acme\\ALICE")
        assert named_users(site) == ["ACME\\Alice"]  # the first spelling seen, found by its new key
        assert open_as(site, "ACME\\alice", SALES).cal_type == "named"
    finally:
        site.close()
