"""Who may use the site: API tokens (admin, viewer, gate) and console users (admin, viewer).

Answers are given as data (``asdict``) and checked against the contract's views, whichever dataclass
the site returns them in.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Request

from calkeeper.api.deps import Admin, SiteDep, actor
from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.api.schemas import ConsoleUserRequest, TokenCreated, TokenRequest
from calkeeper.contract.views import ConsoleUserView, TokenView
from calkeeper.core.errors import InvalidInput
from calkeeper.infra.http_errors import responses

router = APIRouter(prefix="/api/v1", responses=responses(401, 403, 422, 429, 503), route_class=StrictJsonRoute)


@router.get("/tokens", response_model=list[TokenView], tags=["tokens"])
def list_tokens(site: SiteDep, _: Admin) -> list[dict[str, Any]]:
    """Every token, revoked ones included, without its secret."""
    return [asdict(token) for token in site.list_tokens()]


@router.post("/tokens", response_model=TokenCreated, tags=["tokens"], responses=responses(400))
def create_token(request: TokenRequest, http: Request, site: SiteDep, principal: Admin) -> dict[str, Any]:
    """Make a token with a role; the answer holds its secret, shown this once (only its hash is kept)."""
    if http.headers.get("idempotency-key"):
        # A kept answer would keep the secret for a day: a token is made once, and a lost answer
        # is mended by revoking the token and making another.
        raise InvalidInput("a token's secret is shown once: create tokens without an Idempotency-Key")
    token, secret = site.create_token(name=request.name, role=request.role, actor=actor(principal))
    return {"token": asdict(token), "secret": secret}


@router.delete("/tokens/{name_or_id}", response_model=list[TokenView], tags=["tokens"], responses=responses(404))
def revoke_token(name_or_id: str, site: SiteDep, principal: Admin) -> list[dict[str, Any]]:
    """Revoke the live tokens with this name (or id); they stop working on every node within a second."""
    return [asdict(token) for token in site.revoke_token(name_or_id, actor=actor(principal))]


@router.get("/console-users", response_model=list[ConsoleUserView], tags=["console users"])
def list_console_users(site: SiteDep, _: Admin) -> list[dict[str, Any]]:
    """Every console user with its role (never a password)."""
    return [asdict(user) for user in site.list_console_users()]


@router.post("/console-users", response_model=ConsoleUserView, tags=["console users"], responses=responses(400))
def create_console_user(request: ConsoleUserRequest, site: SiteDep, principal: Admin) -> dict[str, Any]:
    """Create a console user; with ``replace``, set a new password and role for an existing one."""
    return asdict(site.create_console_user(username=request.username, password=request.password,
                                           role=request.role, replace=request.replace, actor=actor(principal)))
