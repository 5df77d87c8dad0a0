"""The host names the server answers to (``CALKEEPER_TRUSTED_HOSTS``), against DNS rebinding and forged Host headers.

With none configured, any Host is answered: the server builds no absolute URL from it (links and
redirects are paths). With some, a request for another host is refused (400, ``untrusted_host``);
``localhost``, ``127.0.0.1`` and ``[::1]`` are always answered, and so are ``/healthz`` and
``/readyz``, which load balancers probe by address.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from calkeeper.api.asgi import answer_error, header, route_path

LOCAL = ("localhost", "127.0.0.1", "[::1]")
PROBES = frozenset({"/healthz", "/readyz"})


class TrustedHosts:
    """Pure ASGI: answers only requests whose Host is one of the names (``*.example.org``: any subdomain)."""

    def __init__(self, app: ASGIApp, *, hosts: Iterable[str]) -> None:
        self.app = app
        names = [host.strip().lower() for host in (*hosts, *LOCAL) if host.strip()]
        self.exact = frozenset(name for name in names if not name.startswith("*."))
        self.suffixes = tuple(name[1:] for name in names if name.startswith("*."))

    def trusted(self, host: str) -> bool:
        name = host.lower()
        name = name[: name.rindex("]") + 1] if name.startswith("[") and "]" in name else name.split(":")[0]
        return name in self.exact or (bool(self.suffixes) and name.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and route_path(scope) not in PROBES:
            host = (header(scope, b"host") or b"").decode("latin-1")
            if not self.trusted(host):
                await answer_error(scope, receive, send, "untrusted_host",
                                   f"this server does not answer to the host name '{host[:100]}' "
                                   "(CALKEEPER_TRUSTED_HOSTS)")
                return
        await self.app(scope, receive, send)
