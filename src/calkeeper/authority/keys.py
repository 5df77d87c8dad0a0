"""The authority's key folder over time: which keys exist, which one signs, and rotation.

Rotation makes a new key and makes it the active one; older public keys stay in the folder and
stay published (``GET /keys``), so a site pinned to an older key keeps its license in force and
still verifies LEFs signed with that key. New LEFs are signed with the new key, so a site must pin
it before its next update. ``rotate_key(activate=False)`` publishes a key ahead of time, to be
activated later (``activate_key``) once sites have pinned it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from calkeeper.authority.signing import SigningKey, create_key, load_signing_key
from calkeeper.core.errors import NotFound
from calkeeper.core.keys import load_public_keys


@dataclass(frozen=True)
class KeyInfo:
    """One key of the folder: its id, whether it signs new LEFs, its public half."""

    key_id: str
    active: bool
    created_at: datetime
    has_private_key: bool
    public_key_pem: str


def active_key_id(folder: Path) -> str | None:
    """The id of the key that signs new LEFs, or None when the folder has none."""
    marker = folder / "active"
    return marker.read_text().strip() if marker.exists() else None


def list_keys(folder: Path) -> list[KeyInfo]:
    """Every key in the folder, oldest first."""
    if not folder.exists():
        return []
    active = active_key_id(folder)
    keys = []
    for key_id in load_public_keys([folder]):
        pub = folder / f"{key_id}.pub"
        keys.append(KeyInfo(key_id=key_id, active=key_id == active,
                            created_at=datetime.fromtimestamp(pub.stat().st_mtime, UTC),
                            has_private_key=(folder / f"{key_id}.key").exists(),
                            public_key_pem=pub.read_text()))
    return sorted(keys, key=lambda k: (k.created_at, k.key_id))


def ensure_key(folder: Path) -> tuple[SigningKey, bool]:
    """The active signing key, made now if the folder has none; True when it was made."""
    if active_key_id(folder) is not None:
        return load_signing_key(folder), False
    return create_key(folder), True


def rotate_key(folder: Path, *, activate: bool = True) -> SigningKey:
    """Make a new signing key; make it the active one unless told to only publish it."""
    key = create_key(folder, activate=False)
    if activate:
        activate_key(folder, key.key_id)
    return key


def activate_key(folder: Path, key_id: str) -> SigningKey:
    """Make an existing key (with its private half in the folder) the one that signs new LEFs."""
    if not (folder / f"{key_id}.key").exists():
        raise NotFound(f"there is no private key '{key_id}' in {folder}; see 'calkeeper authority key list'",
                       code="unknown_key")
    key = load_signing_key(folder, key_id)
    temporary = folder / "active.new"
    temporary.write_text(key_id + "\n")
    os.replace(temporary, folder / "active")  # atomic: a LEF is signed by the old key or the new one
    return key
