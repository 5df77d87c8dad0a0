"""User and machine names, and the ';' lists admins type into "Manage users" (domain.md section 2)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from calkeeper.core.comparison import comparison_key
from calkeeper.core.errors import InvalidInput, InvalidUsers
from calkeeper.core.identities import (
    DOMAIN_MAX,
    MACHINE_MAX,
    USER_KEY_MAX,
    USER_NAME_MAX,
    USER_PART_MAX,
    parse_identity,
    parse_identity_list,
    parse_machine,
    parse_user,
)

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



# -- lengths: every name accepted fits where it is stored --------------------------------------------


def test_the_longest_user_name_is_accepted_and_one_character_more_is_refused_saying_so() -> None:
    longest = "D" * DOMAIN_MAX + "\\" + "u" * USER_PART_MAX
    assert parse_user(longest).name == longest
    with pytest.raises(InvalidUsers, match=f"at most {USER_PART_MAX} are allowed"):
        parse_user(longest + "u")
    with pytest.raises(InvalidUsers, match=f"at most {DOMAIN_MAX} are allowed"):
        parse_user("D" + longest)


def test_a_name_that_nfc_makes_too_long_is_refused_naming_the_entry() -> None:
    # U+0958 DEVANAGARI LETTER QA is one character typed, two in NFC (it is excluded from composition)
    name = "ACME\\" + "\u0958" * USER_PART_MAX
    with pytest.raises(InvalidUsers, match=f"has {2 * USER_PART_MAX} characters; at most {USER_PART_MAX}") as caught:
        parse_user(name)
    assert caught.value.details[0]["entry"] == unicodedata.normalize("NFC", name)


def test_a_key_is_exactly_as_long_as_the_name_in_nfc() -> None:
    user = "ß" * USER_PART_MAX  # full case folding would make 208 characters of it
    identity = parse_user(f"ACME\\{user}")
    assert len(identity.key) == len(identity.name) <= USER_KEY_MAX


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ("\x00", "U+0000 NULL"),
        ("\x1b", "U+001B ESCAPE"),
        ("\x7f", "U+007F DELETE"),
        ("\x85", "U+0085 NEXT LINE"),
        ("\x9b", "U+009B"),
        ("\u2028", "U+2028 LINE SEPARATOR"),
        ("\u2029", "U+2029 PARAGRAPH SEPARATOR"),
        ("\u202a", "U+202A LEFT-TO-RIGHT EMBEDDING"),
        ("\u202e", "U+202E RIGHT-TO-LEFT OVERRIDE"),
        ("\u2066", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("\u2069", "U+2069 POP DIRECTIONAL ISOLATE"),
        ("\u200b", "U+200B ZERO WIDTH SPACE"),
        ("\u200d", "U+200D ZERO WIDTH JOINER"),
        ("\u200f", "U+200F RIGHT-TO-LEFT MARK"),
        ("\u2060", "U+2060 WORD JOINER"),
        ("\u00ad", "U+00AD SOFT HYPHEN"),
        ("\ufeff", "U+FEFF ZERO WIDTH NO-BREAK SPACE"),
        ("\U000e0001", "U+E0001 LANGUAGE TAG"),
        ("\udcff", "U+DCFF"),
        ("\u0378", "U+0378"),
        ("\uffff", "U+FFFF"),
    ],
)
def test_a_user_name_with_a_control_or_format_character_is_refused_naming_it(bad: str, named: str) -> None:
    with pytest.raises(InvalidUsers, match="which a name cannot have") as caught:
        parse_user(f"ACME\\al{bad}ice")
    assert named in caught.value.message
    assert bad not in caught.value.message  # quoted escaped, so that it cannot reorder or hide the message
    assert "ACME\\al\\u" in caught.value.message or "ACME\\al\\U" in caught.value.message


@pytest.mark.parametrize("bad", ["\u202e", "\x00", "\u200b"])
def test_a_machine_name_with_a_control_or_format_character_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(InvalidUsers, match="U\\+"):
        parse_machine(f"WS{bad}1")


def test_a_list_names_the_refused_character_of_each_entry_and_applies_nothing() -> None:
    with pytest.raises(InvalidUsers, match="nothing was applied: 2 entries") as caught:
        parse_identity_list("ACME\\alice;ACME\\bo\u202eb;ACME\\c\u200barol")
    assert ["U+202E" in d["problem"] for d in caught.value.details] == [True, False]
    assert "U+200B ZERO WIDTH SPACE" in caught.value.details[1]["problem"]


def test_a_private_use_character_is_kept() -> None:
    assert parse_user("ACME\\al\ue000ice").name == "ACME\\al\ue000ice"


# -- comparison as Windows compares names --------------------------------------------------------------


def test_a_name_typed_precomposed_or_decomposed_is_one_user_shown_in_nfc() -> None:
    precomposed, decomposed = parse_user("ACME\\caf\u00e9"), parse_user("ACME\\cafe\u0301")
    assert precomposed.key == decomposed.key == "ACME\\CAF\u00c9"
    assert decomposed.name == "ACME\\caf\u00e9"


def test_sharp_s_is_not_expanded_so_strasse_and_its_capitals_are_two_users() -> None:
    assert parse_user("ACME\\Straße").key == "ACME\\STRAßE"
    assert parse_user("ACME\\Straße").key != parse_user("ACME\\STRASSE").key
    assert parse_user("ACME\\straße").key == parse_user("ACME\\STRAßE").key


@pytest.mark.parametrize(
    ("one", "other", "same"),
    [
        ("ACME\\\u0131an", "ACME\\IAN", True),  # dotless i upper-cases to I
        ("ACME\\ian", "ACME\\IAN", True),
        ("ACME\\\u0130an", "ACME\\ian", False),  # capital I with dot stays itself
        ("ACME\\\u017fam", "ACME\\SAM", True),  # long s upper-cases to S
        ("ACME\\\ufb00", "ACME\\FF", False),  # the ff ligature has no one-character capital
        ("ACME\\\u03c3\u03c2", "ACME\\\u03a3\u03a3", True),  # sigma, final sigma, capital sigma
        ("ACME\\\u1fb3", "ACME\\\u1fbc", True),  # alpha with ypogegrammeni: its simple capital
        ("ACME\\k", "ACME\\\u212a", True),  # the Kelvin sign is K in NFC
        ("ACME\\\U00010428", "ACME\\\U00010400", False),  # Deseret, beyond the BMP: Windows keeps its case
    ],
)
def test_names_compare_by_simple_upper_casing_as_windows_does(one: str, other: str, same: bool) -> None:
    assert (parse_user(one).key == parse_user(other).key) is same


def test_a_list_ignores_a_name_repeated_in_another_unicode_form() -> None:
    users = parse_identity_list("ACME\\caf\u00e9;ACME\\CAFE\u0301;ACME\\Straße;ACME\\STRASSE")
    assert [u.name for u in users] == ["ACME\\caf\u00e9", "ACME\\Straße", "ACME\\STRASSE"]


def test_machine_names_compare_by_upper_case() -> None:
    assert parse_machine("ws-0042").key == "WS-0042"


def test_simple_upper_casing_gives_one_character_for_each_and_is_stable() -> None:
    for code in range(0x10000):
        ch = chr(code)
        key = comparison_key(ch)
        if unicodedata.normalize("NFC", ch) == ch:
            assert len(key) == 1, hex(code)
            assert comparison_key(key) == key, hex(code)


def test_the_longest_machine_name_is_accepted_and_one_character_more_is_refused_saying_so() -> None:
    assert parse_machine("M" * MACHINE_MAX).name == "M" * MACHINE_MAX
    with pytest.raises(InvalidUsers, match=f"at most {MACHINE_MAX} characters"):
        parse_machine("M" * (MACHINE_MAX + 1))


# letters full case folding makes longer ('ß' -> 'ss', 'ﬃ' -> 'ffi', 'ΐ' -> three code points), one NFC
# makes longer (U+0958), a combining mark NFC composes, and any others
FOLDING = st.one_of(st.sampled_from(["ß", "ﬃ", "ΐ", "ŉ", "\u0958", "\u0301", "A", "z", " ", "."]), st.characters())


@given(st.text(alphabet="Ab9.-_", min_size=1, max_size=70), st.text(alphabet=FOLDING, min_size=1, max_size=140))
def test_every_user_name_accepted_fits_its_limits_as_displayed_and_as_its_key(domain: str, user: str) -> None:
    try:
        identity = parse_user(f"{domain}\\{user}")
    except InvalidUsers:
        return
    assert len(identity.name) <= USER_NAME_MAX
    assert len(identity.key) <= USER_KEY_MAX


@given(st.text(alphabet=st.one_of(st.sampled_from("Mk9.-_"), st.characters()), min_size=1, max_size=80))
def test_every_machine_name_accepted_fits_its_limit_as_its_key(name: str) -> None:
    try:
        identity = parse_machine(name)
    except InvalidUsers:
        return
    assert len(identity.name) <= MACHINE_MAX
    assert len(identity.key) <= MACHINE_MAX
