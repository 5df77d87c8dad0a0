"""The License Enabler File: its text, the exact bytes signed, and the Ed25519 check (domain.md 3)."""

from __future__ import annotations

import base64
import string
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given
from hypothesis import strategies as st

from calkeeper.authority.signing import SigningKey, create_key
from calkeeper.core import lef as lefs
from calkeeper.core.errors import LicenseRejected
from calkeeper.core.keys import key_id_of
from tests.kit import signed_lef

SERIAL = "4600123456789012"
# A changed key id is refused as an unknown key: that is a refusal too.
TAMPERED = {"lef_signature_invalid", "lef_malformed", "lef_unknown_key"}


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return create_key(tmp_path_factory.mktemp("authority-keys"))


@pytest.fixture(scope="module")
def trusted(authority: SigningKey) -> dict[str, Ed25519PublicKey]:
    return {authority.key_id: authority.private.public_key()}


@pytest.fixture(scope="module")
def text(authority: SigningKey) -> str:
    return signed_lef(authority, SERIAL)


def sign_body(body: str, key: SigningKey) -> str:
    """Sign any body, well-formed or not, as the authority would."""
    return lefs.with_signature(body, key.key_id, key.private.sign(lefs.signed_message(body.encode())))


def refusal(text: str, trusted: Mapping[str, Ed25519PublicKey]) -> str:
    """The code verify() refuses the text with; fails the test when the text is accepted."""
    with pytest.raises(LicenseRejected) as caught:
        lefs.verify(text, trusted)
    return caught.value.code


def lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


# -- a good LEF -------------------------------------------------------------------------------------


def test_a_signed_lef_verifies_and_reads_back_what_was_signed(text: str, trusted: dict, authority: SigningKey) -> None:
    lef = lefs.verify(text, trusted)
    assert (lef.serial, lef.owner, lef.organization) == (SERIAL, "Example Site", "Example Org")
    assert lef.key_id == authority.key_id
    assert lef.text == text
    assert [lef.count(t) for t in ("NAMED_CALS", "DOCUMENT_CALS", "SESSION_CALS", "USAGE_CALS")] == [5, 20, 5, 28]
    assert lef.tags["PRODUCTLEVEL"] == lefs.LefTag("PRODUCTLEVEL", "10", "", "2027-12-31")
    assert lef.tags["LICENSE_LEASE"].value == "YES"


def test_a_lef_is_one_tag_a_line_with_the_signature_last(text: str) -> None:
    assert text.endswith(";;\n")
    assert lines(text)[-1].startswith("SIGNATURE;")
    assert lines(text)[3] == "PRODUCTLEVEL;10;;2027-12-31\n"
    assert "\r" not in text


def test_a_count_tag_that_is_absent_counts_zero(authority: SigningKey, trusted: dict) -> None:
    lef = lefs.verify(sign_body(f"{SERIAL}\nSite;;;\nOrg;;;\nPRODUCTLEVEL;10;;\nNAMED_CALS;1;;\n", authority), trusted)
    assert lef.count("USAGE_CALS") == 0


def test_a_lef_can_be_verified_by_any_of_several_pinned_keys(text: str, trusted: dict) -> None:
    other = Ed25519PrivateKey.generate().public_key()
    assert lefs.verify(text, {key_id_of(other): other, **trusted}).serial == SERIAL


def test_the_signature_covers_a_versioned_prefix_so_a_bare_body_signature_does_not_verify(
    text: str, authority: SigningKey, trusted: dict
) -> None:
    body = text[: text.rindex("SIGNATURE;")]
    bare = lefs.with_signature(body, authority.key_id, authority.private.sign(body.encode()))
    assert refusal(bare, trusted) == "lef_signature_invalid"


# -- one changed byte anywhere -----------------------------------------------------------------------


def test_flipping_any_bit_of_any_character_is_refused(text: str, trusted: dict) -> None:
    for position, char in enumerate(text):
        for bit in range(8):
            tampered = text[:position] + chr(ord(char) ^ (1 << bit)) + text[position + 1 :]
            assert refusal(tampered, trusted) in TAMPERED, (position, bit)


def test_any_other_character_at_the_end_of_the_signature_is_refused(text: str, trusted: dict) -> None:
    # base64 leaves the last character's low bits unused: every spelling but the signed one must fail
    end = text.rindex("==;;\n")
    for position in range(end - 4, end + 2):
        for char in string.printable:
            if char != text[position]:
                tampered = text[:position] + char + text[position + 1 :]
                assert refusal(tampered, trusted) in TAMPERED, (position, char)


def test_deleting_any_single_character_is_refused(text: str, trusted: dict) -> None:
    for position in range(len(text)):
        assert refusal(text[:position] + text[position + 1 :], trusted) in TAMPERED, position


def test_trailing_white_space_at_the_end_of_any_line_is_refused(text: str, trusted: dict) -> None:
    for number in range(len(lines(text))):
        for space in (" ", "\t"):
            changed = lines(text)
            changed[number] = changed[number][:-1] + space + "\n"
            assert refusal("".join(changed), trusted) in TAMPERED, (number, space)


def test_converting_line_endings_to_crlf_is_refused(text: str, trusted: dict) -> None:
    assert refusal(text.replace("\n", "\r\n"), trusted) in TAMPERED
    for number in range(len(lines(text))):
        changed = lines(text)
        changed[number] = changed[number][:-1] + "\r\n"
        assert refusal("".join(changed), trusted) in TAMPERED, number


def test_removing_the_final_newline_is_refused(text: str, trusted: dict) -> None:
    assert refusal(text[:-1], trusted) == "lef_malformed"


@pytest.mark.parametrize("extra", ["NAMED_CALS;500;;\n", "\n", " ", "SIGNATURE;x:AAAA;;\n"])
def test_appending_anything_after_the_signature_is_refused(text: str, trusted: dict, extra: str) -> None:
    assert refusal(text + extra, trusted) in TAMPERED


def test_raising_a_cal_count_is_refused(text: str, trusted: dict) -> None:
    assert refusal(text.replace("NAMED_CALS;5;;", "NAMED_CALS;50;;"), trusted) == "lef_signature_invalid"


def test_removing_a_signed_line_is_refused(authority: SigningKey, trusted: dict) -> None:
    limited = signed_lef(authority, SERIAL, time_limit=date(2027, 6, 30))
    without_limit = "".join(line for line in lines(limited) if not line.startswith("TIMELIMIT;"))
    assert refusal(without_limit, trusted) == "lef_signature_invalid"


def test_a_lone_surrogate_in_the_text_is_refused_as_malformed(text: str, trusted: dict) -> None:
    assert refusal(text.replace("Example Site", "Example \ud800Site"), trusted) == "lef_malformed"



def test_a_lef_longer_than_the_limit_is_refused_as_malformed_saying_how_long(text: str, trusted: dict) -> None:
    padded = "X" * (lefs.MAX_LEF_BYTES - len(text) + 1) + text
    with pytest.raises(LicenseRejected, match=f"a LEF has at most {lefs.MAX_LEF_BYTES}") as caught:
        lefs.verify(padded, trusted)
    assert caught.value.code == "lef_malformed"

@given(
    mutations=st.lists(
        st.tuples(
            st.sampled_from(["replace", "insert", "delete"]),
            st.integers(min_value=0, max_value=10_000),
            st.sampled_from(string.printable),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_a_mutated_lef_is_refused_unless_it_is_the_original_text(
    text: str, trusted: dict, mutations: list[tuple[str, int, str]]
) -> None:
    mutated = text
    for operation, at, char in mutations:
        position = at % (len(mutated) + 1)
        if operation == "insert":
            mutated = mutated[:position] + char + mutated[position:]
        elif position < len(mutated):
            rest = mutated[position + 1 :]
            mutated = mutated[:position] + (char if operation == "replace" else "") + rest
    try:
        lefs.verify(mutated, trusted)
    except LicenseRejected as error:
        assert error.code in TAMPERED
    else:
        assert mutated == text


# -- keys ----------------------------------------------------------------------------------------------


def test_a_lef_signed_with_a_key_the_server_does_not_pin_is_refused_as_unknown(tmp_path: Path, trusted: dict) -> None:
    stranger = create_key(tmp_path / "stranger")
    with pytest.raises(LicenseRejected, match=stranger.key_id) as caught:
        lefs.verify(signed_lef(stranger, SERIAL), trusted)
    assert caught.value.code == "lef_unknown_key"


def test_a_lef_signed_by_another_key_under_the_pinned_key_id_is_refused(
    tmp_path: Path, authority: SigningKey, trusted: dict
) -> None:
    impostor = SigningKey(authority.key_id, create_key(tmp_path / "impostor").private)
    assert refusal(signed_lef(impostor, SERIAL), trusted) == "lef_signature_invalid"


def test_no_key_pinned_means_no_lef_verifies(text: str) -> None:
    assert refusal(text, {}) == "lef_unknown_key"


# -- the shape of the text ------------------------------------------------------------------------------


def test_a_lef_without_a_signature_line_is_refused_as_malformed(text: str, trusted: dict) -> None:
    body = text[: text.rindex("SIGNATURE;")]
    assert refusal(body, trusted) == "lef_malformed"
    assert refusal("", trusted) == "lef_malformed"


@pytest.mark.parametrize("value", ["no-colon", ":AAAA", "ck-1:not base64!", "ck-1:"])
def test_a_signature_line_that_does_not_read_key_id_colon_signature_is_refused(value: str, trusted: dict) -> None:
    code = refusal(f"{SERIAL}\nSite;;;\nOrg;;;\nSIGNATURE;{value};;\n", trusted)
    assert code in {"lef_malformed", "lef_signature_invalid", "lef_unknown_key"}


def test_a_signature_that_is_not_canonical_base64_is_refused(text: str, trusted: dict) -> None:
    encoded = text[text.rindex(":") + 1 : -len(";;\n")]
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "+/"
    # the last character before '==' carries 4 unused bits: its twin spells the very same 64 bytes
    twin = encoded[:-3] + alphabet[alphabet.index(encoded[-3]) ^ 1] + "=="
    assert base64.b64decode(twin) == base64.b64decode(encoded)
    for spelling in (twin, encoded.rstrip("="), encoded + "=", encoded + "=="):
        assert refusal(text.replace(encoded, spelling), trusted) == "lef_signature_invalid", spelling


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (f"{SERIAL}\nSite;;;\n", "needs a serial line"),
        (f"{SERIAL}\nSite\nOrg;;;\nNAMED_CALS;1;;\n", "owner line must end in ';;;'"),
        (f"{SERIAL}\nSite;;;\nOrg\nNAMED_CALS;1;;\n", "organization line must end in ';;;'"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\nNAMED_CALS;1;\n", "is not NAME;VALUE;VALID_FROM;VALID_TO"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\n;1;;\n", "is not NAME;VALUE;VALID_FROM;VALID_TO"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\nNAMED_CALS;1;;\nNAMED_CALS;9;;\n", "appears twice"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\nNAMED_CALS;-3;;\n", "must be a whole number"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\nUSAGE_CALS;many;;\n", "must be a whole number"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\nNAMED_CALS;{10**30};;\n", "more than a CAL server can count"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\nNAMED_CALS;2147483648;;\n", "more than a CAL server can count"),
        (f"{SERIAL}\nSite;;;\nOrg;;;\nSESSION_CALS;{'9' * 5000};;\n", "a number of 5000 digits"),
    ],
)
def test_a_correctly_signed_but_badly_formed_lef_is_refused_as_malformed(
    body: str, problem: str, authority: SigningKey, trusted: dict
) -> None:
    with pytest.raises(LicenseRejected, match=problem.replace("(", r"\(")) as caught:
        lefs.verify(sign_body(body, authority), trusted)
    assert caught.value.code == "lef_malformed"


@pytest.mark.parametrize("owner", ["Site;Evil", "Site\nNAMED_CALS;999;;", "Site\r"])
def test_the_authority_cannot_write_an_owner_that_would_break_the_lines(owner: str) -> None:
    with pytest.raises(ValueError, match="cannot hold"):
        lefs.UnsignedLef(serial=SERIAL, owner=owner, organization="Org").body()


def test_a_date_tag_that_is_not_a_date_is_refused_as_malformed() -> None:
    with pytest.raises(LicenseRejected, match="TIMELIMIT has '31/12/2027'") as caught:
        lefs.parse_date("31/12/2027", "TIMELIMIT")
    assert caught.value.code == "lef_malformed"


def test_the_largest_count_a_cal_server_can_hold_is_read_and_leading_zeros_do_not_count(
    authority: SigningKey, trusted: dict
) -> None:
    body = f"{SERIAL}\nSite;;;\nOrg;;;\nNAMED_CALS;{lefs.MAX_CAL_COUNT};;\nUSAGE_CALS;{'0' * 5000}7;;\n"
    lef = lefs.verify(sign_body(body, authority), trusted)
    assert (lef.count("NAMED_CALS"), lef.count("USAGE_CALS")) == (2**31 - 1, 7)
