"""The port to the vendor's license authority: what the CAL server asks of it, with no HTTP in sight.

The CAL server asks one thing: "the newest LEF for this serial". An adapter
(``calkeeper.authority_client.HttpAuthority``) talks to the real authority; tests pass a fake. An
adapter answers with the LEF text exactly as the authority sent it, or raises:

- ``LicenseRejected`` with code ``serial_not_found``: the authority has no site with this serial and
  control number;
- ``AuthorityUnavailable`` with code ``authority_unreachable`` (no answer in time) or
  ``authority_error`` (an answer that is not a LEF).

The LEF is then checked like a pasted one: a fetched LEF is trusted no more than a pasted one.
"""

from __future__ import annotations

from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.core.errors import LicenseRejected

SERIAL_NOT_FOUND = (
    "the license authority has no site with this serial number and control number; "
    "check both against your license papers"
)


class LicenseAuthority(Protocol):
    """Where the CAL server fetches its LEF from."""

    def fetch_lef(
        self,
        *,
        serial: str,
        control: str,
        owner: str,
        organization: str,
        lease_key: Ed25519PublicKey | None = None,
    ) -> str:
        """Return the newest LEF for the site, sending the site's lease-signing public key if given."""
        ...


def serial_not_found() -> LicenseRejected:
    """The refusal for a serial and control number the authority does not know (one message for both)."""
    return LicenseRejected(SERIAL_NOT_FOUND, code="serial_not_found")
