"""The authority's admin tokens: made with their secret shown once, kept as a SHA-256, revocable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from calkeeper.authority.schema import tokens_t
from calkeeper.core.clock import Clock, SystemClock
from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.infra.tokens import hash_token, new_secret


@dataclass(frozen=True)
class AdminToken:
    id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None


class AdminTokens:
    """Tokens for the authority's admin API (one role: the vendor's admin)."""

    def __init__(self, engine: Engine, clock: Clock | None = None) -> None:
        self.engine = engine
        self.clock = clock or SystemClock()

    def create(self, name: str) -> tuple[AdminToken, str]:
        """Make a token; returns it and its secret, which is not kept and cannot be shown again."""
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a token needs a name of 1 to 100 characters")
        secret = new_secret("cka_")
        now = self.clock.now()
        with self.engine.connect() as connection, connection.execution_options(calkeeper_write=True).begin():
            token_id = connection.execute(insert(tokens_t).values(
                name=name, token_hash=hash_token(secret), created_at=now).returning(tokens_t.c.id)).scalar_one()
        return AdminToken(token_id, name, now, None), secret

    def list(self) -> list[AdminToken]:
        """Every token, without its secret."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(tokens_t).order_by(tokens_t.c.id)).mappings().all()
        return [AdminToken(r["id"], r["name"], r["created_at"], r["revoked_at"]) for r in rows]

    def revoke(self, name: str) -> int:
        """Revoke the live tokens with this name; returns how many."""
        with self.engine.connect() as connection, connection.execution_options(calkeeper_write=True).begin():
            done = connection.execute(update(tokens_t).where(tokens_t.c.name == name, tokens_t.c.revoked_at.is_(None))
                                      .values(revoked_at=self.clock.now())).rowcount
        if not done:
            raise NotFound(f"there is no live authority token named '{name}'", code="unknown_token")
        return done

    def verify(self, secret: str) -> AdminToken | None:
        """The live token with this secret, or None."""
        with self.engine.connect() as connection:
            row = connection.execute(select(tokens_t).where(
                tokens_t.c.token_hash == hash_token(secret), tokens_t.c.revoked_at.is_(None))).mappings().first()
        return None if row is None else AdminToken(row["id"], row["name"], row["created_at"], None)
