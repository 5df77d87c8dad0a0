"""License leases on the server (SQLite and PostgreSQL): granted to a user with a Named CAL, renewed, two
machines at most, refusals named, ended and revoked, run out, cleared with the CAL data, kept in backups,
and the desktop sign-in with an alternate identity braked after wrong passwords."""

from __future__ import annotations

from datetime import timedelta

import pytest

from calkeeper.core.errors import InvalidInput, LeaseRefused, NotFound, SignInRefused
from calkeeper.core.lease import check_lease, machine_fingerprint
from calkeeper.core.serials import control_number, new_serial
from tests.kit import signed_lef

DEV = "ACME\\dev1"
USERS = f"""user,display_name,password,groups
{DEV},Dev One,correct-horse-battery-staple,Developers
ACME\\dev2,Dev Two,another-long-passphrase,Developers
"""
SERVER = "http://cal.acme.example"


def fingerprint(n: int) -> str:
    return machine_fingerprint(f"{n:032x}", f"PC-{n}")


@pytest.fixture
def leasing(site, key):
    """A site whose LEF vouches for its lease key, with ACME\\dev1 holding a Named CAL."""
    serial = new_serial()
    site.apply_license(serial=serial, control=control_number(serial), owner="Example Site", organization="Example Org",
                       lef=signed_lef(key, serial, lease_key=site.app.leases.public_key()))
    site.import_directory_users(USERS)
    site.assign_named_cals(DEV)
    return site


def lease(site, n: int = 1, *, user: str = DEV, presented: str | None = None):
    return site.app.leases.grant_lease(user=user, machine=f"PC-{n}", fingerprint=fingerprint(n), server=SERVER,
                                       presented=presented, address="10.0.0.5")


def refusal(code: str, site, n: int = 1, **kwargs) -> str:
    with pytest.raises(LeaseRefused) as refused:
        lease(site, n, **kwargs)
    assert refused.value.code == code, refused.value.message
    return refused.value.message


def test_a_user_with_a_named_cal_gets_a_30_day_lease_the_client_can_check(leasing, key, clock):
    granted = lease(leasing)
    assert not granted.renewed and granted.lease.expires_at == clock.now() + timedelta(days=30)
    checked = check_lease(granted.text, vendor_keys={key.key_id: key.private.public_key()},
                          fingerprint=fingerprint(1), now=clock.now())
    assert (checked.user, checked.machine, checked.server) == (DEV, "PC-1", SERVER)
    assert [(v.user, v.machine, v.state) for v in leasing.list_leases()] == [(DEV, "PC-1", "live")]


def test_connecting_again_renews_the_lease_for_another_30_days(leasing, clock):
    first = lease(leasing)
    clock.advance(timedelta(days=10))
    again = lease(leasing, presented=first.lease.lease_id)
    assert again.renewed and again.lease.lease_id == first.lease.lease_id
    assert again.lease.expires_at == clock.now() + timedelta(days=30)
    [row] = leasing.list_leases()
    assert row.renewed_at == clock.now() and row.leased_at == first.lease.leased_at


def test_a_third_machine_is_refused_naming_the_two_that_hold_a_lease(leasing):
    lease(leasing, 1)
    lease(leasing, 2)
    message = refusal("lease_machines_full", leasing, 3)
    assert "PC-1" in message and "PC-2" in message
    lease(leasing, 1)  # the machines that hold one still renew


def test_ending_a_machines_lease_frees_its_place(leasing):
    first = lease(leasing, 1)
    lease(leasing, 2)
    ended = leasing.end_lease(first.lease.lease_id)
    assert ended.state == "ended" and ended.ended_by == "tester"
    lease(leasing, 3)
    refusal("lease_machines_full", leasing, 1, presented=first.lease.lease_id)  # PC-1 now waits for a place


def test_ending_a_lease_frees_it_and_a_lease_run_out_frees_its_place_too(leasing, clock):
    lease(leasing, 1)
    lease(leasing, 2)
    clock.advance(timedelta(days=30))
    assert lease(leasing, 3).lease.machine == "PC-3"
    states = {v.machine: v.state for v in leasing.list_leases()}
    assert states == {"PC-1": "expired", "PC-2": "expired", "PC-3": "live"}
    assert [v.machine for v in leasing.list_leases(state="live")] == ["PC-3"]
    assert {v.machine for v in leasing.list_leases(state="ended")} == {"PC-1", "PC-2"}


def test_a_revoked_lease_is_refused_when_presented_then_a_new_connection_may_lease_again(leasing):
    first = lease(leasing, 1)
    lease(leasing, 2)
    revoked = leasing.revoke_leases("acme\\DEV1")
    assert sorted(v.state for v in revoked) == ["revoked", "revoked"]
    refusal("lease_revoked", leasing, 1, presented=first.lease.lease_id)
    assert lease(leasing, 1).lease.lease_id != first.lease.lease_id


def test_removing_the_named_cal_stops_renewals_while_the_lease_runs_out(leasing):
    lease(leasing)
    assert leasing.open_document(DEV, "SalesFlash.qvw", machine="PC-1").granted  # used: removal quarantines it
    leasing.remove_named_cals(DEV)
    assert "marked for removal" in refusal("lease_no_named_cal", leasing)
    assert [v.state for v in leasing.list_leases()] == ["live"]


def test_a_user_without_a_named_cal_is_refused(leasing):
    assert "holds no Named CAL" in refusal("lease_no_named_cal", leasing, user="ACME\\dev2")


def test_leasing_off_by_the_setting_is_refused(leasing):
    leasing.update_cal_settings(allow_license_lease=False)
    assert "Allow license lease" in refusal("lease_not_allowed", leasing)


def test_leasing_off_by_the_lef_is_refused(leasing, key):
    serial = leasing.license().serial
    leasing.apply_license(serial=serial, control=control_number(serial), owner="Example Site",
                          organization="Example Org", lef=signed_lef(key, serial, lease=False))
    assert "LICENSE_LEASE;NO" in refusal("lease_not_licensed", leasing)


def test_a_lef_that_does_not_vouch_for_this_servers_key_is_refused(leasing, key):
    serial = leasing.license().serial
    leasing.apply_license(serial=serial, control=control_number(serial), owner="Example Site",
                          organization="Example Org", lef=signed_lef(key, serial, named=6))
    assert "Update license from server" in refusal("lease_key_not_vouched", leasing)


def test_clearing_cal_data_ends_every_lease_and_backups_keep_the_history(leasing, tmp_path):
    lease(leasing, 1)
    outcome = leasing.clear_cal_data(backup_to=tmp_path / "before.json")
    assert outcome.removed["license_leases"] == 1
    assert [v.state for v in leasing.list_leases()] == ["cal_data_cleared"]
    leasing.restore(tmp_path / "before.json")
    assert [v.state for v in leasing.list_leases()] == ["live"]


def test_the_history_filters_by_user_and_machine(leasing):
    leasing.assign_named_cals("ACME\\dev2")
    lease(leasing, 1)
    lease(leasing, 2, user="ACME\\dev2")
    assert [v.machine for v in leasing.list_leases(user="acme\\DEV2")] == ["PC-2"]
    assert [v.user for v in leasing.list_leases(machine="pc-1")] == [DEV]
    with pytest.raises(InvalidInput):
        leasing.list_leases(state="sometimes")
    with pytest.raises(NotFound):
        leasing.end_lease("no-such-lease")


def test_the_alternate_identity_signs_in_by_its_directory_password_and_wrong_ones_are_braked(leasing):
    sign_in = leasing.app.desktop_sign_in
    account = sign_in.identify(proxied=None, user="acme\\dev1", password="correct-horse-battery-staple",
                               address="10.0.0.5")
    assert account.name == DEV
    codes = []
    for _ in range(10):
        with pytest.raises(SignInRefused) as refused:
            sign_in.identify(proxied=None, user=DEV, password="wrong", address="10.0.0.5")
        codes.append(refused.value.code)
    assert codes[0] == "sign_in_refused" and codes[-1] == "too_many_sign_ins"
    with pytest.raises(SignInRefused, match="too many failed sign-ins"):
        sign_in.identify(proxied=None, user=DEV, password="correct-horse-battery-staple", address="10.0.0.5")


def test_nobody_named_and_an_unknown_nt_identity_are_refused(leasing):
    sign_in = leasing.app.desktop_sign_in
    with pytest.raises(SignInRefused, match="alternate identity"):
        sign_in.identify(proxied=None, user=None, password=None, address="10.0.0.5")
    with pytest.raises(SignInRefused, match="does not know"):
        sign_in.identify(proxied="ACME\\nobody", user=None, password=None, address="10.0.0.5")
    assert sign_in.identify(proxied="acme\\dev1", user=None, password=None, address="10.0.0.5").name == DEV


def test_lease_requests_are_braked_per_user(leasing):
    for _ in range(29):
        lease(leasing, 1)
    with pytest.raises(SignInRefused) as refused:
        lease(leasing, 1)
    assert refused.value.code == "too_many_lease_requests"
