"""The license in force: applying it, a decrease that unassigns nothing, the time limit, refused licenses."""

from __future__ import annotations

from datetime import date

import pytest

from calkeeper.core.errors import AllocationRefused, LicenseRejected, NoCalAvailable
from calkeeper.core.serials import control_number, new_serial
from tests.integration.steps import AR, DAY, HOUR, MINUTE, SALES, audit_entries, named_users, open_as, pool
from tests.kit import apply_license, new_key, signed_lef

ALICE, BOB, CAROL, DAVE = "ACME\\alice", "ACME\\bob", "ACME\\carol", "ACME\\dave"


def apply(site, key, serial, *, actor=None, **counts):
    return site.apply_license(serial=serial, control=control_number(serial), owner="Example Site",
                              organization="Example Org", lef=signed_lef(key, serial, **counts), actor=actor)


def test_an_applied_license_is_in_force_and_audited(site, key):
    serial = new_serial()
    apply(site, key, serial, named=3, document=4, session=2, usage=28, actor="ACME\\admin")
    view = site.license()
    assert (view.serial, view.status, view.owner, view.organization) == (serial, "valid", "Example Site", "Example Org")
    assert view.cals == {"named": 3, "document": 4, "session": 2, "usage": 28}
    assert view.applied_by == "ACME\\admin" and view.applied_at == site.app.clock.now()
    [entry] = audit_entries(site, "license.applied")
    assert (entry.actor, entry.target) == ("ACME\\admin", serial)
    assert entry.details["changes"] == {"named": "0 -> 3", "document": "0 -> 4", "session": "0 -> 2",
                                        "usage": "0 -> 28"}


def test_a_site_that_buys_more_cals_gets_them_and_keeps_every_assignment(site, key):
    serial = apply_license(site, key, named=1)
    site.assign_named_cals(ALICE)
    apply(site, key, serial, named=3)
    assert named_users(site) == [ALICE]
    assert pool(site, "named").free == 2
    [latest, first] = site.license_history()
    assert latest.changes["named"] == "1 -> 3" and first.cals["named"] == 1


# -- a decrease unassigns nothing ------------------------------------------------------------------


def test_a_license_with_fewer_named_cals_than_assigned_unassigns_nobody(site, key):
    serial = apply_license(site, key, named=3)
    site.assign_named_cals(f"{ALICE};{BOB};{CAROL}")
    apply(site, key, serial, named=1)
    assert named_users(site) == [ALICE, BOB, CAROL]
    named = pool(site, "named")
    assert (named.in_license, named.assigned, named.excess, named.free) == (1, 3, 2, 0)
    assert open_as(site, BOB).cal_type == "named"


def test_after_a_decrease_no_named_cal_is_granted_until_assignments_drop_below_the_new_count(site, key):
    serial = apply_license(site, key, named=3, session=1)
    site.assign_named_cals(f"{ALICE};{BOB};{CAROL}")
    apply(site, key, serial, named=1, session=1)
    with pytest.raises(NoCalAvailable):
        site.assign_named_cals(DAVE)
    assert open_as(site, DAVE, machine="PC-4").cal_type == "session"
    site.remove_named_cals(f"{BOB};{CAROL}")
    assert pool(site, "named").excess == 0
    with pytest.raises(NoCalAvailable):
        site.assign_named_cals(DAVE)
    site.remove_named_cals(ALICE)
    assert [o.outcome for o in site.assign_named_cals(DAVE)] == ["assigned"]


def test_a_license_with_fewer_document_cals_keeps_assignments_and_refuses_new_allocations(site, key):
    serial = apply_license(site, key, named=1, document=3)
    site.set_document_allocation(SALES, 3)
    site.assign_document_cals(SALES, f"{ALICE};{BOB};{CAROL}")
    apply(site, key, serial, named=1, document=1)
    assert len(site.list_document_cals(SALES)) == 3
    assert pool(site, "document").excess == 2
    with pytest.raises(AllocationRefused):
        site.set_document_allocation(AR, 1)
    site.set_document_allocation(AR, 0)


def test_after_a_document_cal_decrease_an_assignment_is_refused_for_the_license_not_the_allocation(site, key):
    serial = apply_license(site, key, named=1, document=4)
    site.set_document_allocation(SALES, 4)
    site.assign_document_cals(SALES, f"{ALICE};{BOB};{CAROL}")
    apply(site, key, serial, named=1, document=2)
    with pytest.raises(NoCalAvailable) as refused:
        site.assign_document_cals(SALES, "ACME\\dave")
    assert refused.value.message.startswith("the license now has 2 Document CALs and 3 are assigned")
    assert "allocated" not in refused.value.message


def test_a_license_with_fewer_session_cals_lets_holders_keep_theirs(site, key, clock):
    site.update_cal_settings(allow_dynamic_assignment=False)
    serial = apply_license(site, key, named=1, session=2, usage=0)
    first = open_as(site, ALICE, machine="PC-1").session_id
    open_as(site, BOB, machine="PC-2")
    apply(site, key, serial, named=1, session=1, usage=0)
    assert open_as(site, ALICE, AR, machine="PC-1").cal_type == "session"
    assert not open_as(site, CAROL, machine="PC-3").granted
    clock.advance(HOUR)
    site.close_session(first)
    assert not open_as(site, CAROL, machine="PC-3").granted


# -- the time limit --------------------------------------------------------------------------------


def test_when_the_time_limit_passes_every_open_is_denied_and_cal_data_is_kept(site, key, clock):
    apply_license(site, key, named=2, time_limit=date(2026, 1, 6))
    site.assign_named_cals(ALICE)
    assert open_as(site, ALICE).granted
    clock.advance(2 * DAY)
    denied = open_as(site, ALICE)
    assert not denied.granted and denied.code == "license_expired"
    assert "expired" in denied.reason and "2026-01-06" in denied.reason
    assert not open_as(site, None, AR, machine="KIOSK").granted
    assert [d.code for d in site.denials()] == ["license_expired", "license_expired"]
    assert site.license().status == "expired"
    assert named_users(site) == [ALICE] and pool(site, "named").assigned == 1


def test_the_time_limit_day_itself_is_still_licensed(site, key, clock):
    apply_license(site, key, named=1, time_limit=date(2026, 1, 5))
    clock.advance(14 * HOUR + 59 * MINUTE)
    assert open_as(site, ALICE).granted
    clock.advance(MINUTE)
    assert not open_as(site, ALICE).granted


def test_a_renewed_license_brings_everything_back_after_the_time_limit(site, key, clock):
    serial = apply_license(site, key, named=2, document=1, time_limit=date(2026, 1, 6))
    site.update_cal_settings(allow_dynamic_assignment=False)
    site.assign_named_cals(ALICE)
    site.set_document_allocation(SALES, 1)
    site.assign_document_cals(SALES, BOB)
    clock.advance(3 * DAY)
    assert not open_as(site, ALICE).granted
    apply(site, key, serial, named=2, document=1, time_limit=date(2026, 12, 31))
    assert site.license().status == "valid"
    assert open_as(site, ALICE).cal_type == "named"
    assert open_as(site, BOB, SALES, machine="PC-2").cal_type == "document"


def test_a_license_whose_time_limit_has_already_passed_is_refused(site, key, clock):
    with pytest.raises(LicenseRejected) as refused:
        apply_license(site, key, named=1, time_limit=date(2026, 1, 4))
    assert refused.value.code == "license_expired"
    assert site.license() is None


# -- a refused license leaves the one in force as it was -------------------------------------------


def wrong_control(serial, key, tmp_path):
    wrong = f"{(int(control_number(serial)) + 1) % 100_000:05d}"
    return {"serial": serial, "control": wrong, "lef": signed_lef(key, serial, named=9)}


def tampered(serial, key, tmp_path):
    lef = signed_lef(key, serial, named=2).replace("NAMED_CALS;2;", "NAMED_CALS;200;")
    return {"serial": serial, "control": control_number(serial), "lef": lef}


def other_serial(serial, key, tmp_path):
    other = new_serial()
    return {"serial": serial, "control": control_number(serial), "lef": signed_lef(key, other, named=9)}


def untrusted_key(serial, key, tmp_path):
    stranger = new_key(tmp_path / "stranger")
    return {"serial": serial, "control": control_number(serial), "lef": signed_lef(stranger, serial, named=9)}


def no_named_cal(serial, key, tmp_path):
    return {"serial": serial, "control": control_number(serial), "lef": signed_lef(key, serial, named=0)}


def maintenance_over(serial, key, tmp_path):
    lef = signed_lef(key, serial, named=9, maintenance_until=date(2025, 12, 31))
    return {"serial": serial, "control": control_number(serial), "lef": lef}


def unsigned(serial, key, tmp_path):
    lef = signed_lef(key, serial, named=9).split("SIGNATURE;")[0]
    return {"serial": serial, "control": control_number(serial), "lef": lef}


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (wrong_control, "control_number_mismatch"),
        (tampered, "lef_signature_invalid"),
        (other_serial, "lef_serial_mismatch"),
        (untrusted_key, "lef_unknown_key"),
        (no_named_cal, "lef_no_named_cal"),
        (maintenance_over, "lef_maintenance_expired"),
        (unsigned, "lef_malformed"),
    ],
)
def test_a_refused_license_leaves_the_license_in_force_exactly_as_it_was(site, key, tmp_path, make, code):
    serial = apply_license(site, key, named=2)
    site.assign_named_cals(ALICE)
    before, history = site.license(), site.license_history()
    with pytest.raises(LicenseRejected) as refused:
        site.apply_license(owner="Example Site", organization="Example Org", **make(serial, key, tmp_path))
    assert refused.value.code == code
    assert site.license() == before and site.license_history() == history
    assert len(audit_entries(site, "license.applied")) == 1
    assert open_as(site, ALICE).cal_type == "named" and pool(site, "named").in_license == 2
