"""Bearer tokens and roles: admin (everything), viewer (read only), gate (the access gate only).

Verified tokens are remembered for a second, so the access gate does not query the database on
every request; a revoked token stops working everywhere within that second. Repeated bad tokens
from one address are slowed down, then refused for a while: the failures are counted in the site's
database, so every worker and node brakes the address together, and each is in the audit trail
(``api.token_refused``). A good token never writes.

``BearerGate`` checks the token of every ``/api/v1`` request before anything reads, parses or
stores its body, and leaves the caller in the request's scope for the routes (``principal_of``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from fastapi import Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from calkeeper.api.asgi import API_PREFIX, header, route_path
from calkeeper.contract.views import TokenView
from calkeeper.core.errors import CalkeeperError, StoreUnavailable
from calkeeper.infra.http_errors import ApiError, error_response
from calkeeper.infra.tokens import hash_token
from calkeeper.usecases.failure_brake import Verdict
from calkeeper.usecases.outage import Outage
from calkeeper.usecases.tokens import Tokens

TOKEN_TTL_SECONDS = 1.0
REFUSAL = "too many requests with bad API tokens from this address; wait a minute"
PRINCIPAL = "calkeeper.principal"  # where BearerGate leaves the caller in the ASGI scope


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    token_id: int


class TokenGuard:
    """Checks bearer tokens against the site, with a short cache and the site's brake on bad tokens."""

    def __init__(self) -> None:
        self.verified: dict[str, tuple[TokenView | None, float]] = {}
        self.refreshing: set[str] = set()
        # Addresses the brake refused, until when: asked again of the database only once that has passed.
        self.refused_until: dict[str, float] = {}

    async def principal(self, scope: Scope) -> Principal:
        """The caller of a request, by its bearer token; raises ApiError (401, 429) for none or a bad one."""
        given = (header(scope, b"authorization") or b"").decode("latin-1")
        scheme, _, secret = given.partition(" ")
        client = scope.get("client")
        # the address uvicorn gives, after its forwarded_allow_ips rule: X-Forwarded-For is not read here
        address = client[0] if client else "unknown"
        tokens: Tokens = scope["app"].state.application.tokens
        if scheme.lower() != "bearer" or not secret.strip():
            await self._unless_refused(tokens, address)
            raise ApiError("unauthorized", "send an API token: 'Authorization: Bearer <token>'",
                           {"WWW-Authenticate": "Bearer"})
        token = await self._lookup(tokens, secret.strip(), scope["app"].state.application.outage)
        if token is None:
            await self._brake(tokens, address, secret.strip(), f"{scope.get('method', '')} {scope.get('path', '')}")
            raise ApiError("unauthorized", "the API token is not valid or was revoked",
                           {"WWW-Authenticate": "Bearer"})
        return Principal(token.name, token.role, token.id)

    async def hold(self, seconds: float) -> None:
        """Hold back the answer to a bad token, so that guessing is slow (tests skip the wait)."""
        await asyncio.sleep(seconds)

    async def _unless_refused(self, tokens: Tokens, address: str) -> None:
        """Refuse an address the brake refuses: remembered here, or else as the database says."""
        self._refuse_if(None, address)
        self._refuse_if(await run_in_threadpool(tokens.token_brake, address), address)

    async def _brake(self, tokens: Tokens, address: str, secret: str, request_line: str) -> None:
        """Count a bad token (unless the address is refused already): hold the answer back, or refuse."""
        await self._unless_refused(tokens, address)
        verdict = await run_in_threadpool(tokens.record_bad_token, secret, address=address,
                                          request=request_line)
        if verdict.refused:  # a failure counted below the limit is answered 401, whatever came after it
            self._refuse_if(verdict, address)
        if verdict.hold_seconds:
            await self.hold(verdict.hold_seconds)

    def _refuse_if(self, verdict: Verdict | None, address: str) -> None:
        """Refuse an address the verdict refuses, or (without one) that was refused and still is."""
        now = time.monotonic()
        if verdict is not None and verdict.refused:
            if len(self.refused_until) > 10_000:
                self.refused_until.clear()
            self.refused_until[address] = now + verdict.retry_after_seconds
        until = self.refused_until.get(address)
        if until is None:
            return
        if until <= now:
            del self.refused_until[address]
            return
        raise ApiError("too_many_requests", REFUSAL, {"Retry-After": str(max(1, round(until - now)))})

    async def _lookup(self, tokens: Tokens, secret: str, outage: Outage) -> TokenView | None:
        key = hash_token(secret)
        hit = self.verified.get(key)
        now = time.monotonic()
        if hit is not None and (now - hit[1] < TOKEN_TTL_SECONDS or key in self.refreshing):
            return hit[0]  # fresh, or another request is checking it again right now
        self.refreshing.add(key)
        try:
            token = await run_in_threadpool(tokens.verify_token, secret)
        except StoreUnavailable:
            # a token this node knew valid keeps working while the outage allows answers from memory
            if hit is not None and hit[0] is not None and outage.may_answer_from_memory():
                return hit[0]
            raise
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


async def principal_of(request: Request) -> Principal:
    """The caller BearerGate let through (checked here when the gate did not see the request)."""
    principal = request.scope.get(PRINCIPAL)
    if principal is None:
        principal = request.scope[PRINCIPAL] = await request.app.state.guard.principal(request.scope)
    assert isinstance(principal, Principal)
    return principal


class BearerGate:
    """Pure ASGI: an ``/api/v1`` request without a valid token is answered 401 before its body is read.

    So nothing an unknown caller sends is read, parsed or stored (a body, an Idempotency-Key); the
    brake on bad tokens applies here as everywhere.
    """

    def __init__(self, app: ASGIApp, guard: TokenGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_path(scope).startswith(API_PREFIX):
            try:
                scope[PRINCIPAL] = await self.guard.principal(scope)
            except (ApiError, CalkeeperError) as error:  # a bad token; or the database down (503)
                await error_response(error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
