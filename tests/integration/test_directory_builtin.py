"""The built-in directory: users imported from CSV (all or nothing, each bad row named), searched, grouped,
signed in with their argon2 hashes; group rules with it; backups and clearing CAL data."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import InvalidInput, SignInRefused, UnknownGroup
from calkeeper.usecases.console_users import ConsoleUsers
from calkeeper.usecases.directory_sign_in import DirectoryRoles, DirectorySignIn
from tests.kit import apply_license

USERS = """user,display_name,password,groups
ACME\\alice,Alice Adams,correct-horse-battery,Sales;Console Admins
ACME\\bob,Bob Brown,,Sales
ACME\\carol,Carol Clark,,Finance
"""


@pytest.fixture
def directory_site(site):
    site.import_directory_users(USERS)
    return site


def test_importing_users_adds_them_with_their_groups(site):
    done = site.import_directory_users(USERS)
    assert (done.added, done.replaced, done.groups) == (3, 0, 3)
    assert [e.name for e in site.search_directory("b")] == ["ACME\\bob"]
    assert [e.name for e in site.search_directory("clark")] == ["ACME\\carol"]  # by display name
    groups = {e.name: e.members for e in site.search_directory("", kind="group")}
    assert groups == {"Console Admins": 1, "Finance": 1, "Sales": 2}
    assert site.import_directory_users(USERS).replaced == 3


def test_an_import_with_bad_rows_imports_nothing_and_names_each_bad_row(site):
    bad = ("user,password\nACME\\ok,a-good-long-passphrase\nnobackslash,\nACME\\short,short\n"
           "ACME\\ok,\nACME\\weak,password123\n")
    with pytest.raises(InvalidInput) as refused:
        site.import_directory_users(bad)
    message = refused.value.message
    assert "row 3 (nobackslash)" in message and "row 4 (ACME\\short)" in message
    assert "row 5 (ACME\\ok): the same user as row 2" in message and "row 6 (ACME\\weak)" in message
    assert site.search_directory("") == []


def test_an_unknown_column_is_refused(site):
    with pytest.raises(InvalidInput, match="unknown: mail"):
        site.import_directory_users("user,mail\nACME\\a,a@example.org\n")


def test_search_text_is_taken_literally(directory_site):
    assert directory_site.search_directory("%") == [] and directory_site.search_directory("_") == []
    with pytest.raises(InvalidInput):
        directory_site.search_directory("\x00")


def test_the_built_in_directory_checks_passwords_with_argon2(directory_site):
    directory = directory_site.app.directory
    assert directory.authenticate("acme\\ALICE", "correct-horse-battery").name == "ACME\\alice"
    assert directory.authenticate("ACME\\alice", "wrong-horse-battery") is None
    assert directory.authenticate("ACME\\alice", "") is None
    assert directory.authenticate("ACME\\bob", "") is None  # no password: no password sign-in
    assert directory.authenticate("ACME\\nobody", "correct-horse-battery") is None


def test_console_sign_in_as_a_built_in_directory_user_takes_the_role_of_its_group(directory_site):
    users = ConsoleUsers(uow=directory_site.app.uow, default_actor="tester", directory=DirectorySignIn(
        directory=directory_site.app.directory, roles=DirectoryRoles(admins_group="Console Admins")))
    _, who = users.sign_in("ACME\\alice", "correct-horse-battery")
    assert (who.username, who.role) == ("ACME\\alice", "admin")
    with pytest.raises(SignInRefused):
        users.sign_in("ACME\\alice", "not-her-password")


def test_assigning_to_an_unknown_group_names_it(directory_site, key):
    apply_license(directory_site, key, named=5)
    with pytest.raises(UnknownGroup):
        directory_site.assign_group("Nobody")


def test_a_document_cal_rule_gives_cals_out_of_the_documents_allocation(directory_site, key):
    apply_license(directory_site, key, named=1, document=5)
    directory_site.set_document_allocation("SalesFlash.qvw", 1)
    rule = directory_site.add_group_rule("Sales", document="SalesFlash.qvw")
    assert rule.cal_type == "document" and rule.document == "SalesFlash.qvw"
    report = directory_site.sync_directory()
    outcomes = {o.user: o.outcome for o in report.rules[0].assign}
    assert outcomes == {"ACME\\alice": "assigned", "ACME\\bob": "no CAL left"}
    assert directory_site.list_group_rules()[0].holders == 1


def test_backups_keep_the_directory_and_rules_and_clearing_keeps_rules_not_their_cals(directory_site, key, tmp_path):
    apply_license(directory_site, key, named=5)
    directory_site.add_group_rule("Sales")
    directory_site.sync_directory()
    outcome = directory_site.clear_cal_data(backup_to=tmp_path / "before.json")
    assert directory_site.list_group_rules()[0].holders == 0  # the rule stays; its CALs went with the others
    assert len(directory_site.search_directory("")) == 3
    directory_site.restore(outcome.backup)
    assert directory_site.list_group_rules()[0].holders == 2
    assert len(directory_site.search_directory("", kind="group")) == 3


class DownDirectory:
    """A directory that cannot be asked (its server is down)."""

    kind = "ldap"

    def members(self, group):
        from calkeeper.core.errors import DirectoryUnavailable
        raise DirectoryUnavailable("the directory at ldap://ldap.acme.example cannot be reached (timed out)")


def test_the_servers_syncs_wait_a_minute_while_the_directory_is_down_then_keep_their_pace(directory_site, key,
                                                                                       clock):
    from datetime import timedelta

    from calkeeper.usecases.group_rules import ScheduledSync

    apply_license(directory_site, key, named=5)
    directory_site.add_group_rule("Sales")
    rules = directory_site.app.group_rules
    working, rules.directory = rules.directory, DownDirectory()
    scheduled = ScheduledSync(rules, every=timedelta(minutes=30))
    assert "waits" in scheduled.run_if_due().waiting
    assert scheduled.run_if_due() is None  # not due again yet
    clock.advance(timedelta(minutes=1))
    assert scheduled.run_if_due().waiting
    assert [a.action for a in directory_site.audit(action="directory.sync_waiting")] == ["directory.sync_waiting"]
    rules.directory = working
    clock.advance(timedelta(minutes=1))
    assert scheduled.run_if_due().rules[0].assign
    clock.advance(timedelta(minutes=29))
    assert scheduled.run_if_due() is None
