"""Serial numbers (16 digits) and the control numbers (5 digits) that check them.

The control number is the first 5 decimal digits of SHA-256 over ``calkeeper-serial:<serial>``, so
anyone can check a pair offline and a mistyped digit in either is caught with 99.999% certainty.
It proves nothing about who issued the serial: the LEF signature does that.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from calkeeper.core.errors import LicenseRejected

_SERIAL = re.compile(r"\d{16}")
_CONTROL = re.compile(r"\d{5}")


def control_number(serial: str) -> str:
    """Return the 5-digit control number of a serial."""
    digest = hashlib.sha256(f"calkeeper-serial:{serial}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 100_000:05d}"


def new_serial() -> str:
    """Make a new random 16-digit serial (never starting with 0)."""
    return str(secrets.randbelow(9 * 10**15) + 10**15)


def check_serial_and_control(serial: str, control: str) -> tuple[str, str]:
    """Return the pair cleaned of spaces and dashes, or refuse it with the check that failed."""
    serial = re.sub(r"[\s-]", "", serial or "")
    control = re.sub(r"[\s-]", "", control or "")
    if not _SERIAL.fullmatch(serial):
        raise LicenseRejected(
            f"the serial number must be 16 digits (got '{serial}')", code="invalid_serial"
        )
    if not _CONTROL.fullmatch(control):
        raise LicenseRejected(
            f"the control number must be 5 digits (got '{control}')", code="control_number_mismatch"
        )
    if control_number(serial) != control:
        raise LicenseRejected(
            "the control number does not match the serial number: check both for typing mistakes",
            code="control_number_mismatch",
        )
    return serial, control
