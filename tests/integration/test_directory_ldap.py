"""The site's directory against a real OpenLDAP slapd: test, search (paged, limited, injection-proof),
nested groups with a loop, group assignment, group rules and their sync, sign-in by bind, outages."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

import calkeeper
from calkeeper.core.errors import DirectoryUnavailable, NoCalAvailable, SignInRefused, UnknownGroup
from calkeeper.directory.ldap_directory import LdapConfig, LdapDirectory
from calkeeper.usecases.console_users import ConsoleUsers
from calkeeper.usecases.directory_sign_in import DirectoryRoles, DirectorySignIn
from tests.integration import ldap_kit
from tests.integration.ldap_kit import BIND_DN, BIND_PASSWORD, GROUPS, PEOPLE
from tests.kit import apply_license

pytestmark = pytest.mark.skipif(not Path(ldap_kit.SLAPD).exists(), reason="needs slapd (make system-packages)")


@pytest.fixture(scope="module")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ldap_kit.Slapd]:
    with ldap_kit.running_slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture
def config(slapd: ldap_kit.Slapd) -> LdapConfig:
    return LdapConfig(url=slapd.url, user_base=PEOPLE, group_base=GROUPS, domain="ACME", bind_dn=BIND_DN,
                      bind_password=BIND_PASSWORD, start_tls=False, login_attribute="uid",
                      user_filter="(objectClass=inetOrgPerson)", group_filter="(objectClass=groupOfNames)",
                      timeout_seconds=2)


@pytest.fixture
def directory(config: LdapConfig) -> LdapDirectory:
    return LdapDirectory(config)


@pytest.fixture
def ldap_site(database_url, clock, key, root, directory) -> Iterator[calkeeper.LocalSite]:
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester", directory=directory)
    yield site
    site.close()


def names(entries) -> list[str]:
    return [e.name for e in entries]


# -- test ---------------------------------------------------------------------------------------------


def test_directory_test_connects_binds_and_finds_users_and_groups(directory):
    check = directory.check()
    assert check.kind == "ldap"
    assert any("bound as cn=calkeeper" in step for step in check.steps)
    assert any("found users" in step for step in check.steps) and any("found groups" in s for s in check.steps)


def test_directory_test_says_in_plain_words_what_is_wrong(config):
    cases = {
        "directory_bind_failed": dataclasses.replace(config, bind_password="not-the-password"),
        "directory_unreachable": dataclasses.replace(config, url=f"ldap://127.0.0.1:{ldap_kit.free_port()}"),
        "directory_tls_failed": dataclasses.replace(config, start_tls=True),
        "directory_base_not_found": dataclasses.replace(config, user_base="ou=nobody,dc=acme,dc=example"),
    }
    for code, broken in cases.items():
        with pytest.raises(DirectoryUnavailable) as refused:
            LdapDirectory(broken).check()
        assert refused.value.code == code
        assert "not-the-password" not in refused.value.message and BIND_PASSWORD not in refused.value.message


def test_an_empty_base_is_named(config, slapd):
    conn = slapd.admin()
    conn.add(f"ou=empty,{ldap_kit.SUFFIX}", ["organizationalUnit"], {"ou": "empty"})
    conn.unbind()
    with pytest.raises(DirectoryUnavailable, match="has no user under the user base 'ou=empty") as refused:
        LdapDirectory(dataclasses.replace(config, user_base=f"ou=empty,{ldap_kit.SUFFIX}")).check()
    assert refused.value.code == "directory_base_not_found"


# -- search -------------------------------------------------------------------------------------------


def test_users_are_found_by_part_of_their_name_as_domain_backslash_user(directory):
    found = directory.search("aro", kind="user", limit=50)
    assert names(found) == ["ACME\\carol"] and found[0].display_name == "Carol Example"


def test_groups_are_found_with_their_member_counts(directory):
    groups = {e.name: e.members for e in directory.search("", kind="group", limit=50)}
    assert groups["sales"] == 3 and groups["emea"] == 2 and groups["finance"] == 1


@pytest.mark.parametrize("typed", ["*", "(", ")", "\\", "\x00", "*)(uid=*", "a*)(|(uid=*"])
def test_search_text_cannot_change_the_filter(directory, typed):
    found = directory.search(typed, kind="user", limit=50)
    # only entries that really hold the typed characters: paren's display name has "(test) *star* back\slash"
    assert set(names(found)) <= {"ACME\\paren"}
    if typed in ("*", "(", ")", "\\"):
        assert names(found) == ["ACME\\paren"]


def test_search_is_paged_and_limited_in_a_large_directory(directory, slapd, config):
    ldap_kit.add_users(slapd, 450)
    small_pages = LdapDirectory(dataclasses.replace(config, page_size=50))
    assert len(small_pages.search("u0", kind="user", limit=500)) == 450
    assert len(small_pages.search("u0", kind="user", limit=120)) == 120
    assert len(small_pages.members("big")) == 451  # frank and the 450


# -- nested groups --------------------------------------------------------------------------------------


def test_members_of_nested_groups_count_and_a_loop_of_groups_ends(directory):
    assert names(directory.members("sales")) == ["ACME\\alice", "ACME\\bob", "ACME\\carol"]
    assert names(directory.members("emea")) == ["ACME\\alice", "ACME\\bob", "ACME\\carol"]
    assert names(directory.members(f"cn=finance,{GROUPS}")) == ["ACME\\dave"]


def test_an_unknown_group_is_named(directory):
    with pytest.raises(UnknownGroup, match="no group 'nobody'"):
        directory.members("nobody")


# -- sign-in by bind ------------------------------------------------------------------------------------


def test_a_user_signs_in_by_binding_with_their_password_and_gets_their_nested_groups(directory):
    account = directory.authenticate("ACME\\carol", "carol-password")
    assert account is not None and account.name == "ACME\\carol"
    assert account.in_group("emea") and account.in_group("sales")  # sales through emea
    assert directory.authenticate("carol", "carol-password") is not None


@pytest.mark.parametrize("password", ["", "wrong-password"])
def test_an_empty_or_wrong_password_never_authenticates(directory, password):
    assert directory.authenticate("ACME\\alice", password) is None


def test_a_name_of_another_domain_or_with_filter_characters_finds_nobody(directory):
    assert directory.authenticate("OTHER\\alice", "alice-password") is None
    assert directory.authenticate("*", "alice-password") is None
    assert directory.authenticate("al*", "alice-password") is None


def test_console_roles_come_from_directory_groups(ldap_site, directory):
    users = ConsoleUsers(uow=ldap_site.app.uow, default_actor="tester", directory=DirectorySignIn(
        directory=directory, roles=DirectoryRoles(admins_group="console-admins", viewers_group="console-viewers")))
    _, admin = users.sign_in("erin", "erin-password")
    _, viewer = users.sign_in("ACME\\frank", "frank-password")
    assert (admin.username, admin.role) == ("ACME\\erin", "admin")
    assert (viewer.username, viewer.role) == ("ACME\\frank", "viewer")
    with pytest.raises(SignInRefused):
        users.sign_in("alice", "alice-password")  # in neither group
    with pytest.raises(SignInRefused):
        users.sign_in("erin", "")
    # the console account made for erin holds no password: only the directory signs her in
    with pytest.raises(SignInRefused):
        ConsoleUsers(uow=ldap_site.app.uow, default_actor="tester").sign_in("ACME\\erin", "erin-password")


def test_a_directory_that_is_down_refuses_sign_in_with_its_own_message(ldap_site, config, caplog):
    down = LdapDirectory(dataclasses.replace(config, url=f"ldap://127.0.0.1:{ldap_kit.free_port()}"))
    users = ConsoleUsers(uow=ldap_site.app.uow, default_actor="tester", directory=DirectorySignIn(
        directory=down, roles=DirectoryRoles(admins_group="console-admins")))
    with caplog.at_level(logging.DEBUG), pytest.raises(SignInRefused) as refused:
        users.sign_in("erin", "erin-password")
    assert refused.value.code == "directory_sign_in_unavailable"
    assert BIND_PASSWORD not in caplog.text and "erin-password" not in caplog.text


# -- group assignment, rules and sync -------------------------------------------------------------------


def test_assigning_to_a_group_gives_each_member_a_cal_as_far_as_cals_last(ldap_site, key):
    apply_license(ldap_site, key, named=2)
    done = ldap_site.assign_group("sales")
    assert [(o.user, o.outcome) for o in done.outcomes] == [
        ("ACME\\alice", "assigned"), ("ACME\\bob", "assigned"), ("ACME\\carol", "no CAL left")]


def test_all_or_nothing_assigns_nobody_when_cals_run_short(ldap_site, key):
    apply_license(ldap_site, key, named=2)
    with pytest.raises(NoCalAvailable, match="nothing was assigned"):
        ldap_site.assign_group("sales", all_or_nothing=True)
    assert ldap_site.list_named_cals().total == 0


def set_members(slapd: ldap_kit.Slapd, group: str, *users: str) -> None:
    conn = slapd.admin()
    conn.modify(ldap_kit.group_dn(group), {"member": [("MODIFY_REPLACE", [ldap_kit.user_dn(u) for u in users])]})
    conn.unbind()


def test_a_sync_gives_new_members_cals_and_quarantines_those_of_leavers(ldap_site, key, slapd, request):
    apply_license(ldap_site, key, named=5)
    ldap_site.add_group_rule("finance")
    first = ldap_site.sync_directory()
    assert [(o.user, o.outcome) for o in first.rules[0].assign] == [("ACME\\dave", "assigned")]
    ldap_site.open_document("ACME\\dave", "SalesFlash.qvw")
    set_members(slapd, "finance", "bob")  # dave left, bob joined
    request.addfinalizer(lambda: set_members(slapd, "finance", "dave"))
    preview = ldap_site.sync_directory(dry_run=True)
    assert preview.dry_run and [(o.user, o.outcome) for o in preview.rules[0].remove] == [("ACME\\dave", "quarantined")]
    assert ldap_site.user_cals("ACME\\dave").named_cal.quarantined_until is None  # the dry run changed nothing
    done = ldap_site.sync_directory()
    assert [(o.user, o.outcome) for o in done.rules[0].remove] == [("ACME\\dave", "quarantined")]
    assert [(o.user, o.outcome) for o in done.rules[0].assign] == [("ACME\\bob", "assigned")]
    assert ldap_site.user_cals("ACME\\dave").named_cal.quarantined_until is not None
    assert "directory.synced" in [a.action for a in ldap_site.audit(limit=50)]


def test_a_sync_never_takes_a_cal_assigned_by_hand(ldap_site, key):
    apply_license(ldap_site, key, named=5)
    ldap_site.assign_named_cals("ACME\\alice")
    ldap_site.add_group_rule("finance")
    report = ldap_site.sync_directory()
    assert all(o.user != "ACME\\alice" for part in report.rules for o in part.remove)
    assert ldap_site.user_cals("ACME\\alice").named_cal is not None


def test_a_sync_waits_when_the_directory_is_down_and_the_gate_still_answers(database_url, clock, key, root, config):
    down = LdapDirectory(dataclasses.replace(config, url=f"ldap://127.0.0.1:{ldap_kit.free_port()}"))
    site = calkeeper.open_site(database_url, clock=clock, trusted_keys={key.key_id: key.private.public_key()},
                               root_folder=root, actor="tester", directory=down)
    try:
        apply_license(site, key, named=2)
        site.assign_named_cals("ACME\\alice")
        site.app.group_rules.directory = LdapDirectory(config)
        site.add_group_rule("finance")
        site.app.group_rules.directory = down
        report = site.sync_directory()
        assert report.waiting and "waits" in report.waiting and report.rules == []
        assert site.open_document("ACME\\alice", "SalesFlash.qvw").granted
    finally:
        site.close()
