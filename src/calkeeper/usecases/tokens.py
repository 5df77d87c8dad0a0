"""API tokens: create (the secret is shown once), revoke, list, verify, and brake bad ones."""

from __future__ import annotations

from typing import Any

from calkeeper.contract.views import TokenView
from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.infra.tokens import hash_token, new_secret
from calkeeper.store.unit_of_work import Transaction, UnitOfWork
from calkeeper.usecases.failure_brake import TOKEN_BY_ADDRESS, SharedBrake, Verdict

ROLES = ("admin", "viewer", "gate")
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database: a larger number names no token


class Tokens:
    """The bearer tokens of the REST API, with their roles."""

    def __init__(self, *, uow: UnitOfWork, default_actor: str) -> None:
        self.uow = uow
        self.default_actor = default_actor
        self.brake = SharedBrake("token_address", TOKEN_BY_ADDRESS)

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
            view = None if tx.tokens.live_named(name) else tx.tokens.add(
                name=name, role=role, token_hash=hash_token(secret), actor=actor)
            if view is None:
                raise InvalidInput(f"there is already a live token named '{name}': choose another name, or revoke "
                                   "that one first", code="token_name_taken")
            tx.history.audit(actor, "token.created", name, role=role, token_id=view.id)
        return view, secret

    def revoke_token(self, name: str = "", *, token_id: int | None = None, actor: str | None = None) -> list[TokenView]:
        """Revoke the live token with this name (or, given ``token_id``, this id); it stops working on every node.

        A name is always a name, even one that looks like a number: an id is taken only as ``token_id``.
        """
        name = name.strip()
        if bool(name) == (token_id is not None):
            raise InvalidInput("name the token to revoke, or give its id (one of the two)")
        actor = actor or self.default_actor
        with self.uow.write() as tx:
            live = self._one_live(tx, name, token_id)
            tx.tokens.revoke([live.id])
            tx.history.audit(actor, "token.revoked", live.name, token_id=live.id)
            tx.site_state.bump()
            return [TokenView(live.id, live.name, live.role, live.created_at, live.created_by, tx.now)]

    @staticmethod
    def _one_live(tx: Transaction, name: str, token_id: int | None) -> TokenView:
        if token_id is not None:
            token = tx.tokens.live_with_id(token_id) if 0 < token_id <= MAX_ID else None
            if token is None:
                raise NotFound(f"there is no live token with id {token_id}", code="unknown_token")
            return token
        live = tx.tokens.live_named(name)
        if len(live) > 1:  # only in a database whose names were never made unique
            ids = ", ".join(str(t.id) for t in live)
            raise InvalidInput(f"{len(live)} live tokens are named '{name}' (ids {ids}): revoke one by its id",
                               code="ambiguous_token")
        if not live:
            namesake = tx.tokens.live_with_id(int(name)) if name.isdigit() and 0 < int(name) <= MAX_ID else None
            hint = (f" (the live token with id {name} is named '{namesake.name}': revoke it by its id to mean that one)"
                    if namesake is not None else "")
            raise NotFound(f"there is no live token named '{name}'{hint}", code="unknown_token")
        return live[0]

    def list_tokens(self) -> list[TokenView]:
        """Every token, without its secret."""
        with self.uow.read() as tx:
            return tx.tokens.all()

    def verify_token(self, secret: str) -> TokenView | None:
        """The live token with this secret, or None."""
        with self.uow.read() as tx:
            return tx.tokens.live_by_hash(hash_token(secret))

    def token_brake(self, address: str) -> Verdict:
        """Whether an address sent so many bad tokens lately that it is refused (and for how long)."""
        with self.uow.read() as tx:
            return self.brake.verdict(tx, address)

    def record_bad_token(self, secret: str, *, address: str, request: str) -> Verdict:
        """Count a bad token from an address and record it in the audit trail (never the secret).

        The audit entry names the token when the secret is one of a revoked token. Returns the brake's
        verdict after it: how long to hold the answer back, or that the address is now refused. An
        address refused already (by a request on another worker, say) is not counted again.
        """
        with self.uow.write() as tx:
            verdict = self.brake.verdict(tx, address)
            if verdict.refused:
                return verdict
            _, verdict = self.brake.fail(tx, address)
            known = tx.tokens.by_hash(hash_token(secret))
            details: dict[str, Any] = {"request": request, "recent_failures": verdict.failures}
            if known is not None:
                details["token"] = f"{known.name} (id {known.id}, revoked)"
            tx.history.audit(f"address:{address}", "api.token_refused", address, **details)
        return verdict
