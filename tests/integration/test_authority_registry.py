"""The license authority's record of sites: serials, purchases, terms, history, and the LEFs it signs."""

from __future__ import annotations

import stat
from datetime import date, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import inspect, select

import calkeeper
from calkeeper.authority.database import HEAD_REVISION, VERSION_TABLE, alembic_config, open_engine
from calkeeper.authority.registry import KEEP
from calkeeper.authority.schema import AuthorityBase, sites_t
from calkeeper.core import lef as lefs
from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.core.license import check_license
from calkeeper.core.serials import control_number
from tests.integration.authority_kit import VENDOR, make_registry, new_site, pinned_keys


@pytest.fixture
def registry(database_url, tmp_path, clock):
    registry = make_registry(tmp_path / "authority", clock, database_url)
    yield registry
    registry.engine.dispose()


def terms_of(registry, record, lef_text):
    return check_license(serial=record.serial, control=record.control, owner=record.owner,
                         organization=record.organization, lef_text=lef_text, trusted_keys=pinned_keys(registry),
                         now=registry.clock.now())


def fetch(registry, record, **extra):
    return registry.fetch_lef(serial=record.serial, control=record.control, owner=record.owner,
                              organization=record.organization, **extra)


def test_a_new_site_gets_a_16_digit_serial_and_the_control_number_that_checks_it(registry):
    record = new_site(registry)
    assert len(record.serial) == 16 and record.serial.isdigit() and record.serial[0] != "0"
    assert record.control == control_number(record.serial)
    assert registry.site(record.serial) == record
    assert [s.serial for s in registry.sites()] == [record.serial]


def test_the_lef_a_site_fetches_holds_what_it_bought_signed_with_the_active_key(registry):
    record = new_site(registry, named=25, document=100, session=10, usage=280, time_limit=date(2027, 6, 30))
    terms = terms_of(registry, record, fetch(registry, record))
    assert {t.value: n for t, n in terms.cals.items()} == {"named": 25, "document": 100, "session": 10, "usage": 280}
    assert (terms.maintenance_until, terms.time_limit, terms.lease_allowed) == (date(2027, 12, 31),
                                                                                date(2027, 6, 30), True)
    assert terms.key_id == next(iter(pinned_keys(registry)))
    assert (terms.owner, terms.organization) == ("Example Site", "Example Org")


def test_a_purchase_adds_cals_and_the_next_lef_holds_them(registry):
    record = new_site(registry, named=25)
    after = registry.add_cals(record.serial, named=5, usage=10, actor=VENDOR)
    assert (after.cals["named"], after.cals["usage"], after.cals["document"]) == (30, 38, 20)
    terms = terms_of(registry, record, fetch(registry, record))
    assert terms.in_license(calkeeper.CalType.NAMED) == 30


def test_site_history_shows_creation_purchases_and_changes_newest_first(registry, clock):
    record = new_site(registry, named=25)
    clock.advance(timedelta(days=1))
    registry.add_cals(record.serial, named=5, actor="sales")
    registry.change_site(record.serial, maintenance_until=date(2028, 12, 31), usage=20, actor="renewals")
    changed, bought, created = registry.history(record.serial)
    assert (created.action, created.actor, created.details["named"]) == ("created", VENDOR, 25)
    assert (bought.action, bought.actor, bought.details) == ("cals_added", "sales",
                                                             {"added": {"named": 5}, "named": "25 -> 30"})
    assert bought.at == clock.now() and created.at < bought.at
    assert changed.details == {"maintenance_until": "2027-12-31 -> 2028-12-31", "usage_cals": "28 -> 20"}


def test_setting_terms_that_are_already_so_records_nothing(registry):
    record = new_site(registry, named=25)
    registry.change_site(record.serial, named=25, time_limit=None, actor=VENDOR)
    assert [e.action for e in registry.history(record.serial)] == ["created"]


def test_a_time_limit_can_be_set_and_removed_and_leasing_turned_off(registry):
    record = new_site(registry)
    registry.change_site(record.serial, time_limit=date(2027, 1, 31), lease=False, actor=VENDOR)
    assert registry.site(record.serial).time_limit == date(2027, 1, 31)
    terms = terms_of(registry, record, fetch(registry, record))
    assert (terms.time_limit, terms.lease_allowed) == (date(2027, 1, 31), False)
    registry.change_site(record.serial, time_limit=None, maintenance_until=KEEP, actor=VENDOR)
    assert registry.site(record.serial).time_limit is None
    assert registry.site(record.serial).maintenance_until == date(2027, 12, 31)


@pytest.mark.parametrize("bad", [
    {"named": 0}, {"named": -1}, {"document": -5}, {"owner": ""}, {"owner": "A;B"}, {"organization": "X\nY"},
    {"serial": "12345"},
])
def test_a_site_that_no_cal_server_could_apply_is_not_recorded(registry, bad):
    fields = {"owner": "Example Site", "organization": "Example Org", "named": 5, **bad}
    with pytest.raises(InvalidInput):
        registry.create_site(**fields, actor=VENDOR)
    assert registry.sites() == []


def test_a_purchase_cannot_take_cals_away_and_no_count_drops_below_the_rules(registry):
    record = new_site(registry, named=2)
    for bad in ({"named": -1}, {}, {"named": 0}):
        with pytest.raises(InvalidInput):
            registry.add_cals(record.serial, **bad, actor=VENDOR)
    with pytest.raises(InvalidInput, match="at least one Named User CAL"):
        registry.change_site(record.serial, named=0, actor=VENDOR)
    assert registry.site(record.serial) == record
    assert [e.action for e in registry.history(record.serial)] == ["created"]


def test_an_unknown_serial_is_named_in_the_vendors_own_commands(registry):
    with pytest.raises(NotFound, match="no site with serial '1234567812345678'"):
        registry.add_cals("1234567812345678", named=1, actor=VENDOR)


def test_a_kept_serial_is_used_and_cannot_be_given_to_a_second_site(registry):
    record = registry.create_site(owner="Old", organization="Org", named=1, serial="4600123456789012",
                                  actor=VENDOR)
    assert (record.serial, record.control) == ("4600123456789012", control_number("4600123456789012"))
    with pytest.raises(InvalidInput, match="already belongs"):
        registry.create_site(owner="New", organization="Org", named=1, serial="4600123456789012", actor=VENDOR)


def test_a_wrong_control_number_and_an_unknown_serial_get_the_same_answer(registry):
    record = new_site(registry)
    wrong_control = "00000" if record.control != "00000" else "11111"
    answers = []
    for serial, control in ((record.serial, wrong_control), ("1234567812345678", control_number("1234567812345678"))):
        with pytest.raises(NotFound) as refused:
            registry.fetch_lef(serial=serial, control=control)
        answers.append((refused.value.code, refused.value.message))
    assert answers[0] == answers[1]
    assert answers[0][0] == "serial_not_found"
    assert registry.site(record.serial).last_fetched_at is None


def test_the_authority_records_when_and_from_where_a_site_fetched_its_lef(registry):
    record = new_site(registry)
    registry.fetch_lef(serial=record.serial, control=record.control, owner="Example Site",
                       organization="Example Org", address="203.0.113.9")
    seen = registry.site(record.serial)
    assert seen.last_fetched_at == registry.clock.now()
    assert seen.last_fetched_from == "203.0.113.9 as 'Example Site' / 'Example Org'"


# -- the lease key -------------------------------------------------------------------------------


def test_a_lease_key_sent_by_the_site_is_recorded_and_vouched_for_in_its_lef(registry):
    record = new_site(registry)
    lease_private = Ed25519PrivateKey.generate()
    text = fetch(registry, record, lease_key=lease_private.public_key())
    [line] = [line for line in text.splitlines() if line.startswith("LEASE_KEY;")]
    vouched = terms_of(registry, record, text).lease_key()
    assert line == f"LEASE_KEY;{vouched.tag_value()};;"
    assert vouched.key_id.startswith("ck-") and registry.site(record.serial).lease_key_id == vouched.key_id
    # a desktop client that trusts only the vendor checks a lease signed by the site with this key
    vouched.public_key().verify(lease_private.sign(b"lease for PC-17"), b"lease for PC-17")
    # the key stays vouched for in later LEFs, even when the site does not send it again
    assert terms_of(registry, record, fetch(registry, record)).lease_key() == vouched
    [recorded, _created] = registry.history(record.serial)
    assert (recorded.action, recorded.details) == ("lease_key_recorded",
                                                   {"key_id": vouched.key_id, "previous_key_id": None})


def test_sending_the_same_lease_key_again_records_nothing_and_a_new_one_replaces_it(registry):
    record = new_site(registry)
    first, second = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    fetch(registry, record, lease_key=first)
    fetch(registry, record, lease_key=first)
    assert [e.action for e in registry.history(record.serial)] == ["lease_key_recorded", "created"]
    new = terms_of(registry, record, fetch(registry, record, lease_key=second)).lease_key()
    assert new.public_key().public_bytes_raw() == second.public_bytes_raw()
    latest = registry.history(record.serial)[0]
    assert latest.details["previous_key_id"] == lefs.key_id_for(first.public_bytes_raw())


def test_no_lease_key_is_vouched_for_when_the_license_allows_no_lease(registry):
    record = new_site(registry, lease=False)
    text = fetch(registry, record, lease_key=Ed25519PrivateKey.generate().public_key())
    assert "LEASE_KEY;" not in text and terms_of(registry, record, text).lease_key() is None


# -- storage -------------------------------------------------------------------------------------


def test_the_authority_migrations_create_exactly_its_tables(registry):
    with registry.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
        differences = compare_metadata(context, AuthorityBase.metadata)
        assert [d for d in differences if _is_authority_difference(d)] == []
        assert connection.execute(select(sites_t.c.serial)).all() == []
        assert inspect(connection).has_table(VERSION_TABLE)


def _is_authority_difference(difference):
    # In a database shared with a CAL server, compare_metadata also sees the site's tables.
    text = str(difference)
    return "authority_" in text


def test_the_quick_migration_check_knows_the_authoritys_newest_migration():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_current_head() == HEAD_REVISION


def test_the_authority_and_a_cal_server_can_share_one_database(database_url, tmp_path, clock, key):
    site = calkeeper.open_site(database_url, clock=clock)
    engine = open_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
        assert {"authority_sites", "authority_alembic_version", "licenses", "alembic_version"} <= tables
        assert site.license() is None
    finally:
        engine.dispose()
        site.close()


def test_private_keys_are_readable_by_their_owner_only(registry):
    folder = registry.keys_dir
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for private in folder.glob("*.key"):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
