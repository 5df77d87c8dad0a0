"""Serial numbers (16 digits) and control numbers (5 digits) that catch a typo at once (domain.md 3)."""

from __future__ import annotations

import pytest

from calkeeper.core.errors import LicenseRejected
from calkeeper.core.serials import check_serial_and_control, control_number, new_serial

SERIAL = "4600123456789012"


def _other_digits(digit: str) -> list[str]:
    return [d for d in "0123456789" if d != digit]


def test_the_control_number_is_five_digits() -> None:
    for serial in [SERIAL, "1000000000000000", "9999999999999999", *(new_serial() for _ in range(50))]:
        control = control_number(serial)
        assert len(control) == 5
        assert control.isdigit()


def test_the_control_number_of_a_serial_is_always_the_same() -> None:
    assert control_number(SERIAL) == control_number(SERIAL)
    # pinned, so that control numbers already handed to customers keep matching after an upgrade
    assert control_number(SERIAL) == "92566"
    assert control_number("4600123456789013") == "24838"


def test_a_new_serial_is_sixteen_digits_not_starting_with_zero() -> None:
    for _ in range(200):
        serial = new_serial()
        assert len(serial) == 16
        assert serial.isdigit()
        assert serial[0] != "0"


def test_a_matching_serial_and_control_number_are_accepted() -> None:
    assert check_serial_and_control(SERIAL, control_number(SERIAL)) == (SERIAL, control_number(SERIAL))


def test_spaces_and_dashes_in_the_serial_and_control_number_are_tolerated() -> None:
    control = control_number(SERIAL)
    typed_serial = " 4600-1234 5678-9012 "
    typed_control = f"{control[:2]}-{control[2:]} "
    assert check_serial_and_control(typed_serial, typed_control) == (SERIAL, control)


def test_a_one_digit_typo_anywhere_in_the_serial_is_caught_by_the_control_number() -> None:
    control = control_number(SERIAL)
    for position in range(16):
        for digit in _other_digits(SERIAL[position]):
            typo = SERIAL[:position] + digit + SERIAL[position + 1 :]
            with pytest.raises(LicenseRejected) as caught:
                check_serial_and_control(typo, control)
            assert caught.value.code == "control_number_mismatch"
            assert "does not match" in caught.value.message


def test_a_one_digit_typo_anywhere_in_the_control_number_is_caught() -> None:
    control = control_number(SERIAL)
    for position in range(5):
        for digit in _other_digits(control[position]):
            typo = control[:position] + digit + control[position + 1 :]
            with pytest.raises(LicenseRejected) as caught:
                check_serial_and_control(SERIAL, typo)
            assert caught.value.code == "control_number_mismatch"


def test_two_swapped_digits_of_the_serial_are_caught() -> None:
    control = control_number(SERIAL)
    for position in range(15):
        if SERIAL[position] == SERIAL[position + 1]:
            continue
        swapped = SERIAL[:position] + SERIAL[position + 1] + SERIAL[position] + SERIAL[position + 2 :]
        with pytest.raises(LicenseRejected, match="does not match"):
            check_serial_and_control(swapped, control)


@pytest.mark.parametrize(
    "serial", ["460012345678901", "46001234567890123", "46001234567890AB", "", "4600 1234 5678 901x"]
)
def test_a_serial_that_is_not_sixteen_digits_is_refused(serial: str) -> None:
    with pytest.raises(LicenseRejected, match="16 digits") as caught:
        check_serial_and_control(serial, "12345")
    assert caught.value.code == "invalid_serial"


@pytest.mark.parametrize("control", ["1234", "123456", "12a45", ""])
def test_a_control_number_that_is_not_five_digits_is_refused(control: str) -> None:
    with pytest.raises(LicenseRejected, match="5 digits") as caught:
        check_serial_and_control(SERIAL, control)
    assert caught.value.code == "control_number_mismatch"
