"""The site's lease key: the Ed25519 key that signs desktop clients' license leases, kept in a private file.

It is made on first start (``<data dir>/lease-key/lease.key``, 0600 in a 0700 folder, PKCS#8 PEM) and never
leaves the server; its public half goes to the license authority with "Update license from server", which
vouches for it in the LEF (``LEASE_KEY``). Every node of a multi-node site must sign with the same key:
point ``CALKEEPER_LEASE_KEY_FILE`` at one file they share.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from calkeeper.core.errors import CalkeeperError
from calkeeper.infra.private_paths import PRIVATE_FILE, make_private, private_folder


def load_or_create_lease_key(path: Path) -> Ed25519PrivateKey:
    """The lease key in the file, made (private) when the file does not exist yet."""
    if not path.exists():
        private_folder(path.parent)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        except FileExistsError:  # another process made it meanwhile: use theirs
            return load_or_create_lease_key(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return key
    make_private(path)
    try:
        loaded: object = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        loaded = None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CalkeeperError(f"{path} is not an Ed25519 private key (the site's lease key)", code="no_signing_key")
    return loaded
