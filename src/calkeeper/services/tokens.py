"""Use cases for API tokens: create (the secret is shown once), revoke, list, verify."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.infra.tokens import hash_token, new_secret
from calkeeper.services.base import SiteBase
from calkeeper.store.schema import ApiToken

ROLES = ("admin", "viewer", "gate")
token_t = ApiToken.__table__


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class TokenUseCases(SiteBase):
    def create_token(self, *, name: str, role: str, actor: str | None = None) -> tuple[TokenView, str]:
        """Make a token with a role (admin, viewer or gate); returns it and its secret, shown only now."""
        if role not in ROLES:
            raise InvalidInput(f"the role is one of {', '.join(ROLES)}, not '{role}'")
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a token needs a name of 1 to 100 characters")
        secret = new_secret("ck_")
        actor = self.actor_or_default(actor)
        with self.uow(write=True) as tx:
            token_id = tx.connection.execute(
                insert(token_t).values(name=name, role=role, token_hash=hash_token(secret), created_at=tx.now,
                                       created_by=actor).returning(token_t.c.id)
            ).scalar_one()
            tx.records.audit(actor, "token.created", name, role=role, token_id=token_id)
            view = TokenView(token_id, name, role, tx.now, actor, None)
        return view, secret

    def revoke_token(self, name_or_id: str, *, actor: str | None = None) -> list[TokenView]:
        """Revoke the live tokens with this name (or id); they stop working on every node."""
        actor = self.actor_or_default(actor)
        with self.uow(write=True) as tx:
            match = (token_t.c.id == int(name_or_id)) if name_or_id.isdigit() else (token_t.c.name == name_or_id)
            rows = tx.connection.execute(
                select(token_t).where(match, token_t.c.revoked_at.is_(None))
            ).mappings().all()
            if not rows:
                raise NotFound(f"there is no live token '{name_or_id}'", code="unknown_token")
            tx.connection.execute(update(token_t).where(token_t.c.id.in_([r["id"] for r in rows]))
                                  .values(revoked_at=tx.now))
            for row in rows:
                tx.records.audit(actor, "token.revoked", row["name"], token_id=row["id"])
            tx.records.update_state()
            return [TokenView(r["id"], r["name"], r["role"], r["created_at"], r["created_by"], tx.now) for r in rows]

    def list_tokens(self) -> list[TokenView]:
        """Every token, without its secret."""
        with self.uow(write=False) as tx:
            rows = tx.connection.execute(select(token_t).order_by(token_t.c.id)).mappings().all()
        return [TokenView(r["id"], r["name"], r["role"], r["created_at"], r["created_by"], r["revoked_at"])
                for r in rows]

    def verify_token(self, secret: str) -> TokenView | None:
        """The live token with this secret, or None."""
        with self.uow(write=False) as tx:
            row = tx.connection.execute(
                select(token_t).where(token_t.c.token_hash == hash_token(secret), token_t.c.revoked_at.is_(None))
            ).mappings().first()
        if row is None:
            return None
        return TokenView(row["id"], row["name"], row["role"], row["created_at"], row["created_by"], None)
