"""The one HTTP error shape, ``{"error": {"code", "message", "details"}}``, and the handlers that give it.

The CAL server's API and the license authority install the same handlers (``install``). Each
status comes from the one table of error codes, ``calkeeper.core.error_codes``, which lists every
code an answer can carry.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from calkeeper.core import errors as e
from calkeeper.core.error_codes import HTTP_STATUS_MEANING, status_for, status_of

log = logging.getLogger("calkeeper.api")
# The codes of the errors Starlette raises by itself, by status (400: a body that is not text).
HTTP_EXCEPTION_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}


class ApiError(Exception):
    """An error of the HTTP edge itself (authentication, roles, throttling); its code gives its status."""

    def __init__(self, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status_for(code), code, message, headers


def body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, for programs: one of the codes listed in the API's error documentation")
    message: str = Field(description="For people: what went wrong, in an admin's words")
    details: Any = Field(None, description="More about the error when there is more, e.g. each invalid entry")


class ErrorBody(BaseModel):
    """The one error shape."""

    error: ErrorDetail


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the errors an operation can answer, all in the one error shape."""
    return {status: {"model": ErrorBody, "description": HTTP_STATUS_MEANING[status]} for status in statuses}


def error_response(error: e.CalkeeperError | ApiError) -> JSONResponse:
    """The answer to an error, for the handlers below and for middleware that runs before them."""
    if isinstance(error, ApiError):
        return JSONResponse(body(error.code, error.message), error.status, headers=error.headers)
    headers = {"Retry-After": "1"} if isinstance(error, e.StoreUnavailable | e.InMaintenance) else None
    return JSONResponse(body(error.code, error.message, error.details), status_of(error), headers=headers)


def _problem(detail: dict[str, Any]) -> str:
    """A validation error's message; for a body that is not JSON, with what the parser said."""
    why = detail.get("ctx", {}).get("error") if detail.get("type") == "json_invalid" else None
    return f"{detail['msg']} ({why})" if isinstance(why, str) and why else str(detail["msg"])


def validation_response(error: RequestValidationError) -> JSONResponse:
    """A request that does not validate, in the one shape."""
    problems = [{"where": ".".join(str(p) for p in d["loc"]), "problem": _problem(d)} for d in error.errors()]
    summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
    return JSONResponse(body("invalid_request", f"the request is not valid: {summary}", problems),
                        status_for("invalid_request"))


def http_error_response(error: StarletteHTTPException) -> JSONResponse:
    """An HTTP error raised by the framework (404, 405...), in the one shape."""
    code = HTTP_EXCEPTION_CODES.get(error.status_code, "http_error")
    return JSONResponse(body(code, str(error.detail)), error.status_code, headers=getattr(error, "headers", None))


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    @app.exception_handler(e.CalkeeperError)
    async def _domain(_: Request, error: e.CalkeeperError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(ApiError)
    async def _api(_: Request, error: ApiError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        return validation_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return http_error_response(error)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(body("internal_error", "an unexpected error occurred; it has been logged"),
                            status_for("internal_error"))
