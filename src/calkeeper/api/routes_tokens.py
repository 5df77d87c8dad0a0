"""Who may use the site: API tokens (admin, viewer, gate) and console users (admin, viewer).

Answers are given as data (``asdict``) and checked against the contract's views, whichever dataclass
the site returns them in.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request

from calkeeper.api.deps import Admin, SiteDep, actor
from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.api.schemas import ConsoleUserRequest, SessionsEnded, TokenCreated, TokenRequest
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


@router.delete("/tokens/{name}", response_model=list[TokenView], tags=["tokens"], responses=responses(404))
def revoke_token(name: str, site: SiteDep, principal: Admin,
                 by: Annotated[Literal["name", "id"], Query(description="How the path names the token")] = "name",
                 ) -> list[dict[str, Any]]:
    """Revoke the live token with this name (``?by=id``: with this id); it stops working on every node within a second.

    A name that looks like a number is still a name: an id is read only with ``?by=id``.
    """
    if by == "name":
        revoked = site.revoke_token(name, actor=actor(principal))
    elif name.isdigit():
        revoked = site.revoke_token(token_id=int(name), actor=actor(principal))
    else:
        raise InvalidInput(f"a token id is a number, not '{name}'")
    return [asdict(token) for token in revoked]


@router.get("/console-users", response_model=list[ConsoleUserView], tags=["console users"])
def list_console_users(site: SiteDep, _: Admin) -> list[dict[str, Any]]:
    """Every console user with its role (never a password)."""
    return [asdict(user) for user in site.list_console_users()]


@router.post("/console-users", response_model=ConsoleUserView, tags=["console users"], responses=responses(400))
def create_console_user(request: ConsoleUserRequest, site: SiteDep, principal: Admin) -> dict[str, Any]:
    """Create a console user; with ``replace``, set a new password and role for an existing one."""
    return asdict(site.create_console_user(username=request.username, password=request.password,
                                           role=request.role, replace=request.replace, actor=actor(principal)))


@router.post("/console-users/{username}/disable", response_model=ConsoleUserView, tags=["console users"],
             responses=responses(404, 409))
def disable_console_user(username: str, site: SiteDep, principal: Admin) -> dict[str, Any]:
    """Stop a console user from signing in; their sessions end at once. The last enabled admin cannot be disabled."""
    return asdict(site.disable_console_user(username, actor=actor(principal)))


@router.post("/console-users/{username}/enable", response_model=ConsoleUserView, tags=["console users"],
             responses=responses(404))
def enable_console_user(username: str, site: SiteDep, principal: Admin) -> dict[str, Any]:
    """Let a disabled console user sign in again."""
    return asdict(site.enable_console_user(username, actor=actor(principal)))


@router.delete("/console-users/{username}", response_model=ConsoleUserView, tags=["console users"],
               responses=responses(404, 409))
def delete_console_user(username: str, site: SiteDep, principal: Admin) -> dict[str, Any]:
    """Delete a console user and their sessions; the answer is who was deleted. The last enabled admin stays."""
    return asdict(site.delete_console_user(username, actor=actor(principal)))


@router.post("/console-users/{username}/sessions/end", response_model=SessionsEnded, tags=["console users"],
             responses=responses(404))
def end_console_sessions(username: str, site: SiteDep, principal: Admin) -> SessionsEnded:
    """Sign a console user out everywhere: end their open sessions."""
    return SessionsEnded(username=username, ended=site.end_console_sessions(username, actor=actor(principal)))
