"""Dependencies shared by the routes: the site, the caller's role, idempotent replays."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from calkeeper.api.auth import Principal, allow, principal_of
from calkeeper.site import LocalSite

GATE = frozenset({"gate", "admin"})
READ = frozenset({"viewer", "admin"})
ADMIN = frozenset({"admin"})


async def site_of(request: Request) -> LocalSite:
    site = request.app.state.site
    assert isinstance(site, LocalSite)
    return site


def role(roles: frozenset[str]):  # type: ignore[no-untyped-def]
    async def check(principal: Annotated[Principal, Depends(principal_of)]) -> Principal:
        return allow(principal, roles)

    return Depends(check)


SiteDep = Annotated[LocalSite, Depends(site_of)]
Gate = Annotated[Principal, role(GATE)]
Reader = Annotated[Principal, role(READ)]
Admin = Annotated[Principal, role(ADMIN)]


def actor(principal: Principal) -> str:
    return f"token:{principal.name}"
