"""How large a request body may be: refused by its Content-Length before a byte is read, else while it streams.

Every body is held to ``CALKEEPER_MAX_BODY_BYTES`` (1 MB by default); a path may have a larger limit of
its own (a restore takes a whole backup). The answer is 413 in the one error shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from calkeeper.api.asgi import answer_error, header, route_path
from calkeeper.core.error_codes import status_for
from calkeeper.infra.http_errors import body


@dataclass(frozen=True)
class Limit:
    """The largest body a path takes, and how a larger one is refused."""

    size: int
    code: str
    message: str


def default_limit(size: int) -> Limit:
    shown = f"{size // 2**20} MB" if size % 2**20 == 0 else f"{size:,} bytes"
    return Limit(size, code="body_too_large",
                 message=f"the request body is larger than the {shown} this server accepts (CALKEEPER_MAX_BODY_BYTES)")


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a body without a Content-Length grows past its limit.

    An HTTPException, so that FastAPI's own body parsing lets it through to the handler ``install`` adds.
    """

    def __init__(self, limit: Limit) -> None:
        super().__init__(413, limit.message)
        self.limit = limit


class BodyLimit:
    """Pure ASGI: a body with a Content-Length is checked once, before the app runs; only others are counted."""

    def __init__(self, app: ASGIApp, *, limit: Limit, larger: Mapping[str, Limit] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.larger = dict(larger or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.larger.get(route_path(scope), self.limit) if self.larger else self.limit
        declared = header(scope, b"content-length")
        if declared is None or not declared.isdigit():
            await self._counted(scope, receive, send, limit)
        elif int(declared) > limit.size:
            await answer_error(scope, receive, send, limit.code, limit.message)
        else:  # the server reads no more than a Content-Length says: nothing to count
            await self.app(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: Limit) -> None:
        size = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal size
            message = await receive()
            if message["type"] == "http.request":
                size += len(message.get("body", b""))
                if size > limit.size:
                    raise BodyTooLarge(limit)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, watching_send)
        except BodyTooLarge:
            if started:
                raise
            # read before the routes (by the Idempotency-Key check): answered here
            await answer_error(scope, receive, send, limit.code, limit.message)


def install(app: FastAPI) -> None:
    """Answer a body that grew too large inside a route in the one error shape, with its path's code."""

    @app.exception_handler(BodyTooLarge)
    async def _too_large(_: Request, error: BodyTooLarge) -> JSONResponse:
        return JSONResponse(body(error.limit.code, error.limit.message), status_for(error.limit.code))
