"""The License Enabler File: its text format, the bytes that are signed, and the signature check.

A LEF is UTF-8 text, one item a line, every line ending in a single LF::

    4600123456789012                  serial
    Example Site;;;                   owner
    Example Org;;;                    organization
    PRODUCTLEVEL;10;;2027-12-31       NAME;VALUE;VALID_FROM;VALID_TO
    ...
    SIGNATURE;<key id>:<base64 Ed25519 signature>;;

Canonical form: the signed message is ``calkeeper-lef-v1\\n`` followed by the exact bytes of every
line above the SIGNATURE line, line endings included. Nothing is normalised before checking, so
one changed byte anywhere (a trailing space, a CR before a LF, a missing final LF) breaks the
signature. The SIGNATURE line must be the last line and end in a single LF.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.core.errors import LicenseRejected

SIGNED_PREFIX = b"calkeeper-lef-v1\n"
SIGNATURE_TAG = "SIGNATURE;"
LEASE_KEY_TAG = "LEASE_KEY"
# A LEF is a few hundred bytes: the API and the CLI refuse one larger than this, with the same error.
MAX_LEF_BYTES = 100_000
COUNT_TAGS = {"NAMED_CALS": "named", "DOCUMENT_CALS": "document", "SESSION_CALS": "session", "USAGE_CALS": "usage"}
# The most CALs of a type a LEF can grant: what a CAL server's database holds in a count (a 32-bit integer).
MAX_CAL_COUNT = 2**31 - 1


@dataclass(frozen=True)
class LefTag:
    """One ``NAME;VALUE;VALID_FROM;VALID_TO`` line."""

    name: str
    value: str
    valid_from: str
    valid_to: str


@dataclass(frozen=True)
class Lef:
    """A parsed LEF whose signature has been checked."""

    text: str
    serial: str
    owner: str
    organization: str
    tags: dict[str, LefTag]
    key_id: str

    def count(self, tag: str) -> int:
        """Return the number in a count tag (0 when the tag is absent)."""
        found = self.tags.get(tag)
        return int(found.value.lstrip("0") or "0") if found else 0  # parse_body bounded it

    def lease_key(self) -> LeaseKey | None:
        """The site's lease-signing public key the authority vouches for (``LEASE_KEY``), if any."""
        tag = self.tags.get(LEASE_KEY_TAG)
        return None if tag is None else parse_lease_key(tag.value)


@dataclass(frozen=True)
class LeaseKey:
    """A site's lease-signing public key, as vouched for in its LEF: ``<key id>:<base64 raw key>``."""

    key_id: str
    raw: bytes

    def public_key(self) -> Ed25519PublicKey:
        """The key, ready to verify a lease signature."""
        return Ed25519PublicKey.from_public_bytes(self.raw)

    def tag_value(self) -> str:
        """The VALUE of the ``LEASE_KEY`` line."""
        return f"{self.key_id}:{base64.b64encode(self.raw).decode()}"


def key_id_for(raw: bytes) -> str:
    """A short stable id for a raw Ed25519 public key: ``ck-`` and 12 hex digits of its SHA-256."""
    return "ck-" + hashlib.sha256(raw).hexdigest()[:12]


def parse_lease_key(value: str) -> LeaseKey:
    """Read a ``LEASE_KEY`` value, refusing one whose key is not 32 bytes or whose id does not fit it."""
    key_id, sep, encoded = value.partition(":")
    try:
        raw = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if not sep or len(raw) != 32 or key_id != key_id_for(raw):
        raise _malformed("LEASE_KEY must read LEASE_KEY;<key id>:<base64 Ed25519 public key>;;")
    return LeaseKey(key_id, raw)


@dataclass
class UnsignedLef:
    """A LEF being written, before the authority signs it."""

    serial: str
    owner: str
    organization: str
    tags: list[LefTag] = field(default_factory=list)

    def body(self) -> str:
        """Return every line above the signature, each ending in LF."""
        lines = [self.serial, f"{_free_text(self.owner)};;;", f"{_free_text(self.organization)};;;"]
        lines += [f"{t.name};{t.value};{t.valid_from};{t.valid_to}" for t in self.tags]
        return "".join(line + "\n" for line in lines)


def _free_text(text: str) -> str:
    if any(ch in text for ch in ";\r\n"):
        raise ValueError(f"'{text}' cannot hold ';' or line breaks in a LEF")
    return text


def signed_message(body: bytes) -> bytes:
    """Return the exact bytes an Ed25519 LEF signature covers."""
    return SIGNED_PREFIX + body


def with_signature(body: str, key_id: str, signature: bytes) -> str:
    """Append the SIGNATURE line to a LEF body."""
    return f"{body}{SIGNATURE_TAG}{key_id}:{base64.b64encode(signature).decode()};;\n"


def _malformed(message: str) -> LicenseRejected:
    return LicenseRejected(f"the LEF is malformed: {message}", code="lef_malformed")


def check_size(size: int) -> None:
    """Refuse a LEF of more than MAX_LEF_BYTES bytes (``size`` may be a lower bound), before checking any of it.

    One message wherever the LEF comes from, whatever its size: the CLI reads no more than the limit.
    """
    if size > MAX_LEF_BYTES:
        raise _malformed(f"it is too large: a LEF has at most {MAX_LEF_BYTES} bytes (a vendor's has a few "
                         "hundred); check that it is the file the vendor sent")


def split_signature(text: str) -> tuple[bytes, str, bytes]:
    """Split a LEF into the signed body, the key id and the raw signature."""
    check_size(len(text))  # its characters first: no fewer than its bytes, and a huge text is not encoded
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which a JSON "\ud800" escape can carry
        raise _malformed("it holds characters that are not valid text") from None
    check_size(len(data))
    marker = b"\n" + SIGNATURE_TAG.encode()
    at = data.rfind(marker)
    if at < 0:
        raise _malformed("it has no SIGNATURE line; paste the whole file as the authority sent it")
    body, sig_line = data[: at + 1], data[at + 1 :]
    if not sig_line.endswith(b";;\n") or sig_line.count(b"\n") != 1:
        raise _malformed("the SIGNATURE line must be the last line, ending in ';;' and one line break")
    value = sig_line[len(SIGNATURE_TAG) : -len(b";;\n")].decode()
    key_id, sep, encoded = value.partition(":")
    if not sep or not key_id:
        raise _malformed("the SIGNATURE line must read SIGNATURE;<key id>:<signature>;;")
    try:
        signature = base64.b64decode(encoded, validate=True)
        # b64decode ignores the unused low bits of the last character, so several spellings decode
        # to the same signature; only the one the authority wrote may pass, or a changed byte would.
        if base64.b64encode(signature).decode() != encoded:
            raise ValueError("non-canonical base64")
    except (binascii.Error, ValueError):
        raise LicenseRejected(
            "the LEF signature is not valid: it has been changed or damaged", code="lef_signature_invalid"
        ) from None
    return body, key_id, signature


def verify(text: str, trusted_keys: Mapping[str, Ed25519PublicKey]) -> Lef:
    """Check a LEF's signature against the pinned keys, then parse it.

    Raises LicenseRejected with code ``lef_malformed``, ``lef_unknown_key`` or
    ``lef_signature_invalid``.
    """
    body, key_id, signature = split_signature(text)
    key = trusted_keys.get(key_id)
    if key is None:
        raise LicenseRejected(
            f"the LEF is signed with key '{key_id}', which this server does not trust; "
            "ask the vendor for its current public key",
            code="lef_unknown_key",
        )
    try:
        key.verify(signature, signed_message(body))
    except InvalidSignature:
        raise LicenseRejected(
            "the LEF signature is not valid: the text was changed after the vendor signed it "
            "(even white space and line endings count); paste it exactly as received",
            code="lef_signature_invalid",
        ) from None
    return parse_body(body.decode("utf-8"), text=text, key_id=key_id)


def parse_body(body: str, *, text: str, key_id: str) -> Lef:
    """Parse the signed lines of a LEF (whose signature is already checked)."""
    lines = body.split("\n")[:-1]
    if len(lines) < 3:
        raise _malformed("it needs a serial line, an owner line and an organization line")
    serial, owner_line, org_line = lines[0], lines[1], lines[2]
    owner, organization = _free_line(owner_line, "owner"), _free_line(org_line, "organization")
    tags: dict[str, LefTag] = {}
    for number, line in enumerate(lines[3:], start=4):
        parts = line.split(";")
        if len(parts) != 4 or not parts[0]:
            raise _malformed(f"line {number} ('{line}') is not NAME;VALUE;VALID_FROM;VALID_TO")
        tag = LefTag(*parts)
        if tag.name in tags:
            raise _malformed(f"the tag {tag.name} appears twice")
        tags[tag.name] = tag
    for name in COUNT_TAGS:
        if name in tags:
            _check_count(name, tags[name].value)
    return Lef(text=text, serial=serial, owner=owner, organization=organization, tags=tags, key_id=key_id)


def _check_count(name: str, value: str) -> None:
    if not (value.isascii() and value.isdigit()):
        raise _malformed(f"{name} must be a whole number (got '{value[:20]}')")
    digits = value.lstrip("0") or "0"
    # the length first: int() of thousands of digits is refused by Python itself, with a traceback
    if len(digits) > len(str(MAX_CAL_COUNT)) or int(digits) > MAX_CAL_COUNT:
        shown = digits if len(digits) <= 20 else f"a number of {len(digits)} digits"
        raise _malformed(f"{name} is {shown}, more than a CAL server can count (at most {MAX_CAL_COUNT})")


def _free_line(line: str, what: str) -> str:
    if not line.endswith(";;;"):
        raise _malformed(f"the {what} line must end in ';;;'")
    return line[:-3]


def parse_date(value: str, tag: str) -> date:
    """Read a YYYY-MM-DD date from a tag, refusing the LEF when it is not one."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _malformed(f"{tag} has '{value}' where a date (YYYY-MM-DD) belongs") from None
