"""The one HTTP error shape, ``{"error": {"code", "message", "details"}}``, and the status per code.

The CAL server's API and the license authority install the same handlers (``install``).

The CAL server's codes: invalid_input, invalid_user, invalid_request, unknown_document, unknown_user,
unknown_session, unknown_token, not_found, no_license, no_cal_available, allocation_refused, not_quarantined,
maintenance, idempotency_conflict, backup_invalid, store_unavailable, unauthorized, forbidden,
too_many_requests, internal_error, and the license checks: invalid_serial, control_number_mismatch,
lef_malformed, lef_unknown_key, lef_signature_invalid, lef_serial_mismatch, lef_no_named_cal,
lef_wrong_product, lef_maintenance_expired, license_expired; and fetching the LEF from the license
authority: serial_not_found (422), authority_not_configured (422), authority_unreachable and
authority_error (502).
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

log = logging.getLogger("calkeeper.api")

STATUS: list[tuple[type[e.CalkeeperError], int]] = [
    (e.StoreUnavailable, 503),
    (e.AuthorityUnavailable, 502),
    (e.InMaintenance, 503),
    (e.InvalidInput, 422),
    (e.LicenseRejected, 422),
    (e.BackupError, 422),
    (e.NotFound, 404),
    (e.Refused, 409),
]


class ApiError(Exception):
    """An error of the HTTP edge itself (authentication, roles, throttling)."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details}}


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable, for programs: one of the codes listed in the API's error documentation")
    message: str = Field(description="For people: what went wrong, in an admin's words")
    details: Any = Field(None, description="More about the error when there is more, e.g. each invalid entry")


class ErrorBody(BaseModel):
    """The one error shape."""

    error: ErrorDetail


WHEN = {
    400: "The body could not be read",
    401: "No valid API token: send 'Authorization: Bearer <token>'",
    403: "The token's role may not do this",
    404: "Something named in the request does not exist",
    409: "A licensing rule refused it, or the Idempotency-Key was used for another request",
    422: "The request, or a value in it, is not valid",
    429: "Too many bad API tokens from this address",
    502: "The license authority cannot be reached or answers badly",
    503: "The database cannot be reached, or CAL data is being cleared",
}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the errors an operation can answer, all in the one error shape."""
    return {status: {"model": ErrorBody, "description": WHEN[status]} for status in statuses}


def status_of(error: e.CalkeeperError) -> int:
    for kind, status in STATUS:
        if isinstance(error, kind):
            return status
    return 400


def install(app: FastAPI) -> None:
    """Register the handlers that give every error the one shape."""

    @app.exception_handler(e.CalkeeperError)
    async def _domain(_: Request, error: e.CalkeeperError) -> JSONResponse:
        headers = {"Retry-After": "1"} if isinstance(error, e.StoreUnavailable | e.InMaintenance) else None
        return JSONResponse(body(error.code, error.message, error.details), status_of(error), headers=headers)

    @app.exception_handler(ApiError)
    async def _api(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(body(error.code, error.message), error.status, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in d["loc"]), "problem": d["msg"]} for d in error.errors()]
        summary = "; ".join(f"{p['where']}: {p['problem']}" for p in problems)
        return JSONResponse(body("invalid_request", f"the request is not valid: {summary}", problems), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}  # 400: a body that is not text
        code = codes.get(error.status_code, "http_error")
        return JSONResponse(body(code, str(error.detail)), error.status_code, headers=getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse(body("internal_error", "an unexpected error occurred; it has been logged"), 500)
