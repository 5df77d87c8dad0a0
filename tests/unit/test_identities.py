"""User and machine names, and the ';' lists admins type into "Manage users" (domain.md section 2)."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import InvalidInput, InvalidUsers
from calkeeper.core.identities import parse_identity, parse_identity_list, parse_machine, parse_user

# -- one user name ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ACME\\alice", "CUSTOM\\bob", "corp.example.com\\carol.d", "EU-1\\dan o'neil"])
def test_a_domain_or_custom_user_name_is_valid(name: str) -> None:
    identity = parse_user(name)
    assert identity.name == name
    assert identity.kind == "user"


def test_user_names_compare_case_insensitively_but_keep_their_spelling() -> None:
    first, second = parse_user("ACME\\Alice"), parse_user("acme\\ALICE")
    assert first.key == second.key
    assert first.name == "ACME\\Alice"
    assert second.name == "acme\\ALICE"


def test_spaces_around_a_user_name_are_trimmed() -> None:
    assert parse_user("  ACME\\alice  ").name == "ACME\\alice"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("alice", "DOMAIN\\user"),
        ("\\alice", "domain before the backslash is missing"),
        ("ACME\\", "user name after the backslash is missing"),
        ("AC ME\\alice", "not a valid domain name"),
        ("ACME\\ali:ce", "character a user name cannot have"),
        ("ACME\\a*b", "character a user name cannot have"),
        ("ACME\\ alice", "cannot begin or end with a space"),
    ],
)
def test_an_invalid_user_name_is_refused_with_what_is_wrong(name: str, problem: str) -> None:
    with pytest.raises(InvalidUsers) as caught:
        parse_user(name)
    assert name.strip() in caught.value.message
    assert problem in caught.value.message
    assert caught.value.code == "invalid_user"
    [detail] = caught.value.details
    assert detail["entry"] == name.strip()
    assert problem in detail["problem"]


def test_invalid_users_is_an_invalid_input_error() -> None:
    with pytest.raises(InvalidInput):
        parse_user("nobody")


# -- ';' lists ---------------------------------------------------------------------------------------


def test_a_semicolon_list_gives_every_user_in_order() -> None:
    users = parse_identity_list("Domain\\User1;Domain\\User2;CUSTOM\\ext")
    assert [u.name for u in users] == ["Domain\\User1", "Domain\\User2", "CUSTOM\\ext"]


def test_blank_entries_in_a_list_are_ignored() -> None:
    users = parse_identity_list(" ;ACME\\alice;; ;ACME\\bob; ")
    assert [u.name for u in users] == ["ACME\\alice", "ACME\\bob"]


def test_duplicates_in_a_list_are_ignored_case_insensitively_keeping_the_first_spelling() -> None:
    users = parse_identity_list("ACME\\Alice;acme\\alice;ACME\\bob;ACME\\ALICE")
    assert [u.name for u in users] == ["ACME\\Alice", "ACME\\bob"]


def test_a_list_of_strings_may_itself_hold_semicolon_lists() -> None:
    users = parse_identity_list(["ACME\\alice;ACME\\bob", "ACME\\carol"])
    assert [u.name for u in users] == ["ACME\\alice", "ACME\\bob", "ACME\\carol"]


def test_every_invalid_entry_of_a_list_is_named_in_the_message_and_the_details() -> None:
    with pytest.raises(InvalidUsers) as caught:
        parse_identity_list("ACME\\erin;bob;ACME\\carol;\\dave;ACME\\e|f")
    error = caught.value
    for bad in ("bob", "\\dave", "ACME\\e|f"):
        assert f"'{bad}'" in error.message
    assert [d["entry"] for d in error.details] == ["bob", "\\dave", "ACME\\e|f"]
    assert all(d["problem"] for d in error.details)
    assert "3 entries are not valid" in error.message
    assert "ACME\\erin" not in error.message
    assert "ACME\\carol" not in error.message


def test_a_single_invalid_entry_is_reported_in_the_singular() -> None:
    with pytest.raises(InvalidUsers, match="1 entry is not valid: 'bob'"):
        parse_identity_list("ACME\\alice;bob")


def test_nothing_of_a_list_is_returned_when_any_entry_is_invalid() -> None:
    result = None
    with pytest.raises(InvalidUsers, match="nothing was applied"):
        result = parse_identity_list("ACME\\alice;ACME\\bob;not-a-user")
    assert result is None


@pytest.mark.parametrize("entries", ["", " ; ;; ", [], ["", " "]])
def test_an_empty_list_is_refused(entries: str | list[str]) -> None:
    with pytest.raises(InvalidUsers, match="the list has no names") as caught:
        parse_identity_list(entries)
    assert caught.value.details == []


# -- machine names -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["WS-0042", "laptop.acme.local", "build_agent7"])
def test_a_machine_name_is_valid(name: str) -> None:
    identity = parse_machine(name)
    assert (identity.name, identity.kind) == (name, "machine")


def test_machine_names_compare_case_insensitively() -> None:
    assert parse_machine("WS-0042").key == parse_machine("ws-0042").key


@pytest.mark.parametrize("name", ["ACME\\WS-0042", "WS 0042", "-WS", "", "WS;1"])
def test_an_invalid_machine_name_is_refused_by_name(name: str) -> None:
    with pytest.raises(InvalidUsers, match="not a valid machine name") as caught:
        parse_machine(name)
    assert caught.value.details[0]["entry"] == name


def test_the_identification_mode_chooses_how_a_name_is_read() -> None:
    assert parse_identity("WS-0042", kind="machine").kind == "machine"
    assert parse_identity("ACME\\alice", kind="user").kind == "user"
    with pytest.raises(InvalidUsers):
        parse_identity("WS-0042", kind="user")
    with pytest.raises(InvalidUsers):
        parse_identity("ACME\\alice", kind="machine")


def test_a_list_of_machines_reports_each_invalid_machine() -> None:
    assert [m.name for m in parse_identity_list("WS-1;ws-1;WS-2", kind="machine")] == ["WS-1", "WS-2"]
    with pytest.raises(InvalidUsers) as caught:
        parse_identity_list("WS-1;ACME\\alice;bad name", kind="machine")
    assert [d["entry"] for d in caught.value.details] == ["ACME\\alice", "bad name"]

