"""The checks "Apply license" makes, in their order, and what the license in force grants (domain.md 3)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.authority.signing import SigningKey, create_key, make_lef, sign_lef
from calkeeper.core.cals import CalType
from calkeeper.core.errors import LicenseRejected
from calkeeper.core.lef import LefTag
from calkeeper.core.license import (
    LICENSEE_MAX,
    SERVER_RELEASE,
    LicenseTerms,
    check_license,
    check_recorded_license,
)
from calkeeper.core.serials import control_number
from tests.kit import signed_lef

SERIAL = "4600123456789012"
OTHER_SERIAL = "4600999988887777"
WRONG_CONTROL = f"{(int(control_number(SERIAL)) + 1) % 100_000:05d}"
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def authority(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return create_key(tmp_path_factory.mktemp("authority-keys"))


@pytest.fixture(scope="module")
def trusted(authority: SigningKey) -> dict[str, Ed25519PublicKey]:
    return {authority.key_id: authority.private.public_key()}


def apply(trusted: dict[str, Ed25519PublicKey], lef_text: str, **entered: Any) -> LicenseTerms:
    """Run check_license with what an admin would type, overridden by ``entered``."""
    arguments: dict[str, Any] = {
        "serial": SERIAL, "control": control_number(SERIAL), "owner": "Example Site",
        "organization": "Example Org", "lef_text": lef_text, "trusted_keys": trusted, "now": NOW,
    }
    arguments.update(entered)
    return check_license(**arguments)


def refused_code(trusted: dict[str, Ed25519PublicKey], lef_text: str, **entered: Any) -> str:
    with pytest.raises(LicenseRejected) as caught:
        apply(trusted, lef_text, **entered)
    return caught.value.code


# -- a good license ------------------------------------------------------------------------------------


def test_a_good_license_gives_its_terms(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, named=25, document=100, session=10, usage=280,
                      time_limit=date(2027, 12, 31))
    terms = apply(trusted, text)
    assert terms.cals == {CalType.NAMED: 25, CalType.DOCUMENT: 100, CalType.SESSION: 10, CalType.USAGE: 280}
    assert terms.in_license(CalType.USAGE) == 280
    assert (terms.serial, terms.control) == (SERIAL, control_number(SERIAL))
    assert (terms.owner, terms.organization) == ("Example Site", "Example Org")
    assert terms.maintenance_until == date(2027, 12, 31)
    assert terms.time_limit == date(2027, 12, 31)
    assert terms.lease_allowed is True
    assert terms.key_id == authority.key_id
    assert terms.lef_text == text


def test_the_serial_and_control_are_kept_without_the_spaces_the_admin_typed(authority: SigningKey,
                                                                            trusted: dict) -> None:
    control = control_number(SERIAL)
    terms = apply(trusted, signed_lef(authority, SERIAL), serial="4600 1234-5678 9012",
                  control=f" {control} ", owner="  Example Site ")
    assert (terms.serial, terms.control, terms.owner) == (SERIAL, control, "Example Site")


def test_a_license_without_a_time_limit_never_expires(authority: SigningKey, trusted: dict) -> None:
    terms = apply(trusted, signed_lef(authority, SERIAL))
    assert terms.time_limit is None
    assert not terms.expired(NOW + timedelta(days=36500))


def test_a_license_without_a_maintenance_date_is_accepted(authority: SigningKey, trusted: dict) -> None:
    assert apply(trusted, signed_lef(authority, SERIAL, maintenance_until=None)).maintenance_until is None


# -- each check refuses with its own code -----------------------------------------------------------


def test_a_mistyped_control_number_is_refused(authority: SigningKey, trusted: dict) -> None:
    assert refused_code(trusted, signed_lef(authority, SERIAL), control=WRONG_CONTROL) == "control_number_mismatch"


def test_a_lef_for_another_serial_is_refused(authority: SigningKey, trusted: dict) -> None:
    with pytest.raises(LicenseRejected, match=f"for serial {OTHER_SERIAL}, not for the serial entered") as caught:
        apply(trusted, signed_lef(authority, OTHER_SERIAL))
    assert caught.value.code == "lef_serial_mismatch"


def test_a_lef_with_an_unknown_key_is_refused(tmp_path: Path, trusted: dict) -> None:
    stranger = create_key(tmp_path / "stranger")
    assert refused_code(trusted, signed_lef(stranger, SERIAL)) == "lef_unknown_key"


def test_a_tampered_lef_is_refused(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL).replace("NAMED_CALS;5;;", "NAMED_CALS;6;;")
    assert refused_code(trusted, text) == "lef_signature_invalid"


def test_a_lef_without_a_named_cal_is_refused(authority: SigningKey, trusted: dict) -> None:
    with pytest.raises(LicenseRejected, match="at least one") as caught:
        apply(trusted, signed_lef(authority, SERIAL, named=0, document=50))
    assert caught.value.code == "lef_no_named_cal"


def test_one_named_cal_is_enough(authority: SigningKey, trusted: dict) -> None:
    assert apply(trusted, signed_lef(authority, SERIAL, named=1)).cals[CalType.NAMED] == 1


def test_a_license_whose_time_limit_has_passed_is_refused(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, time_limit=NOW.date() - timedelta(days=1))
    with pytest.raises(LicenseRejected, match="expired on 2026-11-30") as caught:
        apply(trusted, text)
    assert caught.value.code == "license_expired"


def test_the_time_limit_day_itself_is_still_licensed(authority: SigningKey, trusted: dict) -> None:
    last_moment = datetime(2026, 12, 1, 23, 59, 59, tzinfo=UTC)
    terms = apply(trusted, signed_lef(authority, SERIAL, time_limit=date(2026, 12, 1)), now=last_moment)
    assert not terms.expired(last_moment)
    assert terms.expired(last_moment + timedelta(seconds=1))


def test_a_maintenance_period_ending_before_this_release_is_refused(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, maintenance_until=SERVER_RELEASE - timedelta(days=1))
    with pytest.raises(LicenseRejected, match="renew maintenance") as caught:
        apply(trusted, text)
    assert caught.value.code == "lef_maintenance_expired"


def test_a_maintenance_period_ending_on_the_release_day_is_accepted(authority: SigningKey, trusted: dict) -> None:
    terms = apply(trusted, signed_lef(authority, SERIAL, maintenance_until=SERVER_RELEASE))
    assert terms.maintenance_until == SERVER_RELEASE


def test_a_signed_lef_granting_30_digit_counts_is_refused_as_malformed(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, named=10**30)
    assert refused_code(trusted, text) == "lef_malformed"


def recorded(trusted: dict[str, Ed25519PublicKey], lef_text: str, applied_at: datetime) -> LicenseTerms:
    return check_recorded_license(serial=SERIAL, control=control_number(SERIAL), owner="Example Site",
                                  organization="Example Org", lef_text=lef_text, trusted_keys=trusted,
                                  applied_at=applied_at)


def test_a_license_of_the_history_is_checked_as_it_was_when_applied(authority: SigningKey, trusted: dict) -> None:
    expired = signed_lef(authority, SERIAL, time_limit=date(2026, 6, 30), maintenance_until=date(2026, 3, 31))
    assert recorded(trusted, expired, datetime(2026, 2, 1, tzinfo=UTC)).time_limit == date(2026, 6, 30)
    with pytest.raises(LicenseRejected) as caught:
        recorded(trusted, expired, datetime(2026, 7, 1, tzinfo=UTC))
    assert caught.value.code == "license_expired"


def test_a_license_of_the_history_must_still_be_signed_by_a_pinned_key(authority: SigningKey, trusted: dict) -> None:
    with pytest.raises(LicenseRejected) as caught:
        recorded(trusted, signed_lef(authority, SERIAL).replace("NAMED_CALS;5", "NAMED_CALS;9"), NOW)
    assert caught.value.code == "lef_signature_invalid"


def test_the_maintenance_check_uses_the_release_it_is_given(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, maintenance_until=date(2027, 12, 31))
    assert refused_code(trusted, text, release=date(2028, 1, 1)) == "lef_maintenance_expired"


@pytest.mark.parametrize("level", ["9", "11", "", "10.0"])
def test_a_lef_for_another_product_level_is_refused(level: str, authority: SigningKey, trusted: dict) -> None:
    unsigned = make_lef(serial=SERIAL, owner="Example Site", organization="Example Org", named=5,
                        product_level=level)
    assert refused_code(trusted, sign_lef(unsigned, authority)) == "lef_wrong_product"


def test_a_lef_without_a_product_level_is_refused(authority: SigningKey, trusted: dict) -> None:
    unsigned = make_lef(serial=SERIAL, owner="Example Site", organization="Example Org", named=5)
    unsigned.tags = [t for t in unsigned.tags if t.name != "PRODUCTLEVEL"]
    assert refused_code(trusted, sign_lef(unsigned, authority)) == "lef_malformed"


def test_license_lease_no_turns_leasing_off(authority: SigningKey, trusted: dict) -> None:
    assert apply(trusted, signed_lef(authority, SERIAL, lease=False)).lease_allowed is False


def test_a_lef_without_a_license_lease_line_allows_leasing(authority: SigningKey, trusted: dict) -> None:
    unsigned = make_lef(serial=SERIAL, owner="Example Site", organization="Example Org", named=5)
    unsigned.tags = [t for t in unsigned.tags if t.name != "LICENSE_LEASE"]
    assert apply(trusted, sign_lef(unsigned, authority)).lease_allowed is True


def test_a_license_lease_value_other_than_yes_or_no_is_refused(authority: SigningKey, trusted: dict) -> None:
    unsigned = make_lef(serial=SERIAL, owner="Example Site", organization="Example Org", named=5)
    unsigned.tags = [t if t.name != "LICENSE_LEASE" else LefTag("LICENSE_LEASE", "MAYBE", "", "")
                     for t in unsigned.tags]
    assert refused_code(trusted, sign_lef(unsigned, authority)) == "lef_malformed"


@pytest.mark.parametrize("owner", ["", "   "])
def test_a_missing_owner_name_is_refused(owner: str, authority: SigningKey, trusted: dict) -> None:
    with pytest.raises(LicenseRejected, match="owner name is required") as caught:
        apply(trusted, signed_lef(authority, SERIAL), owner=owner)
    assert caught.value.code == "invalid_input"


def test_a_missing_organization_is_refused(authority: SigningKey, trusted: dict) -> None:
    with pytest.raises(LicenseRejected, match="organization is required"):
        apply(trusted, signed_lef(authority, SERIAL), organization=" ")


# -- the owner and organization the LEF names ----------------------------------------------------------


def test_a_lef_applied_under_another_owner_is_refused_naming_both(authority: SigningKey, trusted: dict) -> None:
    with pytest.raises(LicenseRejected) as caught:
        apply(trusted, signed_lef(authority, SERIAL), owner="Someone Else")
    assert caught.value.code == "lef_owner_mismatch"
    assert "the owner 'Example Site', not 'Someone Else' as entered" in caught.value.message
    assert "organization" not in caught.value.message.split(";")[0]


def test_a_lef_applied_under_another_organization_is_refused_naming_both(authority: SigningKey,
                                                                        trusted: dict) -> None:
    with pytest.raises(LicenseRejected) as caught:
        apply(trusted, signed_lef(authority, SERIAL), organization="Other Org")
    assert caught.value.code == "lef_owner_mismatch"
    assert "the organization 'Example Org', not 'Other Org' as entered" in caught.value.message


def test_a_lef_applied_under_another_owner_and_organization_names_both_differences(authority: SigningKey,
                                                                                   trusted: dict) -> None:
    with pytest.raises(LicenseRejected) as caught:
        apply(trusted, signed_lef(authority, SERIAL), owner="Mallory", organization="Mallory Inc")
    assert "the owner 'Example Site', not 'Mallory'" in caught.value.message
    assert "the organization 'Example Org', not 'Mallory Inc'" in caught.value.message


def test_the_owner_and_organization_compare_case_insensitively_and_the_lef_spelling_is_kept(
        authority: SigningKey, trusted: dict) -> None:
    terms = apply(trusted, signed_lef(authority, SERIAL), owner="  EXAMPLE site ", organization="example ORG")
    assert (terms.owner, terms.organization) == ("Example Site", "Example Org")


def test_an_owner_name_longer_than_the_limit_is_refused(authority: SigningKey, trusted: dict) -> None:
    with pytest.raises(LicenseRejected, match=f"at most {LICENSEE_MAX} are allowed") as caught:
        apply(trusted, signed_lef(authority, SERIAL), owner="O" * (LICENSEE_MAX + 1))
    assert caught.value.code == "invalid_input"


def test_a_lef_naming_an_owner_longer_than_the_limit_is_refused_as_malformed(authority: SigningKey,
                                                                             trusted: dict) -> None:
    # 'ß' * 200 fits as entered, and case-folds like the LEF's 400 characters of 'ss'
    text = signed_lef(authority, SERIAL, owner="ss" * LICENSEE_MAX)
    assert refused_code(trusted, text, owner="ß" * LICENSEE_MAX) == "lef_malformed"


def test_the_serial_in_the_lef_is_checked_before_its_owner(authority: SigningKey, trusted: dict) -> None:
    assert refused_code(trusted, signed_lef(authority, OTHER_SERIAL), owner="Someone Else") == "lef_serial_mismatch"


def test_the_owner_in_the_lef_is_checked_before_its_contents(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, named=0, time_limit=date(2020, 1, 1))
    assert refused_code(trusted, text, owner="Someone Else") == "lef_owner_mismatch"


# -- the order of the checks ----------------------------------------------------------------------------


def test_the_control_number_is_checked_before_the_signature(authority: SigningKey, trusted: dict) -> None:
    tampered = signed_lef(authority, SERIAL).replace("NAMED_CALS;5;;", "NAMED_CALS;6;;")
    assert refused_code(trusted, tampered, control=WRONG_CONTROL) == "control_number_mismatch"


def test_the_serial_format_is_checked_before_anything_else(trusted: dict) -> None:
    assert refused_code(trusted, "garbage", serial="123", control="1", owner="") == "invalid_serial"


def test_the_owner_is_checked_before_the_signature(trusted: dict) -> None:
    assert refused_code(trusted, "garbage", owner="") == "invalid_input"


def test_the_signature_is_checked_before_the_serial_in_the_lef(tmp_path: Path, trusted: dict) -> None:
    stranger = create_key(tmp_path / "stranger")
    assert refused_code(trusted, signed_lef(stranger, OTHER_SERIAL)) == "lef_unknown_key"


def test_the_serial_in_the_lef_is_checked_before_its_contents(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, OTHER_SERIAL, named=0, time_limit=date(2020, 1, 1))
    assert refused_code(trusted, text) == "lef_serial_mismatch"


def test_the_named_cal_count_is_checked_before_the_dates(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, named=0, maintenance_until=date(2020, 1, 1), time_limit=date(2020, 1, 1))
    assert refused_code(trusted, text) == "lef_no_named_cal"


def test_the_maintenance_period_is_checked_before_the_time_limit(authority: SigningKey, trusted: dict) -> None:
    text = signed_lef(authority, SERIAL, maintenance_until=date(2020, 1, 1), time_limit=date(2020, 1, 1))
    assert refused_code(trusted, text) == "lef_maintenance_expired"
