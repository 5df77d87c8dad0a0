"""The lease file: what a site signs, and every way the desktop client's offline check refuses one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from calkeeper.authority.signing import SigningKey, create_key
from calkeeper.core.errors import LeaseInvalid
from calkeeper.core.lease import CLOCK_TOLERANCE, check_lease, machine_fingerprint, read_lease, sign_lease
from tests.kit import signed_lef

SERIAL = "4600123456789012"
ISSUED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
EXPIRES = ISSUED + timedelta(days=30)
HERE = machine_fingerprint("0f3c1e5d9a7b4c2e8d6f0a1b2c3d4e5f", "DEV-LAPTOP")
ELSEWHERE = machine_fingerprint("99999999999999999999999999999999", "DEV-LAPTOP")


@pytest.fixture(scope="module")
def vendor(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return create_key(tmp_path_factory.mktemp("vendor"))


@pytest.fixture(scope="module")
def site_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def lease_text(vendor: SigningKey, site_key: Ed25519PrivateKey, *, lef: str | None = None,
               key: Ed25519PrivateKey | None = None, fingerprint: str = HERE) -> str:
    lef = lef or signed_lef(vendor, SERIAL, lease_key=site_key.public_key())
    return sign_lease(lease_id="3f1c" * 8, server="https://cal.acme.example", serial=SERIAL, user="ACME\\dev1",
                      machine="DEV-LAPTOP", fingerprint=fingerprint, issued_at=ISSUED, expires_at=EXPIRES,
                      lef_text=lef, key=key or site_key)


def check(text: str, vendor: SigningKey, *, now: datetime = ISSUED + timedelta(days=1),
          seen: datetime | None = None, fingerprint: str = HERE) -> object:
    return check_lease(text, vendor_keys={vendor.key_id: vendor.private.public_key()}, fingerprint=fingerprint,
                       now=now, latest_seen=seen)


def refused(code: str, text: str, vendor: SigningKey, **kwargs: object) -> str:
    with pytest.raises(LeaseInvalid) as error:
        check(text, vendor, **kwargs)  # type: ignore[arg-type]
    assert error.value.code == code, error.value.message
    return error.value.message


def test_a_lease_names_its_user_machine_server_serial_and_times_and_passes_the_check(vendor, site_key):
    text = lease_text(vendor, site_key)
    lease = check(text, vendor)
    assert (lease.user, lease.machine, lease.server, lease.serial) == (  # type: ignore[attr-defined]
        "ACME\\dev1", "DEV-LAPTOP", "https://cal.acme.example", SERIAL)
    assert lease.expires_at == EXPIRES and lease.days_left(ISSUED + timedelta(days=1)) == 29  # type: ignore[attr-defined]
    assert text.startswith("calkeeper-lease-v1\nLEASE_ID=") and text.endswith("\n")
    assert text.splitlines()[-1].startswith("SIGNATURE=")


def test_one_changed_byte_anywhere_fails_the_check(vendor, site_key):
    text = lease_text(vendor, site_key)
    data = text.encode()
    step = max(1, len(data) // 300)  # a few hundred positions, spread over every line
    for at in [*range(0, len(data), step), len(data) - 2]:
        changed = bytearray(data)
        changed[at] = ord("A") if changed[at] != ord("A") else ord("B")
        with pytest.raises(LeaseInvalid):
            check(changed.decode("utf-8", "replace"), vendor)


def test_a_changed_expiry_is_a_signature_that_is_not_valid(vendor, site_key):
    text = lease_text(vendor, site_key).replace("EXPIRES_AT=2026-12-31", "EXPIRES_AT=2027-12-31")
    assert "changed after the server signed it" in refused("lease_signature_invalid", text, vendor)


def test_a_lease_for_another_machine_is_refused(vendor, site_key):
    text = lease_text(vendor, site_key, fingerprint=ELSEWHERE)
    assert "another machine (DEV-LAPTOP)" in refused("lease_other_machine", text, vendor)


def test_an_expired_lease_is_refused(vendor, site_key):
    refused("lease_expired", lease_text(vendor, site_key), vendor, now=EXPIRES)
    check(lease_text(vendor, site_key), vendor, now=EXPIRES - timedelta(seconds=1))


def test_a_lease_issued_in_the_future_is_refused_beyond_the_tolerance(vendor, site_key):
    text = lease_text(vendor, site_key)
    refused("lease_future", text, vendor, now=ISSUED - CLOCK_TOLERANCE - timedelta(seconds=1))
    check(text, vendor, now=ISSUED - CLOCK_TOLERANCE + timedelta(seconds=1))


def test_a_clock_set_back_is_refused_beyond_the_tolerance(vendor, site_key):
    text = lease_text(vendor, site_key)
    seen = ISSUED + timedelta(days=10)
    assert "clock was set back" in refused("lease_clock_set_back", text, vendor, now=ISSUED + timedelta(days=2),
                                           seen=seen)
    check(text, vendor, now=seen - CLOCK_TOLERANCE + timedelta(seconds=1), seen=seen)


def test_a_lef_not_signed_by_the_vendor_is_refused(vendor, site_key, tmp_path: Path):
    other_vendor = create_key(tmp_path / "other")
    lef = signed_lef(other_vendor, SERIAL, lease_key=site_key.public_key())
    assert "not signed by the vendor" in refused("lease_lef_untrusted", lease_text(vendor, site_key, lef=lef),
                                                 vendor)


def test_a_lef_without_the_lease_key_is_refused(vendor, site_key):
    lef = signed_lef(vendor, SERIAL)
    refused("lease_lef_no_key", lease_text(vendor, site_key, lef=lef), vendor)


def test_a_lease_signed_by_another_sites_key_under_this_lef_is_refused(vendor, site_key):
    text = lease_text(vendor, site_key, key=Ed25519PrivateKey.generate())
    assert "another server" in refused("lease_signature_invalid", text, vendor)


def test_a_lef_that_allows_no_lease_is_refused(vendor, site_key):
    lef = signed_lef(vendor, SERIAL, lease=False)
    refused("lease_lef_no_key", lease_text(vendor, site_key, lef=lef), vendor)  # the authority vouches for none


def test_text_that_is_not_a_lease_is_malformed(vendor):
    for text in ("", "hello\n", "calkeeper-lease-v1\nSIGNATURE=x:y\n", "x" * 300_000):
        with pytest.raises(LeaseInvalid) as error:
            check(text, vendor)
        assert error.value.code == "lease_malformed"


def test_read_lease_gives_the_lease_id_without_checking(vendor, site_key):
    lease, *_ = read_lease(lease_text(vendor, site_key))
    assert lease.lease_id == "3f1c" * 8


def test_the_fingerprint_ignores_case_and_white_space_and_changes_with_id_or_host():
    assert machine_fingerprint(" ABC\n", "Dev-Laptop") == machine_fingerprint("abc", "DEV-LAPTOP")
    assert machine_fingerprint("abc", "PC-1") != machine_fingerprint("abc", "PC-2")
    assert machine_fingerprint("abc", "PC-1") != machine_fingerprint("abd", "PC-1")
    assert len(machine_fingerprint("abc", "PC-1")) == 64
