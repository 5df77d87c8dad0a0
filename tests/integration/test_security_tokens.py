"""API tokens are named, and a name says which one: unique among live tokens, never taken for an id.
Bad tokens are counted per address in the database (the brake every worker shares) and audited.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

import calkeeper
from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.infra.database import make_engine
from calkeeper.store.engine import alembic_config
from calkeeper.usecases.failure_brake import Verdict
from tests.conftest import require_postgres
from tests.kit import postgres_database


def live_names(site: calkeeper.LocalSite) -> dict[int, str]:
    return {t.id: t.name for t in site.list_tokens() if t.revoked_at is None}


def test_a_token_named_like_a_number_is_revoked_by_its_name_and_the_token_with_that_id_stays(
    site: calkeeper.LocalSite,
) -> None:
    admin, _ = site.create_token(name="deploy", role="admin")
    numbered, _ = site.create_token(name=str(admin.id), role="viewer")
    revoked = site.revoke_token(str(admin.id))
    assert [(t.id, t.name) for t in revoked] == [(numbered.id, str(admin.id))]
    assert live_names(site) == {admin.id: "deploy"}


def test_a_token_is_revoked_by_its_id_only_when_the_id_is_given_as_one(site: calkeeper.LocalSite) -> None:
    admin, _ = site.create_token(name="deploy", role="admin")
    with pytest.raises(NotFound) as by_name:
        site.revoke_token(str(admin.id))
    assert by_name.value.code == "unknown_token"
    assert by_name.value.message == (f"there is no live token named '{admin.id}' (the live token with id {admin.id} is "
                                     "named 'deploy': revoke it by its id to mean that one)")
    assert [t.name for t in site.revoke_token(token_id=admin.id)] == ["deploy"]
    with pytest.raises(NotFound, match=f"no live token with id {admin.id}"):
        site.revoke_token(token_id=admin.id)


def test_a_revocation_names_a_token_or_gives_its_id_and_not_both(site: calkeeper.LocalSite) -> None:
    site.create_token(name="deploy", role="admin")
    for name, token_id in (("", None), ("deploy", 1)):
        with pytest.raises(InvalidInput, match="one of the two"):
            site.revoke_token(name, token_id=token_id)
    with pytest.raises(NotFound):
        site.revoke_token(token_id=2**40)
    assert list(live_names(site).values()) == ["deploy"]


def test_two_live_tokens_cannot_share_a_name_but_a_revoked_one_gives_its_name_up(site: calkeeper.LocalSite) -> None:
    site.create_token(name="app-server", role="gate")
    with pytest.raises(InvalidInput) as taken:
        site.create_token(name=" app-server ", role="admin")
    assert taken.value.code == "token_name_taken"
    assert "already a live token named 'app-server'" in taken.value.message
    site.revoke_token("app-server")
    second, _ = site.create_token(name="app-server", role="gate")
    assert live_names(site) == {second.id: "app-server"}
    assert [t.name for t in site.list_tokens()] == ["app-server", "app-server"]  # the revoked one keeps its name


def test_a_name_that_live_tokens_still_share_is_refused_as_ambiguous(site: calkeeper.LocalSite) -> None:
    """A database where names were never made unique (the constraint dropped by hand, say)."""
    with site.app.engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX uq_api_tokens_live_name")
    first, _ = site.create_token(name="ci", role="admin")
    with site.app.engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO api_tokens (name, role, token_hash, created_at, created_by) "
                                   "SELECT name, role, 'other-hash', created_at, created_by FROM api_tokens")
    with pytest.raises(InvalidInput) as ambiguous:
        site.revoke_token("ci")
    assert ambiguous.value.code == "ambiguous_token" and "2 live tokens are named 'ci'" in ambiguous.value.message
    assert [t.id for t in site.revoke_token(token_id=first.id)] == [first.id]


# -- bad tokens --------------------------------------------------------------------------------------------------


def test_a_bad_token_is_recorded_for_its_address_naming_the_revoked_token_it_was_and_never_its_secret(
    site: calkeeper.LocalSite,
) -> None:
    old, secret = site.create_token(name="old-ci", role="admin")
    site.revoke_token("old-ci")
    verdict = site.app.tokens.record_bad_token(secret, address="10.0.0.7", request="GET /api/v1/cals")
    assert verdict == Verdict(failures=1)
    site.app.tokens.record_bad_token("ck_guessed", address="10.0.0.7", request="POST /api/v1/access")
    newest, oldest = site.audit(action="api.token_refused")
    assert (oldest.actor, oldest.target) == ("address:10.0.0.7", "10.0.0.7")
    assert oldest.details == {"request": "GET /api/v1/cals", "recent_failures": 1,
                              "token": f"old-ci (id {old.id}, revoked)"}
    assert newest.details == {"request": "POST /api/v1/access", "recent_failures": 2}
    assert secret not in json.dumps([oldest.details, newest.details])


def test_bad_tokens_refuse_an_address_for_the_rest_of_the_minute_and_are_then_forgotten(
    site: calkeeper.LocalSite, clock: calkeeper.FrozenClock,
) -> None:
    tokens = site.app.tokens
    verdicts = [tokens.record_bad_token("ck_guessed", address="10.0.0.7", request="GET /") for _ in range(30)]
    assert [v.hold_seconds for v in verdicts[:6]] == [0, 0, 0, 0, 0.25, 0.5]
    assert [v.refused for v in verdicts] == [False] * 29 + [True]
    assert tokens.token_brake("10.0.0.7").retry_after_seconds == 60
    assert not tokens.token_brake("10.0.0.8").refused, "another address is not refused"
    assert tokens.record_bad_token("ck_guessed", address="10.0.0.7", request="GET /").failures == 30, \
        "a refused address is not counted again"
    clock.advance(timedelta(seconds=61))
    assert tokens.token_brake("10.0.0.7") == Verdict(failures=0)
    assert tokens.record_bad_token("ck_guessed", address="10.0.0.7", request="GET /").failures == 1
    with site.app.engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM auth_failures").scalar_one() == 1, \
            "the failures the brake no longer counts are gone"


# -- the migration that made names unique ------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        require_postgres()
        with postgres_database(migrated=False) as url:
            yield url


def alembic_upgrade(engine: sa.Engine, revision: str) -> None:
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def test_the_migration_renames_older_live_namesakes_and_says_so_in_the_audit_trail(unmigrated_url: str) -> None:
    engine = make_engine(unmigrated_url)
    alembic_upgrade(engine, "0006")
    rows = [("ci", None), ("ci", None), ("ci", "2026-01-02"), ("app", None), ("ci", None)]
    with engine.begin() as connection:
        for n, (name, revoked) in enumerate(rows, start=1):
            connection.execute(sa.text(
                "INSERT INTO api_tokens (id, name, role, token_hash, created_at, created_by, revoked_at) "
                "VALUES (:id, :name, 'admin', :hash, '2026-01-01', 'cli', :revoked)"),
                {"id": n, "name": name, "hash": f"hash-{n}", "revoked": revoked})
    alembic_upgrade(engine, "head")
    engine.dispose()
    site = calkeeper.open_site(unmigrated_url)
    try:
        names = {t.id: t.name for t in site.list_tokens()}
        assert names == {1: "ci (id 1)", 2: "ci (id 2)", 3: "ci", 4: "app", 5: "ci"}
        renamed = site.audit(action="token.renamed")
        assert sorted((e.target, e.details["was"], e.details["token_id"]) for e in renamed) == [
            ("ci (id 1)", "ci", 1), ("ci (id 2)", "ci", 2)]
        assert [t.name for t in site.revoke_token("ci")] == ["ci"]
        assert [t.id for t in site.list_tokens() if t.revoked_at is None] == [1, 2, 4]
    finally:
        site.close()
