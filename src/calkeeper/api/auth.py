"""Bearer tokens and roles: admin (everything), viewer (read only), gate (the access gate only).

Verified tokens are remembered for a second, so the access gate does not query the database on
every request; a revoked token stops working everywhere within that second. Repeated bad tokens
from one address are slowed down, then refused for a while.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from calkeeper.contract.views import TokenView
from calkeeper.infra.brake import FailureBrake
from calkeeper.infra.http_errors import ApiError
from calkeeper.infra.tokens import hash_token
from calkeeper.usecases.tokens import Tokens

TOKEN_TTL_SECONDS = 1.0


@dataclass(frozen=True)
class Principal:
    name: str
    role: str


class TokenGuard:
    """Checks bearer tokens against the site, with a short cache and a per-address brake."""

    def __init__(self) -> None:
        self.verified: dict[str, tuple[TokenView | None, float]] = {}
        self.refreshing: set[str] = set()
        self.brake = FailureBrake("too many requests with bad API tokens from this address; wait a minute")

    async def principal(self, request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, secret = header.partition(" ")
        address = request.client.host if request.client else "unknown"
        if scheme.lower() != "bearer" or not secret.strip():
            await self.brake.check(address, failed=False)
            raise ApiError("unauthorized", "send an API token: 'Authorization: Bearer <token>'",
                           {"WWW-Authenticate": "Bearer"})
        token = await self._lookup(request, secret.strip())
        if token is None:
            await self.brake.check(address, failed=True)
            raise ApiError("unauthorized", "the API token is not valid or was revoked",
                           {"WWW-Authenticate": "Bearer"})
        return Principal(token.name, token.role)

    async def _lookup(self, request: Request, secret: str) -> TokenView | None:
        key = hash_token(secret)
        hit = self.verified.get(key)
        now = time.monotonic()
        if hit is not None and (now - hit[1] < TOKEN_TTL_SECONDS or key in self.refreshing):
            return hit[0]  # fresh, or another request is checking it again right now
        self.refreshing.add(key)
        try:
            tokens: Tokens = request.app.state.application.tokens
            token = await run_in_threadpool(tokens.verify_token, secret)
        finally:
            self.refreshing.discard(key)
        if len(self.verified) > 10_000:
            self.verified.clear()
        self.verified[key] = (token, time.monotonic())
        return token


def allow(principal: Principal, roles: frozenset[str]) -> Principal:
    if principal.role not in roles:
        raise ApiError("forbidden",
                       f"the token '{principal.name}' has the role '{principal.role}', which may not do this "
                       f"(needs {' or '.join(sorted(roles))})")
    return principal
