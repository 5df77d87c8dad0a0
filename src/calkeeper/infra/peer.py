"""``PeerAddress``: note the address a request came from, before any X-Forwarded-For rule replaces it.

Single sign-on believes a proxy's user header only from the proxies listed (``CALKEEPER_SSO_PROXIES``),
so it must know the proxy's own address, not the one the proxy forwards.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

PEER = "calkeeper.peer"


class PeerAddress:
    """Keeps the connection's own address in the scope (pure ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope[PEER] = client[0] if client else None
        await self.app(scope, receive, send)


def peer_of(scope: Scope) -> str | None:
    """The address the request came from (a proxy's, when one stands in front)."""
    peer = scope.get(PEER)
    return peer if isinstance(peer, str) else None
