"""The canonical form of a LEF: the bytes the authority signed, exactly. One changed byte anywhere,
white space at a line end or a line ending included, and the LEF is refused; the license in force stays."""

from __future__ import annotations

from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import calkeeper
from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.core.errors import LicenseRejected
from calkeeper.core.lef import LefTag
from calkeeper.core.license import check_license
from tests.integration.authority_kit import VENDOR, make_registry, new_site, pinned_keys
from tests.integration.steps import snapshot

REFUSED = {"lef_signature_invalid", "lef_malformed", "lef_unknown_key"}  # a changed key id names no pinned key


@pytest.fixture
def issued(tmp_path, clock):
    """A LEF as the authority sends it, with every kind of line: counts, dates, lease, LEASE_KEY."""
    registry = make_registry(tmp_path / "authority", clock)
    record = new_site(registry, named=25, document=100, session=10, usage=280)
    registry.change_site(record.serial, time_limit=date(2027, 6, 30), actor=VENDOR)
    text = registry.fetch_lef(serial=record.serial, control=record.control,
                              lease_key=Ed25519PrivateKey.generate().public_key())
    yield registry, record, text
    registry.engine.dispose()


def check(registry, record, text):
    return check_license(serial=record.serial, control=record.control, owner=record.owner,
                         organization=record.organization, lef_text=text, trusted_keys=pinned_keys(registry),
                         now=registry.clock.now())


def refusal(registry, record, text):
    with pytest.raises(LicenseRejected) as refused:
        check(registry, record, text)
    return refused.value.code


def test_the_lef_exactly_as_sent_is_accepted(issued):
    registry, record, text = issued
    assert "LEASE_KEY;" in text and "TIMELIMIT;;;2027-06-30" in text
    assert check(registry, record, text).in_license(calkeeper.CalType.NAMED) == 25


def test_one_changed_byte_anywhere_is_refused(issued):
    registry, record, text = issued
    data = text.encode()
    assert data.isascii()
    for at in range(len(data)):
        for changed in {data[at] ^ 0x01, data[at] ^ 0x20, ord(" ")} - {data[at]}:
            damaged = (data[:at] + bytes([changed]) + data[at + 1:]).decode()
            assert refusal(registry, record, damaged) in REFUSED, f"byte {at} changed to {changed!r} was accepted"


def test_one_removed_or_added_byte_anywhere_is_refused(issued):
    registry, record, text = issued
    for at in range(len(text)):
        assert refusal(registry, record, text[:at] + text[at + 1:]) in REFUSED, f"byte {at} removed"
        assert refusal(registry, record, text[:at] + " " + text[at:]) in REFUSED, f"space added at {at}"


@pytest.mark.parametrize(("name", "damage"), [
    ("CRLF line endings", lambda t: t.replace("\n", "\r\n")),
    ("CR line endings", lambda t: t.replace("\n", "\r")),
    ("a missing final line break", lambda t: t[:-1]),
    ("an extra line at the end", lambda t: t + "\n"),
    ("a byte order mark", lambda t: "\ufeff" + t),
    ("a blank line after the serial", lambda t: t.replace("\n", "\n\n", 1)),
    ("a tab at a line end", lambda t: t.replace(";;\n", ";;\t\n", 1)),
])
def test_changed_white_space_or_line_endings_are_refused(issued, name, damage):
    registry, record, text = issued
    assert refusal(registry, record, damage(text)) in REFUSED, name


def test_a_trailing_space_on_any_line_is_refused(issued):
    registry, record, text = issued
    lines = text.split("\n")[:-1]
    for number in range(len(lines)):
        damaged = "\n".join(line + " " if i == number else line for i, line in enumerate(lines)) + "\n"
        assert refusal(registry, record, damaged) in REFUSED, f"a trailing space on line {number + 1}"


def test_a_damaged_lef_applied_to_a_site_leaves_the_license_in_force(issued, tmp_path, clock):
    registry, record, text = issued
    site = calkeeper.open_site(f"sqlite:///{tmp_path / 'site.db'}", clock=clock, trusted_keys=pinned_keys(registry))
    try:
        site.apply_license(serial=record.serial, control=record.control, owner=record.owner,
                           organization=record.organization, lef=text)
        site.assign_named_cals("ACME\\alice")
        before = snapshot(site)
        for damaged in (text.replace("\n", "\r\n"), text.replace("NAMED_CALS;25", "NAMED_CALS;26"),
                        text.replace("Example Org;;;", "Example Org ;;;")):
            with pytest.raises(LicenseRejected):
                site.apply_license(serial=record.serial, control=record.control, owner=record.owner,
                                   organization=record.organization, lef=damaged)
            assert snapshot(site) == before
    finally:
        site.close()


@pytest.mark.parametrize("value", [
    "ck-000000000000:" + "A" * 43 + "=",  # a key id that is not this key's
    "no-colon-here",
    "ck-123:bm90IGEga2V5",  # not 32 bytes
])
def test_a_signed_lef_whose_lease_key_line_is_damaged_is_refused_as_malformed(issued, value):
    registry, record, _ = issued
    key = load_signing_key(registry.keys_dir)
    unsigned = make_lef(serial=record.serial, owner=record.owner, organization=record.organization, named=5)
    unsigned.tags.append(LefTag("LEASE_KEY", value, "", ""))
    assert refusal(registry, record, sign_lef(unsigned, key)) == "lef_malformed"
