"""The CAL server's side of the license lifecycle: apply a fetched LEF, "Update license from server",
every refusal leaving the license in force as it was, decreases, expiry while running, the daily check."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import calkeeper
from calkeeper.authority.keys import rotate_key
from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.core import lef as lefs
from calkeeper.core.errors import AuthorityUnavailable, InvalidInput, LicenseRejected, NoCalAvailable, NoLicense
from calkeeper.usecases.daily_license_check import ACTOR, DailyLicenseCheck, run_daily_checks
from tests.integration.authority_kit import (
    VENDOR,
    RegistryAuthority,
    ScriptedAuthority,
    apply_fetched,
    make_registry,
    new_site,
    pinned_keys,
)
from tests.integration.steps import DAY, HOUR, MINUTE, SALES, audit_entries, named_users, open_as, pool, snapshot
from tests.kit import apply_license, signed_lef

ALICE, BOB, CAROL, DAVE = "ACME\\alice", "ACME\\bob", "ACME\\carol", "ACME\\dave"


@pytest.fixture
def registry(tmp_path, clock):
    registry = make_registry(tmp_path / "authority", clock)
    yield registry
    registry.engine.dispose()


@pytest.fixture
def site(database_url, clock, registry, root):
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys=pinned_keys(registry), root_folder=root,
                               actor="tester", authority=RegistryAuthority(registry))
    yield site
    site.close()


@pytest.fixture
def licensed(site, registry):
    """A site whose license (25 Named, 100 Document, 10 Session, 280 Usage) was fetched from the authority."""
    record = new_site(registry, named=25, document=100, session=10, usage=280)
    apply_fetched(site, record)
    return site, record


# -- apply and update ----------------------------------------------------------------------------


def test_apply_license_without_a_lef_fetches_it_from_the_authority(site, registry):
    record = new_site(registry, named=25, document=100, session=10, usage=280)
    view = site.apply_license(serial=record.serial, control=record.control, owner="Example Site",
                              organization="Example Org", actor="ACME\\admin")
    assert view.cals == {"named": 25, "document": 100, "session": 10, "usage": 280}
    assert view.lef == registry.lef_for(record.serial)
    [entry] = audit_entries(site, "license.applied")
    assert entry.details["source"] == "authority" and entry.actor == "ACME\\admin"


def test_a_site_that_buys_5_more_named_cals_gets_them_by_updating_from_server(licensed, registry):
    site, record = licensed
    site.assign_named_cals(ALICE)
    registry.add_cals(record.serial, named=5, actor=VENDOR)
    result = site.update_license(actor="ACME\\admin")
    assert result.updated and result.changes == {"named": "25 -> 30"}
    assert result.license.cals["named"] == 30 and site.license().cals["named"] == 30
    assert pool(site, "named").free == 29 and named_users(site) == [ALICE]
    latest, first = site.license_history()
    assert (latest.applied_by, latest.changes) == ("ACME\\admin", {"named": "25 -> 30"})
    assert first.cals["named"] == 25


def test_an_update_when_the_authority_has_nothing_newer_applies_nothing(licensed):
    site, _ = licensed
    before = snapshot(site)
    result = site.update_license()
    assert not result.updated and result.changes == {} and result.license == before["license"]
    assert snapshot(site) == before


def test_the_lease_key_passed_to_an_update_is_sent_and_vouched_for_in_the_new_lef(licensed):
    site, _ = licensed
    lease = Ed25519PrivateKey.generate()
    assert site.app.licensing.update_license(lease_key=lease.public_key()).updated
    vouched = lefs.verify(site.license().lef, site.app.licensing.trusted_keys).lease_key()
    assert vouched.raw == lease.public_key().public_bytes_raw()


def test_the_license_fetched_from_the_authority_vouches_for_this_sites_own_lease_key_and_leases_work(licensed):
    site, _ = licensed
    site.update_license()
    vouched = lefs.verify(site.license().lef, site.app.licensing.trusted_keys).lease_key()
    assert vouched.raw == site.app.leases.public_key().public_bytes_raw()
    site.assign_named_cals(ALICE)
    granted = site.app.leases.grant_lease(user=ALICE, machine="PC-1", fingerprint="ab" * 32,
                                          server="http://cal.example")
    assert granted.lease.state == "live"


def test_history_records_a_change_of_signing_key_and_of_dates(licensed, registry):
    site, record = licensed
    rotate_key(registry.keys_dir)
    registry.change_site(record.serial, maintenance_until=date(2028, 12, 31), actor=VENDOR)
    site.app.licensing.trusted_keys = pinned_keys(registry)  # the admin pinned the new key (and restarted)
    changes = site.update_license(actor="ACME\\admin").changes
    assert changes["maintenance until"] == "2027-12-31 -> 2028-12-31"
    old_key, new_key = changes["signing key"].split(" -> ")
    assert old_key != new_key and new_key == load_signing_key(registry.keys_dir).key_id


# -- each refusal leaves the license in force exactly as it was -------------------------------------


def _another_sites_lef(registry, record):
    return registry.lef_for(new_site(registry).serial)


def _tampered(registry, record):
    return registry.lef_for(record.serial).replace("NAMED_CALS;25;;", "NAMED_CALS;95;;")


def _no_named_cal(registry, record):
    key = load_signing_key(registry.keys_dir)
    return sign_lef(make_lef(serial=record.serial, owner=record.owner, organization=record.organization,
                             named=0, document=100), key)


def _unknown_key(registry, record):
    rotate_key(registry.keys_dir)  # the authority signs with a key the site has not pinned
    return registry.lef_for(record.serial)


def _expired(registry, record):
    registry.change_site(record.serial, time_limit=date(2025, 12, 31), actor=VENDOR)
    return registry.lef_for(record.serial)


def _maintenance_over(registry, record):
    registry.change_site(record.serial, maintenance_until=date(2026, 1, 31), actor=VENDOR)
    return registry.lef_for(record.serial)


@pytest.mark.parametrize(("answer", "code"), [
    (_tampered, "lef_signature_invalid"),
    (_unknown_key, "lef_unknown_key"),
    (_another_sites_lef, "lef_serial_mismatch"),
    (_no_named_cal, "lef_no_named_cal"),
    (_expired, "license_expired"),
    (_maintenance_over, "lef_maintenance_expired"),
    (lambda registry, record: "<html>Service Unavailable</html>", "lef_malformed"),
])
def test_an_update_whose_lef_is_refused_leaves_the_license_in_force(licensed, registry, answer, code):
    site, record = licensed
    site.assign_named_cals(ALICE)
    before = snapshot(site)
    site.app.licensing.authority = ScriptedAuthority(answer(registry, record))
    with pytest.raises(LicenseRejected) as refused:
        site.update_license()
    assert refused.value.code == code
    assert snapshot(site) == before
    assert open_as(site, ALICE).cal_type == "named"


@pytest.mark.parametrize("error", [
    AuthorityUnavailable("the license authority at http://lef.example did not answer within 5 s",
                         code="authority_unreachable"),
    AuthorityUnavailable("the license authority answered badly: HTTP 500", code="authority_error"),
])
def test_an_authority_that_cannot_be_asked_leaves_the_license_in_force(licensed, error):
    site, _ = licensed
    before = snapshot(site)
    site.app.licensing.authority = ScriptedAuthority(error)
    with pytest.raises(AuthorityUnavailable) as refused:
        site.update_license()
    assert refused.value.code == error.code
    assert snapshot(site) == before


def test_a_serial_the_authority_does_not_know_is_refused_as_not_found(site, registry, key):
    site.app.licensing.trusted_keys[key.key_id] = key.private.public_key()  # a key the site also trusts
    apply_license(site, key, serial="4600123456789012")  # pasted: the authority never heard of this serial
    before = snapshot(site)
    with pytest.raises(LicenseRejected) as refused:
        site.update_license()
    assert refused.value.code == "serial_not_found"
    assert "serial number and control number" in refused.value.message
    assert snapshot(site) == before


def test_a_wrong_control_number_is_refused_before_the_authority_is_asked(site, registry):
    record = new_site(registry)
    authority = ScriptedAuthority(registry.lef_for(record.serial))
    site.app.licensing.authority = authority
    with pytest.raises(LicenseRejected) as refused:
        site.apply_license(serial=record.serial, control=f"{(int(record.control) + 1) % 100000:05d}",
                           owner="Example Site", organization="Example Org")
    assert refused.value.code == "control_number_mismatch" and authority.calls == 0
    assert site.license() is None


def test_an_update_needs_a_license_in_force_and_an_authority(site, registry, key):
    with pytest.raises(NoLicense):
        site.update_license()
    site.app.licensing.authority = None
    site.app.licensing.trusted_keys[key.key_id] = key.private.public_key()
    apply_license(site, key)
    with pytest.raises(InvalidInput) as refused:
        site.update_license()
    assert refused.value.code == "authority_not_configured"


# -- decreases -----------------------------------------------------------------------------------


def test_an_update_with_fewer_named_cals_unassigns_nobody_and_grants_none_until_below_the_new_count(
        licensed, registry, clock):
    site, record = licensed
    registry.change_site(record.serial, named=3, actor=VENDOR)
    site.update_license()  # 25 -> 3, and nobody assigned yet: no excess
    site.assign_named_cals(f"{ALICE};{BOB};{CAROL}")
    registry.change_site(record.serial, named=1, actor=VENDOR)
    assert site.update_license().changes == {"named": "3 -> 1"}
    assert named_users(site) == [ALICE, BOB, CAROL]
    named = pool(site, "named")
    assert (named.in_license, named.assigned, named.excess, named.free) == (1, 3, 2, 0)
    assert open_as(site, BOB).cal_type == "named"
    with pytest.raises(NoCalAvailable):
        site.assign_named_cals(DAVE)
    site.remove_named_cals(f"{ALICE};{CAROL}")  # never used: freed at once, and 1 assigned of 1 is no excess
    assert (pool(site, "named").excess, pool(site, "named").free) == (0, 0)
    with pytest.raises(NoCalAvailable):
        site.assign_named_cals(DAVE)
    clock.advance(8 * DAY)
    site.remove_named_cals(BOB)  # last used 8 days ago: freed at once, below the new count
    assert [o.outcome for o in site.assign_named_cals(DAVE)] == ["assigned"]


# -- expiry while the server runs ----------------------------------------------------------------


def test_a_license_that_expires_while_running_denies_opens_keeps_cal_data_and_a_renewal_brings_it_back(
        site, registry, clock):
    record = new_site(registry, named=5, document=5, time_limit=date(2026, 1, 10))
    apply_fetched(site, record)
    site.assign_named_cals(ALICE)
    site.set_document_allocation(SALES, 2)
    site.assign_document_cals(SALES, BOB)
    assert open_as(site, ALICE).granted and open_as(site, BOB).cal_type == "document"

    clock.set(datetime(2026, 1, 11, 9, 0, tzinfo=UTC))
    denied = open_as(site, ALICE)
    assert (denied.granted, denied.code) == (False, "license_expired")
    assert "expired on 2026-01-10" in denied.reason
    assert site.license().status == "expired"
    assert named_users(site) == [ALICE] and [c.user for c in site.list_document_cals(SALES)] == [BOB]

    assert not site.update_license().updated  # the authority has no renewal yet
    assert site.license().status == "expired"

    registry.change_site(record.serial, time_limit=date(2027, 1, 10), actor=VENDOR)
    assert site.update_license().changes == {"time limit": "2026-01-10 -> 2027-01-10"}
    assert site.license().status == "valid"
    assert open_as(site, ALICE).cal_type == "named" and open_as(site, BOB).cal_type == "document"


# -- the daily check -----------------------------------------------------------------------------


def test_the_daily_check_applies_a_purchase_once_a_day_has_passed(licensed, registry, clock):
    site, record = licensed
    check = DailyLicenseCheck(site.app.licensing)
    assert not check.run_if_due().update.updated  # at start-up: nothing newer
    registry.add_cals(record.serial, named=5, actor=VENDOR)
    clock.advance(23 * HOUR)
    assert check.run_if_due() is None and site.license().cals["named"] == 25
    clock.advance(HOUR)
    outcome = check.run_if_due()
    assert outcome.update.updated and site.license().cals["named"] == 30
    assert site.license_history()[0].applied_by == ACTOR


def test_the_daily_check_retries_an_hour_after_a_failure_and_audits_it_once(licensed, clock):
    site, _ = licensed
    authority = site.app.licensing.authority
    site.app.licensing.authority = ScriptedAuthority(AuthorityUnavailable("down", code="authority_unreachable"))
    check = DailyLicenseCheck(site.app.licensing)
    assert check.run_if_due().error.code == "authority_unreachable"
    clock.advance(30 * MINUTE)
    assert check.run_if_due() is None
    clock.advance(30 * MINUTE)
    assert check.run_if_due().error.code == "authority_unreachable"
    [failure] = audit_entries(site, "license.update_failed")
    assert failure.actor == ACTOR and failure.details["code"] == "authority_unreachable"
    site.app.licensing.authority = authority
    clock.advance(HOUR)
    assert check.run_if_due().error is None and check.next_due == clock.now() + timedelta(days=1)


def test_the_daily_check_does_nothing_without_a_license(site):
    check = DailyLicenseCheck(site.app.licensing)
    assert check.run_if_due() is None and site.license() is None


def test_the_server_runs_the_daily_check_in_the_background_until_stopped(licensed):
    site, _ = licensed
    check = DailyLicenseCheck(site.app.licensing)

    async def run_briefly() -> None:
        task = asyncio.create_task(run_daily_checks(check, poll_seconds=0.01))
        await asyncio.sleep(0.3)
        task.cancel()

    asyncio.run(run_briefly())
    assert check.next_due == site.app.clock.now() + timedelta(days=1)


def test_a_pasted_lef_still_applies_when_no_authority_is_configured(site, key):
    site.app.licensing.authority = None
    site.app.licensing.trusted_keys[key.key_id] = key.private.public_key()
    view = site.apply_license(serial="4600123456789012", control="92566", owner="Example Site",
                              organization="Example Org", lef=signed_lef(key, "4600123456789012"))
    assert view.serial == "4600123456789012"


def _served_for(site, tmp_path, seconds, **settings):
    """Run the CAL server's app around ``site`` for a while; True when it applied the purchase meanwhile."""
    from fastapi.testclient import TestClient

    from calkeeper.api.app import create_app
    from calkeeper.settings import load_settings

    with TestClient(create_app(load_settings(data_dir=tmp_path / "server", **settings), site=site)):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and site.license().cals["named"] != 30:
            time.sleep(0.05)
    return site.license().cals["named"] == 30


def test_a_server_with_the_daily_check_on_applies_a_purchase_soon_after_it_starts(licensed, registry, tmp_path):
    site, record = licensed
    registry.add_cals(record.serial, named=5, actor=VENDOR)
    assert _served_for(site, tmp_path, 10, authority_url="http://lef.example", authority_daily_check=True)
    assert site.license_history()[0].applied_by == ACTOR


def test_the_daily_check_is_off_by_default(licensed, registry, tmp_path):
    site, record = licensed
    registry.add_cals(record.serial, named=5, actor=VENDOR)
    assert not _served_for(site, tmp_path, 0.5, authority_url="http://lef.example")
