"""API tokens: create (the secret is shown once), revoke, list, verify."""

from __future__ import annotations

from calkeeper.contract.views import TokenView
from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.infra.tokens import hash_token, new_secret
from calkeeper.store.unit_of_work import UnitOfWork

ROLES = ("admin", "viewer", "gate")


class Tokens:
    """The bearer tokens of the REST API, with their roles."""

    def __init__(self, *, uow: UnitOfWork, default_actor: str) -> None:
        self.uow = uow
        self.default_actor = default_actor

    def create_token(self, *, name: str, role: str, actor: str | None = None) -> tuple[TokenView, str]:
        """Make a token with a role (admin, viewer or gate); returns it and its secret, shown only now."""
        if role not in ROLES:
            raise InvalidInput(f"the role is one of {', '.join(ROLES)}, not '{role}'")
        name = name.strip()
        if not name or len(name) > 100:
            raise InvalidInput("a token needs a name of 1 to 100 characters")
        secret = new_secret("ck_")
        actor = actor or self.default_actor
        with self.uow.write() as tx:
            view = tx.tokens.add(name=name, role=role, token_hash=hash_token(secret), actor=actor)
            tx.history.audit(actor, "token.created", name, role=role, token_id=view.id)
        return view, secret

    def revoke_token(self, name_or_id: str, *, actor: str | None = None) -> list[TokenView]:
        """Revoke the live tokens with this name (or id); they stop working on every node."""
        actor = actor or self.default_actor
        with self.uow.write() as tx:
            live = tx.tokens.live(name_or_id)
            if not live:
                raise NotFound(f"there is no live token '{name_or_id}'", code="unknown_token")
            tx.tokens.revoke([t.id for t in live])
            for token in live:
                tx.history.audit(actor, "token.revoked", token.name, token_id=token.id)
            tx.site_state.bump()
            return [TokenView(t.id, t.name, t.role, t.created_at, t.created_by, tx.now) for t in live]

    def list_tokens(self) -> list[TokenView]:
        """Every token, without its secret."""
        with self.uow.read() as tx:
            return tx.tokens.all()

    def verify_token(self, secret: str) -> TokenView | None:
        """The live token with this secret, or None."""
        with self.uow.read() as tx:
            return tx.tokens.live_by_hash(hash_token(secret))
