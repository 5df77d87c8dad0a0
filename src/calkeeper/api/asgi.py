"""What the edge's pure ASGI middlewares and handlers share: the route path, a header, the routes a request
meets, an error answer."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

from calkeeper.core.error_codes import status_for
from calkeeper.infra.http_errors import body

API_PREFIX = "/api/v1/"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def route_path(scope: Scope) -> str:
    """The request's path as the routes see it: without the prefix the server is mounted under (root_path)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and path[len(root):len(root) + 1] in ("/", ""):
        return path[len(root):]
    return path


def header(scope: Scope, name: bytes) -> bytes | None:
    """The first value of a header (``name`` in lower case), read straight from the scope."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def routed(scope: Scope) -> bool:
    """True when a route of the app takes the request's method on its path."""
    return any(route.matches(scope)[0] is Match.FULL for route in scope["app"].router.routes)


def methods_taken(scope: Scope) -> list[str]:
    """The methods the routes of the app take on the request's path (for a 405's Allow header)."""
    return [method for method in METHODS if routed({**scope, "method": method})]


async def answer_error(scope: Scope, receive: Receive, send: Send, code: str, message: str,
                       headers: dict[str, str] | None = None) -> None:
    """Answer in the one error shape from outside the routes (their exception handlers are not there yet)."""
    await JSONResponse(body(code, message), status_for(code), headers=headers)(scope, receive, send)
