"""Bearer-token secrets: made from 256 random bits, stored only as their SHA-256."""

from __future__ import annotations

import hashlib
import secrets


def new_secret(prefix: str) -> str:
    """A new bearer secret: the prefix that says whose token it is, then 256 random bits (URL-safe)."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(secret: str) -> str:
    """Tokens are 256-bit random secrets, so a plain SHA-256 is enough to store them safely."""
    return hashlib.sha256(secret.encode()).hexdigest()
