"""The license lease: the signed file a desktop client keeps, how a site signs it, and the offline check.

A lease is UTF-8 text, one ``NAME=value`` item a line, every line ending in a single LF::

    calkeeper-lease-v1
    LEASE_ID=3f1c...
    SERVER=https://cal.acme.example
    SERIAL=4600123456789012
    USER=ACME\\dev1
    MACHINE=DEV-LAPTOP
    FINGERPRINT=<64 hex digits>
    ISSUED_AT=2026-12-01T10:00:00Z
    EXPIRES_AT=2026-12-31T10:00:00Z
    KEY_ID=<the site's lease key id>
    LEF=<base64 of the site's LEF, as the vendor signed it>
    SIGNATURE=<key id>:<base64 Ed25519 signature>

The signature covers ``calkeeper-lease-signed-v1\\n`` followed by every byte above the SIGNATURE line,
exactly as they are: one changed byte anywhere breaks it. The LEF it carries vouches for the site's
lease key (``LEASE_KEY``) under the vendor's signature, so a client that trusts only the vendor's key
checks the whole chain offline: vendor key -> LEF -> lease key -> lease (``check_lease``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from calkeeper.core import lef as lefs
from calkeeper.core.errors import CalkeeperError, LeaseInvalid, LicenseRejected
from calkeeper.core.keys import key_id_of

HEADER = "calkeeper-lease-v1"
SIGNED_PREFIX = b"calkeeper-lease-signed-v1\n"
FIELDS = ("LEASE_ID", "SERVER", "SERIAL", "USER", "MACHINE", "FINGERPRINT", "ISSUED_AT", "EXPIRES_AT", "KEY_ID",
          "LEF")
LEASE_DAYS = 30
MACHINES_PER_USER = 2
# A client's clock may lag the server's, or run a little back (a time sync): within this, no refusal.
CLOCK_TOLERANCE = timedelta(minutes=5)
MAX_LEASE_BYTES = 200_000  # a LEF of at most 100,000 bytes, in base64, and a few short lines
FINGERPRINT_PREFIX = "calkeeper-machine-v1\n"


@dataclass(frozen=True)
class Lease:
    """A lease's items, as read from its text (checked or not: see ``check_lease``)."""

    lease_id: str
    server: str
    serial: str
    user: str
    machine: str
    fingerprint: str
    issued_at: datetime
    expires_at: datetime
    key_id: str
    lef: str
    text: str

    def days_left(self, now: datetime) -> int:
        """Days until the lease expires, a part of a day counted as one (0 once expired)."""
        return max(math.ceil((self.expires_at - now) / timedelta(days=1)), 0)


def machine_fingerprint(machine_id: str, host_name: str) -> str:
    """The fingerprint of a machine: SHA-256 of the operating system's machine id and the host name.

    Both are compared without case and surrounding white space (Windows' MachineGuid and a host name
    are case-insensitive); nothing else goes in, so nothing a user sets in the environment changes it.
    """
    text = f"{FINGERPRINT_PREFIX}{machine_id.strip().lower()}\n{host_name.strip().lower()}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sign_lease(*, lease_id: str, server: str, serial: str, user: str, machine: str, fingerprint: str,
               issued_at: datetime, expires_at: datetime, lef_text: str, key: Ed25519PrivateKey) -> str:
    """Write and sign a lease with the site's lease key; return its whole text."""
    values = {"LEASE_ID": lease_id, "SERVER": server, "SERIAL": serial, "USER": user, "MACHINE": machine,
              "FINGERPRINT": fingerprint, "ISSUED_AT": _stamp(issued_at), "EXPIRES_AT": _stamp(expires_at),
              "KEY_ID": key_id_of(key.public_key()),
              "LEF": base64.b64encode(lef_text.encode("utf-8")).decode()}
    for name, value in values.items():
        if any(ch in value for ch in "\r\n") or not value:
            raise ValueError(f"a lease's {name} cannot be empty or hold line breaks")
    body = HEADER + "\n" + "".join(f"{name}={values[name]}\n" for name in FIELDS)
    signature = key.sign(SIGNED_PREFIX + body.encode("utf-8"))
    return f"{body}SIGNATURE={values['KEY_ID']}:{base64.b64encode(signature).decode()}\n"


def _invalid(code: str, message: str) -> LeaseInvalid:
    return LeaseInvalid(message, code=code)


def read_lease(text: str) -> tuple[Lease, bytes, str, bytes]:
    """Parse a lease without checking it: (lease, signed body, signature key id, signature).

    Raises LeaseInvalid ``lease_malformed`` for a text that is not a lease.
    """
    if len(text) > MAX_LEASE_BYTES:
        raise _invalid("lease_malformed", f"the lease file is larger than a lease can be ({MAX_LEASE_BYTES} bytes)")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid("lease_malformed", "the lease file holds characters that are not valid text") from None
    at = data.rfind(b"\nSIGNATURE=")
    if at < 0 or not data.endswith(b"\n") or data[at + 1:].count(b"\n") != 1:
        raise _invalid("lease_malformed", "the lease file is damaged: its SIGNATURE line is missing or not last")
    body, sig_line = data[: at + 1], data[at + 1:].decode("utf-8")
    lines = body.decode("utf-8").split("\n")[:-1]
    if not lines or lines[0] != HEADER:
        raise _invalid("lease_malformed", f"the file is not a calkeeper lease (it does not start with {HEADER})")
    items: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition("=")
        if not sep or name not in FIELDS or name in items:
            raise _invalid("lease_malformed", f"the lease file is damaged: '{line[:40]}' is not one of its lines")
        items[name] = value
    missing = [name for name in FIELDS if name not in items]
    if missing:
        raise _invalid("lease_malformed", f"the lease file is damaged: it has no {', '.join(missing)}")
    key_id, sep, encoded = sig_line[len("SIGNATURE="):-1].partition(":")
    try:
        signature = base64.b64decode(encoded, validate=True)
        lef_text = base64.b64decode(items["LEF"], validate=True).decode("utf-8")
        issued, expires = (datetime.strptime(items[n], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
                           for n in ("ISSUED_AT", "EXPIRES_AT"))
    except (binascii.Error, ValueError):
        raise _invalid("lease_signature_invalid",
                       "the lease's signature is not valid: the file was changed after the server signed it") from None
    if not sep or base64.b64encode(signature).decode() != encoded:
        raise _invalid("lease_signature_invalid",
                       "the lease's signature is not valid: the file was changed after the server signed it")
    lease = Lease(items["LEASE_ID"], items["SERVER"], items["SERIAL"], items["USER"], items["MACHINE"],
                  items["FINGERPRINT"], issued, expires, items["KEY_ID"], lef_text, text)
    return lease, body, key_id, signature


def check_lease(text: str, *, vendor_keys: Mapping[str, Ed25519PublicKey], fingerprint: str, now: datetime,
                latest_seen: datetime | None = None) -> Lease:
    """The offline check a desktop client runs: the whole chain from the vendor's key, then machine and time.

    In order: the lease's signature by the key its LEF vouches for (any changed byte fails here), the LEF's
    signature by the vendor, the LEF's serial, this machine, the clock set back (earlier than the latest time
    the client saw by more than ``CLOCK_TOLERANCE``), issued in the future, expired. Raises LeaseInvalid
    with the code and words of the first check that fails.
    """
    lease, body, key_id, signature = read_lease(text)
    lease_key = _vouched_key(lease.lef)
    if lease_key is None:
        raise _invalid("lease_lef_no_key", "the LEF the lease carries vouches for no lease key, so the lease "
                                                "cannot be checked; connect to the server again after its admin "
                                                "runs \"Update license from server\"")
    if key_id != lease_key.key_id or lease.key_id != lease_key.key_id:
        raise _invalid("lease_signature_invalid", "the lease is not signed with the lease key its LEF vouches for: "
                                                  "it comes from another server than the one licensed by that LEF")
    try:
        lease_key.public_key().verify(signature, SIGNED_PREFIX + body)
    except InvalidSignature:
        raise _invalid("lease_signature_invalid",
                       "the lease's signature is not valid: the file was changed after the server signed it") from None
    try:
        lef = lefs.verify(lease.lef, vendor_keys)
    except LicenseRejected as error:
        raise _invalid("lease_lef_untrusted", f"the LEF the lease carries is not signed by the vendor this client "
                                              f"trusts ({error.message})") from None
    if lef.serial != lease.serial:
        raise _invalid("lease_signature_invalid", "the lease names another serial than the LEF it carries")
    if lef.tags.get("LICENSE_LEASE") is not None and lef.tags["LICENSE_LEASE"].value == "NO":
        raise _invalid("lease_lef_no_key", "the LEF the lease carries allows no license lease (LICENSE_LEASE;NO)")
    if lease.fingerprint != fingerprint:
        raise _invalid("lease_other_machine",
                       f"the lease was issued for another machine ({lease.machine}), not this one")
    if latest_seen is not None and now < latest_seen - CLOCK_TOLERANCE:
        raise _invalid("lease_clock_set_back", f"the clock was set back: it says {_stamp(now)}, yet this client has "
                                               f"already seen {_stamp(latest_seen)}")
    if now < lease.issued_at - CLOCK_TOLERANCE:
        raise _invalid("lease_future", f"the lease was issued in the future ({_stamp(lease.issued_at)}; the clock "
                                       f"says {_stamp(now)})")
    if now >= lease.expires_at:
        raise _invalid("lease_expired", f"the lease expired on {_stamp(lease.expires_at)}; connect to the server "
                                        "again to renew it")
    return lease


def _vouched_key(lef_text: str) -> lefs.LeaseKey | None:
    """The lease key a LEF names (its signature is checked apart); None when it names none."""
    try:
        body, key_id, _ = lefs.split_signature(lef_text)
        return lefs.parse_body(body.decode("utf-8"), text=lef_text, key_id=key_id).lease_key()
    except (CalkeeperError, UnicodeDecodeError):
        raise _invalid("lease_lef_untrusted", "the LEF the lease carries is damaged") from None
