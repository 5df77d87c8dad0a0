"""Ed25519 signing keys with ids, kept in a folder, and the LEFs they sign (the authority's side).

A key folder holds ``<key id>.key`` (private, PKCS#8 PEM, mode 0600), ``<key id>.pub`` (public,
PEM) and ``active`` (the id of the key that signs new LEFs). Older public keys stay, so sites that
pin them keep verifying until they update their pins. Reading public keys, which sites do too, is
``calkeeper.core.keys``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from calkeeper.core import lef as lefs
from calkeeper.core.errors import CalkeeperError
from calkeeper.core.keys import key_id_of, public_pem, raw_public


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    private: Ed25519PrivateKey

    def public_pem(self) -> bytes:
        return public_pem(self.private.public_key())


def create_key(folder: Path, *, activate: bool = True) -> SigningKey:
    """Make a new signing key in the folder (private key readable by its owner only)."""
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    private = Ed25519PrivateKey.generate()
    key_id = key_id_of(private.public_key())
    secret = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = folder / f"{key_id}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(secret)
    (folder / f"{key_id}.pub").write_bytes(public_pem(private.public_key()))
    if activate:
        (folder / "active").write_text(key_id + "\n")
    return SigningKey(key_id, private)


def load_signing_key(folder: Path, key_id: str | None = None) -> SigningKey:
    """Load the active signing key (or the one named)."""
    if key_id is None:
        active = folder / "active"
        if not active.exists():
            raise CalkeeperError(f"there is no signing key in {folder}; run 'calkeeper authority init' first",
                                 code="no_signing_key")
        key_id = active.read_text().strip()
    path = folder / f"{key_id}.key"
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except FileNotFoundError:
        raise CalkeeperError(f"there is no signing key '{key_id}' in {folder}", code="no_signing_key") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise CalkeeperError(f"{path} is not an Ed25519 key", code="no_signing_key")
    return SigningKey(key_id, private)


def sign_lef(unsigned: lefs.UnsignedLef, key: SigningKey) -> str:
    """Sign a LEF body and return the whole LEF text."""
    body = unsigned.body()
    signature = key.private.sign(lefs.signed_message(body.encode("utf-8")))
    return lefs.with_signature(body, key.key_id, signature)


def make_lef(
    *,
    serial: str,
    owner: str,
    organization: str,
    named: int,
    document: int = 0,
    session: int = 0,
    usage: int = 0,
    maintenance_until: date | None = None,
    time_limit: date | None = None,
    lease: bool = True,
    product_level: str = "10",
    lease_key: Ed25519PublicKey | None = None,
) -> lefs.UnsignedLef:
    """Write the tags of a CAL server LEF, in the usual order.

    ``lease_key`` is the site's lease-signing public key; the LEF vouches for it (``LEASE_KEY``) when
    leasing is allowed, so desktop clients that trust only the vendor can check the site's leases.
    """
    tags = [lefs.LefTag("PRODUCTLEVEL", product_level, "", maintenance_until.isoformat() if maintenance_until else "")]
    for name, count in (("NAMED_CALS", named), ("DOCUMENT_CALS", document), ("SESSION_CALS", session),
                        ("USAGE_CALS", usage)):
        tags.append(lefs.LefTag(name, str(count), "", ""))
    tags.append(lefs.LefTag("LICENSE_LEASE", "YES" if lease else "NO", "", ""))
    if time_limit is not None:
        tags.append(lefs.LefTag("TIMELIMIT", "", "", time_limit.isoformat()))
    if lease_key is not None and lease:
        raw = raw_public(lease_key)
        tags.append(lefs.LefTag(lefs.LEASE_KEY_TAG, lefs.LeaseKey(lefs.key_id_for(raw), raw).tag_value(), "", ""))
    return lefs.UnsignedLef(serial=serial, owner=owner, organization=organization, tags=tags)
