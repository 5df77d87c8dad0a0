"""The allocation order: which CAL serves user U opening document D (domain.md 5, QlikView's steps)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calkeeper.core.allocation import OpenRequest, SiteRules, allocate
from calkeeper.core.cals import CalType, ClientType, Denial, Grant, IdentificationMode
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.identities import Identity, parse_machine, parse_user
from calkeeper.core.license import LicenseTerms
from tests.unit.fakes import FakePort, holder

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
ALICE, BOB = parse_user("ACME\\alice"), parse_user("ACME\\bob")
WS, LAPTOP = parse_machine("WS-0042"), parse_machine("LAPTOP-7")
SALES = DocumentInfo(id=2, path="SalesFlash.qvw", allow_dynamic_assignment=False, cals_allocated=0, missing=False)
AR = DocumentInfo(id=3, path="AR Analytix.qvw", allow_dynamic_assignment=False, cals_allocated=0, missing=False)
DYNAMIC_SALES = replace(SALES, allow_dynamic_assignment=True, cals_allocated=2)


def terms(*, named: int = 5, document: int = 20, session: int = 7, usage: int = 28,
          time_limit: date | None = None) -> LicenseTerms:
    counts = {CalType.NAMED: named, CalType.DOCUMENT: document, CalType.SESSION: session, CalType.USAGE: usage}
    return LicenseTerms(serial="4600123456789012", control="92566", owner="Example Site",
                        organization="Example Org", cals=counts, lease_allowed=True, time_limit=time_limit,
                        maintenance_until=date(2027, 12, 31), key_id="ck-test", lef_text="")


def rules(*, license: LicenseTerms | None = None, dynamic: bool = False, by_machine: bool = False,
          maintenance: bool = False, unlicensed: bool = False) -> SiteRules:
    mode = IdentificationMode.MACHINE if by_machine else IdentificationMode.USER
    return SiteRules(terms=None if unlicensed else (license or terms()), allow_dynamic_assignment=dynamic,
                     identification_mode=mode, maintenance=maintenance)


def opening(user: Identity | None = ALICE, document: DocumentInfo = SALES, machine: Identity = WS,
            client: ClientType = ClientType.AJAX) -> OpenRequest:
    return OpenRequest(user=user, machine=machine, client=client, document=document)


@pytest.fixture
def port() -> FakePort:
    return FakePort(NOW)


def granted(decision: Grant | Denial) -> Grant:
    assert isinstance(decision, Grant), decision
    return decision


def denied(decision: Grant | Denial) -> Denial:
    assert isinstance(decision, Denial), decision
    return decision


# -- 1. a held Named CAL ---------------------------------------------------------------------------------


def test_a_held_named_cal_is_used_first_even_when_every_other_cal_type_would_serve(port: FakePort) -> None:
    cal = port.give_named(ALICE)
    port.give_document(ALICE, DYNAMIC_SALES)
    grant = granted(allocate(opening(document=DYNAMIC_SALES), rules(dynamic=True), port, NOW))
    assert (grant.cal_type, grant.cal_id, grant.dynamic) == (CalType.NAMED, cal, False)
    assert grant.reason == "ACME\\alice holds a Named User CAL"
    assert port.calls == ["held_named_cal"]


def test_a_held_named_cal_serves_any_document(port: FakePort) -> None:
    cal = port.give_named(ALICE)
    for document in (SALES, AR):
        assert granted(allocate(opening(document=document), rules(), port, NOW)).cal_id == cal


def test_using_a_held_named_cal_records_its_last_use(port: FakePort) -> None:
    cal = port.give_named(ALICE)
    allocate(opening(), rules(), port, NOW)
    assert port.touched == [(CalType.NAMED, cal)]
    assert port.named[cal].last_used == NOW


def test_user_names_are_matched_case_insensitively(port: FakePort) -> None:
    cal = port.give_named(parse_user("acme\\ALICE"))
    grant = granted(allocate(opening(user=parse_user("ACME\\Alice")), rules(), port, NOW))
    assert grant.cal_id == cal
    assert grant.user == "ACME\\Alice"


# -- 2. a held Document CAL -------------------------------------------------------------------------------


def test_a_held_document_cal_is_used_before_a_free_named_cal_is_assigned(port: FakePort) -> None:
    cal = port.give_document(ALICE, SALES)
    grant = granted(allocate(opening(), rules(dynamic=True), port, NOW))
    assert (grant.cal_type, grant.cal_id, grant.dynamic) == (CalType.DOCUMENT, cal, False)
    assert grant.reason == "ACME\\alice holds a Document CAL for SalesFlash.qvw"
    assert port.touched == [(CalType.DOCUMENT, cal)]
    assert "claim_named_cal" not in port.calls


def test_a_document_cal_for_another_document_does_not_serve(port: FakePort) -> None:
    port.give_document(ALICE, AR)
    assert granted(allocate(opening(document=SALES), rules(), port, NOW)).cal_type is CalType.SESSION


def test_another_users_document_cal_does_not_serve(port: FakePort) -> None:
    port.give_document(BOB, SALES)
    assert granted(allocate(opening(user=ALICE), rules(), port, NOW)).cal_type is CalType.SESSION


# -- 3. dynamic Named CAL assignment ----------------------------------------------------------------------


def test_a_free_named_cal_is_assigned_when_dynamic_assignment_is_on(port: FakePort) -> None:
    grant = granted(allocate(opening(document=DYNAMIC_SALES), rules(dynamic=True), port, NOW))
    assert (grant.cal_type, grant.dynamic) == (CalType.NAMED, True)
    assert grant.reason == "a free Named User CAL was assigned to ACME\\alice"
    assert port.named_holders() == [holder(ALICE)]
    assert grant.cal_id in port.named
    assert port.document == {}


def test_no_named_cal_is_assigned_when_dynamic_assignment_is_off(port: FakePort) -> None:
    grant = granted(allocate(opening(), rules(dynamic=False), port, NOW))
    assert grant.cal_type is CalType.SESSION
    assert "claim_named_cal" not in port.calls
    assert port.named == {}


def test_no_named_cal_is_assigned_when_none_is_free(port: FakePort) -> None:
    port.give_named(BOB)
    grant = granted(allocate(opening(), rules(license=terms(named=1), dynamic=True), port, NOW))
    assert grant.cal_type is CalType.SESSION
    assert port.named_holders() == [holder(BOB)]


def test_after_a_license_decrease_no_named_cal_is_assigned_but_holders_keep_theirs(port: FakePort) -> None:
    carol = parse_user("ACME\\carol")
    kept = [port.give_named(ALICE), port.give_named(BOB)]
    decreased = rules(license=terms(named=1), dynamic=True)
    assert granted(allocate(opening(user=carol), decreased, port, NOW)).cal_type is CalType.SESSION
    assert granted(allocate(opening(user=ALICE), decreased, port, NOW)).cal_id == kept[0]
    assert granted(allocate(opening(user=BOB, machine=LAPTOP), decreased, port, NOW)).cal_id == kept[1]


# -- 4. dynamic Document CAL assignment -------------------------------------------------------------------


def test_an_allocated_unassigned_document_cal_is_assigned_when_the_document_allows_it(port: FakePort) -> None:
    grant = granted(allocate(opening(document=DYNAMIC_SALES), rules(), port, NOW))
    assert (grant.cal_type, grant.dynamic) == (CalType.DOCUMENT, True)
    assert grant.reason == "a Document CAL for SalesFlash.qvw was assigned to ACME\\alice"
    assert [(c.holder, c.document) for c in port.document.values()] == [(holder(ALICE), SALES.id)]


def test_no_document_cal_is_assigned_when_the_document_does_not_allow_it(port: FakePort) -> None:
    closed = replace(DYNAMIC_SALES, allow_dynamic_assignment=False)
    assert granted(allocate(opening(document=closed), rules(), port, NOW)).cal_type is CalType.SESSION
    assert "claim_document_cal" not in port.calls


def test_no_document_cal_is_assigned_when_none_is_allocated_to_the_document(port: FakePort) -> None:
    empty = replace(DYNAMIC_SALES, cals_allocated=0)
    assert granted(allocate(opening(document=empty), rules(), port, NOW)).cal_type is CalType.SESSION
    assert port.document == {}


def test_no_document_cal_is_assigned_when_the_documents_allocation_is_all_assigned(port: FakePort) -> None:
    one = replace(DYNAMIC_SALES, cals_allocated=1)
    port.give_document(BOB, one)
    assert granted(allocate(opening(document=one), rules(), port, NOW)).cal_type is CalType.SESSION


def test_dynamic_named_assignment_grabs_a_named_cal_before_a_document_cal(port: FakePort) -> None:
    grant = granted(allocate(opening(document=DYNAMIC_SALES), rules(dynamic=True), port, NOW))
    assert grant.cal_type is CalType.NAMED
    assert "claim_document_cal" not in port.calls


def test_a_full_named_pool_falls_through_to_dynamic_document_assignment(port: FakePort) -> None:
    port.give_named(BOB)
    grant = granted(allocate(opening(document=DYNAMIC_SALES), rules(license=terms(named=1), dynamic=True),
                             port, NOW))
    assert (grant.cal_type, grant.dynamic) == (CalType.DOCUMENT, True)


# -- 5. Session CALs --------------------------------------------------------------------------------------


def test_a_session_cal_serves_fifth_and_starts_a_session(port: FakePort) -> None:
    grant = granted(allocate(opening(), rules(), port, NOW))
    assert grant.cal_type is CalType.SESSION
    assert grant.reason == "a Session CAL serves this client"
    assert port.sessions[grant.session_id] == (CalType.SESSION, port.session[opening().client_key])
    assert "claim_usage_cal" not in port.calls


def test_the_same_client_instance_reuses_its_session_cal_when_the_pool_is_full(port: FakePort) -> None:
    few = rules(license=terms(session=1))
    first = granted(allocate(opening(document=SALES), few, port, NOW))
    again = granted(allocate(opening(document=AR), few, port, NOW))
    assert (first.cal_type, again.cal_type) == (CalType.SESSION, CalType.SESSION)
    assert len(port.session) == 1


@pytest.mark.parametrize(
    "other",
    [opening(client=ClientType.DESKTOP), opening(machine=LAPTOP), opening(user=BOB), opening(user=None)],
    ids=["another client type", "another machine", "another user", "anonymous"],
)
def test_another_client_instance_needs_a_session_cal_of_its_own(port: FakePort, other: OpenRequest) -> None:
    few = rules(license=terms(session=1, usage=0))
    granted(allocate(opening(), few, port, NOW))
    assert denied(allocate(other, few, port, NOW)).code == "no_cal_available"


def test_an_anonymous_user_gets_a_session_cal(port: FakePort) -> None:
    grant = granted(allocate(opening(user=None), rules(), port, NOW))
    assert (grant.cal_type, grant.user) == (CalType.SESSION, None)


def test_no_session_cal_is_claimed_when_the_license_has_none(port: FakePort) -> None:
    assert granted(allocate(opening(), rules(license=terms(session=0)), port, NOW)).cal_type is CalType.USAGE
    assert "claim_session_cal" not in port.calls


# -- 6. Usage CALs ----------------------------------------------------------------------------------------


def test_a_usage_cal_serves_sixth_when_no_session_cal_is_free(port: FakePort) -> None:
    port.fill_sessions(7)
    grant = granted(allocate(opening(), rules(), port, NOW))
    assert grant.cal_type is CalType.USAGE
    assert grant.reason == "a Usage CAL serves this document for up to 60 minutes"
    assert port.sessions[grant.session_id] == (CalType.USAGE, port.usage[(ALICE.key, SALES.id)])


def test_a_usage_cal_already_held_for_the_document_is_reused_when_the_pool_is_full(port: FakePort) -> None:
    few = rules(license=terms(session=0, usage=1))
    first = granted(allocate(opening(), few, port, NOW))
    again = granted(allocate(opening(client=ClientType.DESKTOP), few, port, NOW))
    assert port.sessions[first.session_id] == port.sessions[again.session_id]
    assert denied(allocate(opening(document=AR), few, port, NOW)).code == "no_cal_available"


def test_an_anonymous_user_gets_a_usage_cal_held_by_the_machine(port: FakePort) -> None:
    grant = granted(allocate(opening(user=None), rules(license=terms(session=0)), port, NOW))
    assert grant.cal_type is CalType.USAGE
    assert list(port.usage) == [("anonymous@WS-0042", SALES.id)]


# -- 7. deny ------------------------------------------------------------------------------------------------


def test_with_no_cal_available_the_open_is_denied_with_a_readable_reason(port: FakePort) -> None:
    port.fill_sessions(7)
    port.fill_usage(28)
    user = parse_user("DOMAIN\\user")
    denial = denied(allocate(opening(user=user), rules(), port, NOW))
    assert denial.reason == "no CAL available for DOMAIN\\user on SalesFlash.qvw"
    assert (denial.code, denial.user, denial.document, denial.granted) == (
        "no_cal_available", "DOMAIN\\user", "SalesFlash.qvw", False)


def test_an_anonymous_denial_names_the_machine(port: FakePort) -> None:
    denial = denied(allocate(opening(user=None), rules(license=terms(session=0, usage=0)), port, NOW))
    assert denial.reason == "no CAL available for an anonymous user on WS-0042 on SalesFlash.qvw"


def test_each_claim_is_told_what_the_license_holds_of_its_type(port: FakePort) -> None:
    one = replace(DYNAMIC_SALES, cals_allocated=1)
    port.give_named(BOB)
    port.give_document(BOB, one)
    port.fill_sessions(5)
    license = terms(named=1, document=11, session=5, usage=13)
    assert granted(allocate(opening(document=one), rules(license=license, dynamic=True), port, NOW)).cal_type \
        is CalType.USAGE
    assert port.in_license == {"named": 1, "document": 11, "session": 5, "usage": 13}


# -- anonymous users and identification by machine -----------------------------------------------------


def test_anonymous_users_never_get_named_or_document_cals(port: FakePort) -> None:
    port.give_named(WS)
    grant = granted(allocate(opening(user=None, document=DYNAMIC_SALES), rules(dynamic=True, by_machine=True),
                             port, NOW))
    assert grant.cal_type is CalType.SESSION
    assert not {"held_named_cal", "held_document_cal", "claim_named_cal", "claim_document_cal"} & set(port.calls)


def test_identifying_by_machine_uses_the_machines_named_cal(port: FakePort) -> None:
    cal = port.give_named(WS)
    grant = granted(allocate(opening(user=BOB), rules(by_machine=True), port, NOW))
    assert (grant.cal_type, grant.cal_id, grant.user) == (CalType.NAMED, cal, "ACME\\bob")
    assert grant.reason == "WS-0042 holds a Named User CAL"


def test_identifying_by_machine_ignores_the_users_own_named_cal(port: FakePort) -> None:
    port.give_named(ALICE)
    assert granted(allocate(opening(), rules(by_machine=True), port, NOW)).cal_type is CalType.SESSION


def test_identifying_by_user_ignores_the_machines_named_cal(port: FakePort) -> None:
    port.give_named(WS)
    assert granted(allocate(opening(), rules(), port, NOW)).cal_type is CalType.SESSION


def test_identifying_by_machine_assigns_a_dynamic_named_cal_to_the_machine(port: FakePort) -> None:
    grant = granted(allocate(opening(), rules(dynamic=True, by_machine=True), port, NOW))
    assert grant.reason == "a free Named User CAL was assigned to WS-0042"
    assert port.named_holders() == [holder(WS)]


# -- when nothing can be served ---------------------------------------------------------------------------


def test_without_a_license_every_open_is_denied(port: FakePort) -> None:
    port.give_named(ALICE)
    denial = denied(allocate(opening(), rules(unlicensed=True), port, NOW))
    assert (denial.code, denial.user, denial.document) == ("no_license", "ACME\\alice", "SalesFlash.qvw")
    assert "no license" in denial.reason
    assert port.calls == []


def test_after_the_time_limit_every_open_is_denied_with_that_reason(port: FakePort) -> None:
    port.give_named(ALICE)
    expired = rules(license=terms(time_limit=date(2026, 11, 30)))
    denial = denied(allocate(opening(), expired, port, NOW))
    assert (denial.code, denial.reason) == ("license_expired", "the server license expired on 2026-11-30")
    assert port.calls == []


def test_on_the_time_limit_day_opens_are_still_served(port: FakePort) -> None:
    last_day = rules(license=terms(time_limit=NOW.date()))
    assert granted(allocate(opening(), last_day, port, NOW + timedelta(hours=14, minutes=59))).granted


def test_in_maintenance_every_open_is_denied_before_anything_else(port: FakePort) -> None:
    denial = denied(allocate(opening(), rules(maintenance=True, unlicensed=True), port, NOW))
    assert denial.code == "maintenance"
    assert "maintenance" in denial.reason
    assert port.calls == []


def test_a_missing_document_is_denied_even_to_a_named_cal_holder(port: FakePort) -> None:
    port.give_named(ALICE)
    gone = replace(SALES, missing=True)
    denial = denied(allocate(opening(document=gone), rules(), port, NOW))
    assert (denial.code, denial.reason) == ("document_missing",
                                            "the document SalesFlash.qvw is missing from the root folder")
    assert port.calls == []


# -- quarantine: a CAL marked for removal is not held -------------------------------------------------------


def test_a_quarantined_named_cal_does_not_serve_so_a_held_document_cal_does(port: FakePort) -> None:
    port.give_named(ALICE, removed=True)
    cal = port.give_document(ALICE, SALES)
    assert granted(allocate(opening(), rules(), port, NOW)).cal_id == cal


def test_a_quarantined_named_cal_still_occupies_its_pool(port: FakePort) -> None:
    port.give_named(ALICE, removed=True)
    grant = granted(allocate(opening(user=BOB), rules(license=terms(named=1), dynamic=True), port, NOW))
    assert grant.cal_type is CalType.SESSION


def test_a_quarantined_document_cal_does_not_serve(port: FakePort) -> None:
    port.give_document(ALICE, SALES, removed=True)
    grant = granted(allocate(opening(), rules(), port, NOW))
    assert grant.cal_type is CalType.SESSION
    assert port.touched == []


# -- an invariant -------------------------------------------------------------------------------------------

USERS = [None, ALICE, BOB, parse_user("ACME\\carol"), parse_user("ACME\\dave")]


@settings(max_examples=60)
@given(
    counts=st.tuples(st.integers(1, 3), st.integers(0, 3), st.integers(0, 2), st.integers(0, 2)),
    dynamic=st.booleans(),
    opens=st.lists(st.tuples(st.sampled_from(USERS), st.sampled_from([DYNAMIC_SALES, AR]),
                             st.sampled_from([WS, LAPTOP]), st.sampled_from(list(ClientType))), max_size=25),
)
def test_never_more_cals_are_in_use_than_the_license_holds(
    counts: tuple[int, int, int, int], dynamic: bool, opens: list[tuple[Identity | None, DocumentInfo, Identity,
                                                                        ClientType]],
) -> None:
    named, document, session, usage = counts
    port = FakePort(NOW)
    site = rules(license=terms(named=named, document=document, session=session, usage=usage), dynamic=dynamic)
    for user, doc, machine, client in opens:
        decision = allocate(opening(user, doc, machine, client), site, port, NOW)
        if isinstance(decision, Grant) and decision.cal_type in (CalType.NAMED, CalType.DOCUMENT):
            assert user is not None
    assert len(port.named) <= named
    assert len(port.document) <= min(document, DYNAMIC_SALES.cals_allocated)
    assert len(port.session) <= session
    assert len(port.usage) <= usage


# -- one machine at a time ---------------------------------------------------------------------------


def test_a_named_cal_in_use_on_one_machine_refuses_another(port: FakePort) -> None:
    port.give_named(ALICE)
    granted(allocate(opening(machine=WS), rules(), port, NOW))
    refused = denied(allocate(opening(machine=LAPTOP), rules(), port, NOW))
    assert refused.code == "cal_in_use_on_other_machine"
    assert "in use on machine ws-0042" in refused.reason.lower()
    granted(allocate(opening(machine=WS, document=AR), rules(), port, NOW))  # the same machine: any number


def test_a_second_machine_takes_the_cal_over_where_the_site_says_so(port: FakePort) -> None:
    port.give_named(ALICE)
    first = granted(allocate(opening(machine=WS), rules(), port, NOW))
    taking = replace(rules(), second_machine_takes_over=True)
    granted(allocate(opening(machine=LAPTOP), taking, port, NOW))
    assert first.session_id not in port.machines  # ended


def test_a_document_cal_in_use_on_one_machine_refuses_another(port: FakePort) -> None:
    port.give_document(ALICE, SALES)
    granted(allocate(opening(machine=WS), rules(), port, NOW))
    refused = denied(allocate(opening(machine=LAPTOP), rules(), port, NOW))
    assert "Document CAL for SalesFlash.qvw" in refused.reason
