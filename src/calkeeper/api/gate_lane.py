"""The access gate's own lane: ``POST /api/v1/access`` goes straight to its endpoint.

Every app server asks the gate before each open, and most answers come from memory in a few
microseconds; what remains of a request's cost is the HTTP edge. Past the edge's checks (the token,
the body's size, an Idempotency-Key), this lane hands the gate's requests to the route's endpoint
itself instead of through the router's search of every route, the exception middleware and the
dependencies' exit stack, none of which the endpoint uses (it is a ``PlainRoute``). Its refusals get
the app's own handlers for the one error shape, as they would behind the router; anything else goes on
to the server's error handler, as it would.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from calkeeper.api.asgi import route_path
from calkeeper.core.errors import CalkeeperError
from calkeeper.infra.http_errors import ApiError, error_response, validation_response

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class GateLane:
    """Pure ASGI: the innermost of the edge's middlewares; every other request goes on to the router."""

    def __init__(self, app: ASGIApp, route: APIRoute, path: str) -> None:
        self.app = app
        self.route = route
        self.path = path
        self.endpoint: Endpoint = route.endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or route_path(scope) != self.path:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # as the router sets it: the latency histogram's label
        scope["endpoint"] = self.endpoint
        scope["path_params"] = {}
        try:
            response = await self.endpoint(Request(scope, receive, send))
        except (ApiError, CalkeeperError) as error:
            response = error_response(error)
        except RequestValidationError as error:
            response = validation_response(error)
        await response(scope, receive, send)
