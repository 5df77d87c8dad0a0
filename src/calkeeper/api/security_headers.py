"""The headers every answer carries for the browser's sake, by kind of answer.

- console pages and the API's docs page: a Content-Security-Policy that allows scripts, styles and
  images from this server only, nothing inline, and no framing, ``X-Frame-Options: DENY``, ``nosniff``,
  ``Referrer-Policy: same-origin`` and ``Cache-Control: no-store`` (they show the site's data);
- API answers (``/api/...``, ``/healthz``, ``/readyz``, ``/metrics``): ``nosniff`` and ``no-store``;
- static files (the console's and Swagger UI's): ``nosniff``, and they may be cached.

A header a route sets itself (the chart's own policy) is kept.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calkeeper.api.asgi import route_path

# Swagger UI's images are data: URIs; the styles it sets as it renders go through the DOM, which is allowed.
PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
               "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

Headers = tuple[tuple[bytes, bytes], ...]
NOSNIFF: Headers = ((b"x-content-type-options", b"nosniff"),)
API: Headers = (*NOSNIFF, (b"cache-control", b"no-store"))


PAGE: Headers = (*API, (b"content-security-policy", PAGE_POLICY.encode()), (b"x-frame-options", b"DENY"),
                 (b"referrer-policy", b"same-origin"))
API_PATHS = ("/api/", "/healthz", "/readyz", "/metrics")
STATIC_PATHS = ("/static/", "/api/docs/assets/")


def headers_for(path: str) -> Headers:
    """The headers an answer on this path (as the routes see it) gets."""
    if path.startswith(STATIC_PATHS):
        return NOSNIFF
    if path.startswith(API_PATHS):
        return PAGE if path == "/api/docs" else API
    return PAGE


class SecurityHeaders:
    """Pure ASGI: adds the headers of the path's kind to the answer's start, unless the answer has them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(route_path(scope))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(item for item in extra if item[0] not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
