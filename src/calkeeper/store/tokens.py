"""API tokens, stored by the hash of their secret."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from calkeeper.contract.views import TokenView
from calkeeper.infra.database import table_of
from calkeeper.store.schema import ApiToken

token_t = table_of(ApiToken)


def _view(r: Any) -> TokenView:
    return TokenView(r["id"], r["name"], r["role"], r["created_at"], r["created_by"], r["revoked_at"])


class Tokens:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def add(self, *, name: str, role: str, token_hash: str, actor: str) -> TokenView | None:
        """The new token, or None when a live token has this name already (another node may have just made it)."""
        try:
            with self.connection.begin_nested():
                token_id = self.connection.execute(
                    insert(token_t).values(name=name, role=role, token_hash=token_hash, created_at=self.now,
                                           created_by=actor).returning(token_t.c.id)
                ).scalar_one()
        except IntegrityError:
            return None
        return TokenView(token_id, name, role, self.now, actor, None)

    def live_named(self, name: str) -> list[TokenView]:
        """The live tokens with this name: one at most, since names are unique among live tokens."""
        rows = self.connection.execute(
            select(token_t).where(token_t.c.name == name, token_t.c.revoked_at.is_(None)).order_by(token_t.c.id)
        ).mappings()
        return [_view(r) for r in rows]

    def live_with_id(self, token_id: int) -> TokenView | None:
        row = self.connection.execute(
            select(token_t).where(token_t.c.id == token_id, token_t.c.revoked_at.is_(None))
        ).mappings().first()
        return _view(row) if row is not None else None

    def revoke(self, token_ids: list[int]) -> None:
        self.connection.execute(update(token_t).where(token_t.c.id.in_(token_ids)).values(revoked_at=self.now))

    def all(self) -> list[TokenView]:
        return [_view(r) for r in self.connection.execute(select(token_t).order_by(token_t.c.id)).mappings()]

    def live_by_hash(self, token_hash: str) -> TokenView | None:
        row = self.connection.execute(
            select(token_t).where(token_t.c.token_hash == token_hash, token_t.c.revoked_at.is_(None))
        ).mappings().first()
        return _view(row) if row is not None else None

    def by_hash(self, token_hash: str) -> TokenView | None:
        """The token with this secret's hash, revoked or not."""
        row = self.connection.execute(select(token_t).where(token_t.c.token_hash == token_hash)).mappings().first()
        return _view(row) if row is not None else None
