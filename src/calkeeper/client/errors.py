"""The server's error JSON turned back into calkeeper errors, and the client's own two errors."""

from __future__ import annotations

import httpx

from calkeeper.core import errors as e


class ApiAuthError(e.CalkeeperError):
    """The server refused the caller: no token, a wrong or revoked one, or a role that may not do this."""

    code = "unauthorized"


class ServerUnavailable(e.StoreUnavailable):
    """The CAL server cannot be reached, or did not answer in time."""

    code = "server_unavailable"


_BY_CODE: dict[str, type[e.CalkeeperError]] = {
    "invalid_input": e.InvalidInput, "invalid_request": e.InvalidInput, "invalid_user": e.InvalidUsers,
    "not_found": e.NotFound, "unknown_document": e.UnknownDocument, "unknown_user": e.UnknownUser,
    "unknown_session": e.UnknownSession, "unknown_token": e.NotFound,
    "no_license": e.NoLicense, "no_cal_available": e.NoCalAvailable, "allocation_refused": e.AllocationRefused,
    "not_quarantined": e.NotQuarantined, "maintenance": e.InMaintenance,
    "idempotency_conflict": e.IdempotencyConflict, "backup_invalid": e.BackupError,
    "backup_too_large": e.InvalidInput,
    "store_unavailable": e.StoreUnavailable,
    "authority_unreachable": e.AuthorityUnavailable, "authority_error": e.AuthorityUnavailable,
    "unauthorized": ApiAuthError, "forbidden": ApiAuthError, "too_many_requests": ApiAuthError,
}
LICENSE_CHECKS = frozenset({
    "license_rejected", "invalid_serial", "control_number_mismatch", "lef_malformed", "lef_unknown_key",
    "lef_signature_invalid", "lef_serial_mismatch", "lef_no_named_cal", "lef_wrong_product",
    "lef_maintenance_expired", "license_expired",
})
_BY_STATUS: dict[int, type[e.CalkeeperError]] = {
    401: ApiAuthError, 403: ApiAuthError, 429: ApiAuthError, 404: e.NotFound, 409: e.Refused,
    422: e.InvalidInput, 503: e.StoreUnavailable,
}


def error_from_response(response: httpx.Response) -> e.CalkeeperError:
    """The calkeeper error an error answer stands for, with the server's code, message and details."""
    where = str(response.request.url)
    try:
        error = response.json()["error"]
        code, message, details = str(error["code"]), str(error["message"]), error.get("details")
    except (ValueError, KeyError, TypeError):
        if response.status_code in {502, 503, 504}:
            return ServerUnavailable(f"the calkeeper server behind {where} is not available "
                                     f"(HTTP {response.status_code})")
        return e.CalkeeperError(f"{where} answered HTTP {response.status_code} without calkeeper's error JSON; "
                                "is the server URL right?", code="bad_response")
    kind = _BY_CODE.get(code) or (e.LicenseRejected if code in LICENSE_CHECKS else None)
    kind = kind or _BY_STATUS.get(response.status_code, e.CalkeeperError)
    return kind(message, code=code, details=details)
