"""JSON request bodies read strictly: text that is not valid Unicode is refused (422), never stored.

Python's ``json.loads``, which FastAPI reads bodies with, turns ``"\\ud800"`` into a lone surrogate
that no database can store. The routes of the routers built with ``route_class=StrictJsonRoute`` read
bodies with pydantic's parser instead (as the access gate does), which refuses lone surrogates and
bytes that are not UTF-8; FastAPI answers the refusal as the JSON error it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Coroutine
from typing import Any

import pydantic_core
from fastapi import Request, Response
from fastapi.routing import APIRoute

_WHERE = re.compile(r"line (\d+) column (\d+)")


class StrictJsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            content = await self.body()
            try:
                self._json = pydantic_core.from_json(content)
            except ValueError as error:
                text = content.decode("utf-8", "replace")
                raise json.JSONDecodeError(str(error), text, _position(text, str(error))) from None
        return self._json


class StrictJsonRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def strictly(request: Request) -> Response:
            return await handle(StrictJsonRequest(request.scope, request.receive))

        return strictly


class PlainRoute(APIRoute):
    """A route whose endpoint takes the request and returns the response itself, as the access gate's does:
    FastAPI documents it as declared, but runs no dependency resolution and no response-model pass for it
    (its endpoint reads the body with pydantic's parser, as the routes above do)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint: Callable[[Request], Coroutine[Any, Any, Response]] = self.endpoint
        return endpoint


def _position(text: str, message: str) -> int:
    """The character the parser stopped at, from its 'line L column C'."""
    found = _WHERE.search(message)
    if found is None:
        return 0
    line, column = int(found[1]), int(found[2])
    start = sum(len(row) + 1 for row in text.split("\n")[: line - 1])
    return min(start + column - 1, len(text))
