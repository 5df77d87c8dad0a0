"""The allocation order end to end: Named, then Document, then Session, then Usage, then a denial."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import InvalidInput, UnknownDocument
from tests.integration.steps import AR, SALES, open_as, pool
from tests.kit import apply_license

USERS = [f"ACME\\user{n}" for n in range(1, 6)]


def one_of_each(site, key):
    """One CAL of every type; SalesFlash has one Document CAL allocated and dynamic assignment on."""
    apply_license(site, key, named=1, document=1, session=1, usage=1)
    site.set_document_allocation(SALES, 1)
    site.set_document_dynamic(SALES, True)


def test_users_get_named_then_document_then_session_then_usage_cals_and_then_are_denied(site, key):
    one_of_each(site, key)
    decisions = [open_as(site, user, SALES, machine=f"PC-{n}") for n, user in enumerate(USERS)]
    assert [d.cal_type for d in decisions[:4]] == ["named", "document", "session", "usage"]
    denied = decisions[4]
    assert not denied.granted
    assert denied.reason == "no CAL available for ACME\\user5 on SalesFlash.qvw"
    assert denied.code == "no_cal_available"


def test_a_denial_is_recorded_with_who_what_where_and_why(site, key):
    one_of_each(site, key)
    for n, user in enumerate(USERS):
        open_as(site, user, SALES, machine=f"PC-{n}")
    [denial] = site.denials()
    assert denial.user_name == "ACME\\user5"
    assert (denial.document, denial.machine, denial.code) == (SALES, "PC-4", "no_cal_available")
    assert denial.reason == "no CAL available for ACME\\user5 on SalesFlash.qvw"
    assert denial.at == site.app.clock.now()


def test_each_grant_takes_exactly_one_cal_of_its_type(site, key):
    one_of_each(site, key)
    for n, user in enumerate(USERS[:4]):
        open_as(site, user, SALES, machine=f"PC-{n}")
    for cal_type in ("named", "document", "session", "usage"):
        assert pool(site, cal_type).assigned == 1 and pool(site, cal_type).free == 0


def test_a_held_named_cal_comes_before_a_held_document_cal(site, key):
    apply_license(site, key, named=1, document=1)
    site.set_document_allocation(SALES, 1)
    site.assign_document_cals(SALES, USERS[0])
    site.assign_named_cals(USERS[0])
    decision = open_as(site, USERS[0], SALES)
    assert decision.cal_type == "named" and not decision.dynamic


def test_a_held_document_cal_comes_before_dynamic_named_assignment(site, key):
    apply_license(site, key, named=1, document=1)
    site.set_document_allocation(SALES, 1)
    site.assign_document_cals(SALES, USERS[0])
    assert open_as(site, USERS[0], SALES).cal_type == "document"
    assert pool(site, "named").assigned == 0


def test_dynamic_named_assignment_comes_before_dynamic_document_assignment(site, key):
    apply_license(site, key, named=1, document=1)
    site.set_document_allocation(SALES, 1)
    site.set_document_dynamic(SALES, True)
    assert open_as(site, USERS[0], SALES).cal_type == "named"
    assert site.list_document_cals(SALES) == []


def test_a_session_cal_comes_before_a_usage_cal(site, key):
    site.update_cal_settings(allow_dynamic_assignment=False)
    apply_license(site, key, named=1, session=1, usage=1)
    assert open_as(site, USERS[0], SALES).cal_type == "session"
    assert open_as(site, USERS[1], SALES, machine="PC-2").cal_type == "usage"
    assert pool(site, "usage").assigned == 1


def test_an_anonymous_user_is_denied_in_words_that_name_the_machine(site, key):
    apply_license(site, key, named=1, session=0, usage=0)
    decision = open_as(site, None, SALES, machine="KIOSK-1")
    assert not decision.granted
    assert decision.reason == "no CAL available for an anonymous user on KIOSK-1 on SalesFlash.qvw"
    [denial] = site.denials()
    assert (denial.user_name, denial.machine) == (None, "KIOSK-1")


def test_without_a_license_every_open_is_denied_and_recorded(site):
    decision = open_as(site, USERS[0], AR)
    assert not decision.granted and decision.code == "no_license"
    assert "no license" in decision.reason
    [denial] = site.denials()
    assert (denial.code, denial.document) == ("no_license", AR)


def test_opening_a_document_not_in_the_root_folder_raises_unknown_document(site, key):
    apply_license(site, key, named=1)
    with pytest.raises(UnknownDocument) as refused:
        open_as(site, USERS[0], "Budget.qvw")
    assert "Budget.qvw" in refused.value.message
    assert site.denials() == [] and pool(site, "named").assigned == 0


def test_an_unknown_client_type_is_refused_before_anything_is_claimed(site, key):
    apply_license(site, key, named=1)
    with pytest.raises(InvalidInput) as refused:
        open_as(site, USERS[0], SALES, client="telnet")
    assert "telnet" in refused.value.message
    assert pool(site, "named").assigned == 0
