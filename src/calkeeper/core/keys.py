"""Ed25519 public keys as a site sees them: read from ``.pub`` files or text, and named by key id.

A CAL server trusts the license authority's keys it has pinned (a folder of ``<key id>.pub``, PEM)
and verifies LEFs with them; the authority publishes the same files. The key id is derived from
the key itself, so a file with another key cannot pass for a pinned id. Private keys and signing
are the authority's (``calkeeper.authority.signing``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.core import lef as lefs
from calkeeper.core.errors import CalkeeperError, InvalidInput


def public_pem(key: Ed25519PublicKey) -> bytes:
    """A public key as a PEM file (SubjectPublicKeyInfo), the form of ``<key id>.pub``."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """A short stable id for a public key: ``ck-`` and 12 hex digits of its SHA-256."""
    return lefs.key_id_for(raw_public(key))


def public_key_from_text(text: str) -> Ed25519PublicKey:
    """Read an Ed25519 public key sent as PEM or as base64 of its 32 raw bytes (standard or URL-safe)."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode())
            if isinstance(key, Ed25519PublicKey):
                return key
        else:
            raw = base64.b64decode(text.replace("-", "+").replace("_", "/") + "=" * (-len(text) % 4), validate=True)
            return Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error, UnsupportedAlgorithm):
        pass
    raise InvalidInput("the lease key must be an Ed25519 public key, in PEM or as base64 of its 32 bytes",
                       code="invalid_key")


def load_public_keys(paths: Iterable[Path]) -> dict[str, Ed25519PublicKey]:
    """Load pinned public keys from ``.pub`` files or folders of them, keyed by key id."""
    keys: dict[str, Ed25519PublicKey] = {}
    for path in paths:
        files = sorted(path.glob("*.pub")) if path.is_dir() else [path]
        for file in files:
            key = serialization.load_pem_public_key(file.read_bytes())
            if not isinstance(key, Ed25519PublicKey):
                raise CalkeeperError(f"{file} is not an Ed25519 public key", code="invalid_key")
            keys[key_id_of(key)] = key
    return keys
