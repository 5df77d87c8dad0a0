"""Named User CALs through the Site API: manual ';' lists, names, dynamic assignment, identification mode."""

from __future__ import annotations

import threading

import pytest

from calkeeper.core.errors import InvalidInput, InvalidUsers, NoCalAvailable, NoLicense
from calkeeper.core.identities import Identity
from tests.integration.steps import AR, SALES, audit_entries, named_cal, named_users, open_as, pool
from tests.kit import apply_license

ALICE, BOB, CAROL = "ACME\\alice", "ACME\\bob", "ACME\\carol"


@pytest.fixture
def manual_only(site):
    """Dynamic Named CAL assignment off, as admins who assign by hand run it."""
    site.update_cal_settings(allow_dynamic_assignment=False)
    return site


# -- manual assignment: a ';' list, all or nothing ---------------------------------------------------


def test_a_semicolon_list_assigns_a_named_cal_to_each_user(site, key):
    apply_license(site, key, named=3)
    outcomes = site.assign_named_cals(f"{ALICE}; {BOB};;{CAROL}")
    assert [(o.user, o.outcome) for o in outcomes] == [(ALICE, "assigned"), (BOB, "assigned"), (CAROL, "assigned")]
    assert named_users(site) == [ALICE, BOB, CAROL]
    assert pool(site, "named").assigned == 3 and pool(site, "named").free == 0


def test_blanks_and_duplicates_in_the_list_are_ignored(site, key):
    apply_license(site, key, named=3)
    outcomes = site.assign_named_cals(f" ;{ALICE};; acme\\ALICE ;{BOB};")
    assert [o.user for o in outcomes] == [ALICE, BOB]
    assert pool(site, "named").assigned == 2


def test_an_invalid_entry_assigns_nobody_and_the_message_names_it(site, key):
    apply_license(site, key, named=5)
    with pytest.raises(InvalidUsers) as refused:
        site.assign_named_cals(f"{ALICE};bob;{CAROL}")
    assert "'bob'" in refused.value.message and "nothing was applied" in refused.value.message
    assert [d["entry"] for d in refused.value.details] == ["bob"]
    assert named_users(site) == []
    assert audit_entries(site, "named_cal.assigned") == []


def test_every_invalid_entry_of_the_list_is_named(site, key):
    apply_license(site, key, named=5)
    with pytest.raises(InvalidUsers) as refused:
        site.assign_named_cals(f"bob;{ALICE};ACME\\ca|rol;\\dave")
    assert [d["entry"] for d in refused.value.details] == ["bob", "ACME\\ca|rol", "\\dave"]
    for entry in ("'bob'", "'ACME\\ca|rol'", "'\\dave'"):
        assert entry in refused.value.message
    assert named_users(site) == []


def test_a_list_of_only_blanks_is_refused(site, key):
    apply_license(site, key, named=5)
    with pytest.raises(InvalidUsers):
        site.assign_named_cals(" ; ;")
    assert named_users(site) == []


def test_too_few_free_cals_for_the_whole_list_assigns_nobody(site, key):
    apply_license(site, key, named=2)
    site.assign_named_cals(ALICE)
    with pytest.raises(NoCalAvailable) as refused:
        site.assign_named_cals(f"{BOB};{CAROL}")
    assert "nothing was assigned" in refused.value.message
    assert named_users(site) == [ALICE]
    assert [e.target for e in audit_entries(site, "named_cal.assigned")] == [ALICE]


def test_a_refusal_for_want_of_named_cals_gives_the_numbers(site, key, clock):
    apply_license(site, key, named=3)
    site.update_cal_settings(allow_dynamic_assignment=False)
    site.assign_named_cals(f"{ALICE};{BOB};ACME\\dave")
    open_as(site, ALICE)
    site.remove_named_cals(ALICE)  # used just now: quarantined, still occupying its CAL
    with pytest.raises(NoCalAvailable) as refused:
        site.assign_named_cals(f"{CAROL};ACME\\erin;{BOB}")  # Bob holds his already
    assert refused.value.message == ("the list needs 2 new Named User CALs and 0 are free (3 in license, "
                                     "2 assigned, 1 quarantined); nothing was assigned")


def test_assigning_without_a_license_is_refused(site):
    with pytest.raises(NoLicense):
        site.assign_named_cals(ALICE)
    assert named_users(site) == []


def test_a_manual_assignment_is_audited_with_its_actor_and_source(site, key):
    apply_license(site, key, named=2)
    site.assign_named_cals(ALICE, actor="ACME\\admin")
    [entry] = audit_entries(site, "named_cal.assigned")
    assert (entry.actor, entry.target, entry.details["source"]) == ("ACME\\admin", ALICE, "manual")
    assert named_cal(site, ALICE).source == "manual"


# -- names compare case-insensitively ----------------------------------------------------------------


def test_names_compare_case_insensitively_and_the_first_spelling_is_displayed(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    site.assign_named_cals("ACME\\Alice")
    [again] = site.assign_named_cals("acme\\ALICE")
    assert again.outcome == "already assigned" and again.user == "ACME\\Alice"
    assert named_users(site) == ["ACME\\Alice"]
    decision = open_as(site, "acme\\alice")
    assert decision.cal_type == "named" and not decision.dynamic
    assert pool(site, "named").assigned == 1


def test_a_user_first_seen_opening_a_document_keeps_that_spelling_when_assigned_later(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    assert open_as(site, "ACME\\Bob").cal_type == "session"
    [outcome] = site.assign_named_cals("acme\\BOB")
    assert outcome.user == "ACME\\Bob"
    assert named_users(site) == ["ACME\\Bob"]
    assert site.user_cals("acme\\bob").user == "ACME\\Bob"


def test_a_dynamic_assignment_displays_the_first_spelling_seen_not_the_one_that_claimed_it(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    open_as(site, "ACME\\Bob")
    site.update_cal_settings(allow_dynamic_assignment=True)
    decision = open_as(site, "acme\\BOB")
    assert decision.cal_type == "named" and decision.dynamic
    assert named_users(site) == ["ACME\\Bob"]


# -- dynamic assignment ------------------------------------------------------------------------------


def test_with_dynamic_assignment_on_a_first_open_assigns_a_free_named_cal(site, key):
    apply_license(site, key, named=2)
    decision = open_as(site, ALICE)
    assert decision.granted and decision.cal_type == "named" and decision.dynamic
    assert named_cal(site, ALICE).source == "dynamic"
    [entry] = audit_entries(site, "named_cal.assigned")
    assert (entry.target, entry.details["source"]) == (ALICE, "dynamic")


def test_a_dynamically_assigned_named_cal_serves_every_document_afterwards(site, key):
    apply_license(site, key, named=2)
    open_as(site, ALICE)
    decision = open_as(site, ALICE, AR)
    assert decision.cal_type == "named" and not decision.dynamic
    assert pool(site, "named").assigned == 1


def test_dynamic_assignment_stops_when_the_named_pool_is_full(site, key):
    apply_license(site, key, named=1)
    assert open_as(site, ALICE).cal_type == "named"
    decision = open_as(site, BOB, machine="PC-2")
    assert decision.cal_type == "session"
    assert named_users(site) == [ALICE]


def test_with_dynamic_assignment_off_a_user_without_a_named_cal_falls_to_a_session_cal(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    assert open_as(site, ALICE).cal_type == "session"
    assert named_users(site) == []


def test_turning_dynamic_assignment_off_keeps_the_named_cals_it_handed_out(site, key):
    apply_license(site, key, named=2)
    open_as(site, ALICE)
    settings = site.update_cal_settings(allow_dynamic_assignment=False)
    assert settings.allow_dynamic_assignment is False
    assert open_as(site, ALICE).cal_type == "named"
    assert open_as(site, BOB, machine="PC-2").cal_type == "session"
    assert site.update_cal_settings(allow_dynamic_assignment=True).allow_dynamic_assignment is True
    assert open_as(site, BOB, machine="PC-2").cal_type == "named"


def test_a_settings_change_is_audited(site):
    site.update_cal_settings(allow_dynamic_assignment=False, actor="ACME\\admin")
    [entry] = audit_entries(site, "cal.settings_changed")
    assert entry.actor == "ACME\\admin" and entry.details == {"allow_dynamic_assignment": False}


# -- identification by machine -----------------------------------------------------------------------


@pytest.fixture
def by_machine(manual_only):
    manual_only.update_cal_settings(identification_mode="machine")
    return manual_only


def test_identifying_by_machine_ties_the_named_cal_to_the_machine(by_machine, key):
    site = by_machine
    apply_license(site, key, named=2)
    site.assign_named_cals("PC-17")
    first = open_as(site, ALICE, machine="PC-17")
    assert first.cal_type == "named" and "PC-17" in first.reason
    assert open_as(site, BOB, machine="pc-17").cal_type == "named"
    assert open_as(site, ALICE, machine="PC-18").cal_type == "session"
    [cal] = site.list_named_cals().items
    assert (cal.user, cal.identity_kind) == ("PC-17", "machine")


def test_in_machine_mode_the_list_takes_machine_names_not_user_names(by_machine, key):
    site = by_machine
    apply_license(site, key, named=2)
    with pytest.raises(InvalidUsers) as refused:
        site.assign_named_cals(f"PC-17;{ALICE}")
    assert ALICE in refused.value.message
    assert named_users(site) == []


def test_in_machine_mode_dynamic_assignment_assigns_the_machine(by_machine, key):
    site = by_machine
    site.update_cal_settings(allow_dynamic_assignment=True)
    apply_license(site, key, named=1)
    assert open_as(site, ALICE, machine="PC-17").dynamic
    assert open_as(site, BOB, machine="PC-17").cal_type == "named"
    assert open_as(site, CAROL, machine="PC-18").cal_type == "session"
    [cal] = site.list_named_cals().items
    assert (cal.user, cal.identity_kind, cal.source) == ("PC-17", "machine", "dynamic")


def test_a_user_named_cal_does_not_serve_once_the_server_identifies_by_machine(manual_only, key):
    site = manual_only
    apply_license(site, key, named=2)
    site.assign_named_cals(ALICE)
    site.update_cal_settings(identification_mode="machine")
    assert open_as(site, ALICE, SALES, machine="PC-1").cal_type == "session"
    site.update_cal_settings(identification_mode="user")
    assert open_as(site, ALICE, SALES, machine="PC-1").cal_type == "named"


def test_an_unknown_identification_mode_is_refused(site):
    with pytest.raises(InvalidInput):
        site.update_cal_settings(identification_mode="ip-address")
    assert site.cal_overview().settings.identification_mode == "user"


def test_after_switching_to_machines_the_users_cals_can_be_listed_removed_and_restored(site, key, clock):
    apply_license(site, key, named=3)
    site.assign_named_cals("ACME\\alice;ACME\\bob")
    open_as(site, "ACME\\alice")  # used now: her removal quarantines
    switched = site.update_cal_settings(identification_mode="machine")
    assert switched.other_kind_named_cals == 2
    assert switched.other_kind_note.startswith("2 Named CALs are still assigned to user names")
    listed = {c.user: c.identity_kind for c in site.list_named_cals().items}
    assert listed == {"ACME\\alice": "user", "ACME\\bob": "user"}
    removed = site.remove_named_cals("ACME\\alice;ACME\\bob")
    assert [(r.user, r.outcome) for r in removed] == [("ACME\\alice", "quarantined"), ("ACME\\bob", "freed")]
    assert [r.outcome for r in site.restore_named_cals("ACME\\alice")] == ["restored"]
    site.assign_named_cals("PC-7")
    assert site.cal_overview().settings.other_kind_named_cals == 1
    back = site.update_cal_settings(identification_mode="user")
    assert back.other_kind_named_cals == 1 and "machine names" in back.other_kind_note
    assert [r.outcome for r in site.remove_named_cals("PC-7")] == ["freed"]  # never used
    assert site.cal_overview().settings.other_kind_named_cals == 0


def test_two_first_sightings_of_one_name_at_once_both_display_the_spelling_that_committed_first(site, key):
    """On PostgreSQL the second waits for the first's row; it then reads the first's spelling, not nothing."""
    first_in, second_done, shown = threading.Event(), threading.Event(), {}

    def remember(name: str, hold: bool) -> None:
        with site.app.uow.write() as tx:
            shown[name] = tx.users.remember([Identity(name, "ACME\\DAVE", "user")])["ACME\\DAVE"]
            if hold:
                first_in.set()
                second_done.wait(timeout=1)  # the second cannot finish before this commits (PostgreSQL, SQLite)

    first = threading.Thread(target=remember, args=("ACME\\Dave", True))
    first.start()
    assert first_in.wait(timeout=30)
    second = threading.Thread(target=lambda: (remember("acme\\DAVE", False), second_done.set()))
    second.start()
    first.join(timeout=30)
    second.join(timeout=30)
    assert shown == {"ACME\\Dave": "ACME\\Dave", "acme\\DAVE": "ACME\\Dave"}
