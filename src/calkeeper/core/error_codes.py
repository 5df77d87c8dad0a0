"""Every stable error code calkeeper answers, in one table: its class, its HTTP status, its CLI exit code.

    class                       HTTP exit codes
    CalkeeperError               400  1   error, bad_response (client), no_signing_key (authority)
    │                            405  1   method_not_allowed
    │                            500  1   internal_error
    ├── InvalidInput             422  2   invalid_input, invalid_request, authority_not_configured,
    │   │                                 serial_taken, no_named_cal, invalid_key (authority),
    │   │                                 token_name_taken, ambiguous_token, weak_password
    │   │                        413  2   backup_too_large, body_too_large
    │   │                        431  2   headers_too_large
    │   │                        400  2   untrusted_host
    │   └── InvalidUsers         422  2   invalid_user
    ├── NotFound                 404  2   not_found, unknown_token, unknown_key, unknown_site (authority),
    │   │                                 unknown_console_user, unknown_lease
    │   ├── UnknownDocument      404  2   unknown_document
    │   ├── UnknownUser          404  2   unknown_user
    │   ├── UnknownGroup         404  2   unknown_group
    │   └── UnknownSession       404  2   unknown_session
    ├── Refused                  409  1   refused, last_console_admin
    │   ├── LicenseRejected      422  1   license_rejected, serial_not_found,
    │   │                                 (the license checks:) invalid_serial, control_number_mismatch, lef_malformed,
    │   │                                 lef_unknown_key, lef_signature_invalid, lef_serial_mismatch,
    │   │                                 lef_no_named_cal, lef_wrong_product, lef_maintenance_expired,
    │   │                                 license_expired, lef_owner_mismatch
    │   ├── NoLicense            409  1   no_license
    │   ├── NoCalAvailable       409  1   no_cal_available
    │   ├── AllocationRefused    409  1   allocation_refused
    │   ├── NotQuarantined       409  1   not_quarantined
    │   ├── InMaintenance        503  1   maintenance
    │   ├── LeaseRefused         409  1   lease_refused, lease_not_allowed, lease_not_licensed, lease_key_not_vouched,
    │   │                                 lease_no_named_cal, lease_machines_full, lease_revoked
    │   └── IdempotencyConflict  409  1   idempotency_conflict
    ├── BackupError              422  1   backup_invalid, backup_over_license
    ├── LeaseInvalid             422  1   lease_invalid, lease_missing, lease_malformed, lease_signature_invalid,
    │                                     lease_lef_untrusted, lease_lef_no_key, lease_other_machine, lease_future,
    │                                     lease_expired, lease_clock_set_back (the desktop client's offline check)
    ├── AuthorityUnavailable     502  1   authority_unreachable, authority_error
    ├── DirectoryUnavailable     502  1   directory_unreachable, directory_tls_failed, directory_bind_failed,
    │                                     directory_base_not_found
    ├── StoreUnavailable         503  1   store_unavailable
    │   └── ServerUnavailable    503  1   server_unavailable (client)
    ├── ApiAuthError             401  1   unauthorized
    │                            403  1   forbidden
    │                            429  1   too_many_requests
    └── SignInRefused            401  1   sign_in_refused (console)
                                 429  1   too_many_sign_ins (console), too_many_lease_requests (desktop)
                                 503  1   directory_sign_in_unavailable (console: the directory cannot be asked)

Exit codes: 0 done, 1 refused by a rule (or anything else that went wrong), 2 bad usage or bad input.

The edges read this table and nothing else:

- the HTTP handlers (``calkeeper.infra.http_errors``, the CAL server's API and the license
  authority's) answer ``status_of(error)``, and the HTTP edge's own errors (a missing token, a role
  that may not, too many failures) take ``status_for(code)``;
- the CLI exits with ``exit_code_of(error)``;
- the client rebuilds ``class_for(code, status)`` from an error answer, so ``except NoLicense``
  works the same against a local site and a remote one.

An error is answered by its code's row when it is of that row's class, otherwise by its class's own
row: the authority answers ``serial_not_found`` as NotFound (404, where the CAL server's
LicenseRejected answers 422), and a LicenseRejected raised as ``invalid_input`` stays a refusal
(exit 1). ``tests/unit/test_error_table.py`` checks that every code raised in the source is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from calkeeper.core import errors as e

EXIT_REFUSED = 1
EXIT_USAGE = 2


@dataclass(frozen=True)
class ErrorCode:
    """One row: a stable code, the class that carries it, and how each edge answers it."""

    code: str
    kind: type[e.CalkeeperError]
    status: int
    exit_code: int


def _rows(kind: type[e.CalkeeperError], status: int, exit_code: int, *codes: str) -> list[ErrorCode]:
    return [ErrorCode(code, kind, status, exit_code) for code in codes]


LICENSE_CHECKS = (
    "invalid_serial", "control_number_mismatch", "lef_malformed", "lef_unknown_key", "lef_signature_invalid",
    "lef_serial_mismatch", "lef_no_named_cal", "lef_wrong_product", "lef_maintenance_expired", "license_expired",
    "lef_owner_mismatch",
)

# In the order of the tree above; each class's own code comes first in its rows.
TABLE: tuple[ErrorCode, ...] = (
    *_rows(e.CalkeeperError, 400, EXIT_REFUSED, "error", "bad_response", "no_signing_key"),
    *_rows(e.CalkeeperError, 405, EXIT_REFUSED, "method_not_allowed"),
    *_rows(e.CalkeeperError, 500, EXIT_REFUSED, "internal_error"),
    *_rows(e.InvalidInput, 422, EXIT_USAGE, "invalid_input", "invalid_request", "authority_not_configured",
           "serial_taken", "no_named_cal", "invalid_key"),
    *_rows(e.InvalidInput, 422, EXIT_USAGE, "token_name_taken", "ambiguous_token", "weak_password"),
    *_rows(e.InvalidInput, 413, EXIT_USAGE, "backup_too_large", "body_too_large"),
    *_rows(e.InvalidInput, 431, EXIT_USAGE, "headers_too_large"),
    *_rows(e.InvalidInput, 400, EXIT_USAGE, "untrusted_host"),
    *_rows(e.InvalidUsers, 422, EXIT_USAGE, "invalid_user"),
    *_rows(e.NotFound, 404, EXIT_USAGE, "not_found", "unknown_token", "unknown_key", "unknown_site",
           "unknown_console_user", "unknown_lease"),
    *_rows(e.UnknownDocument, 404, EXIT_USAGE, "unknown_document"),
    *_rows(e.UnknownUser, 404, EXIT_USAGE, "unknown_user"),
    *_rows(e.UnknownGroup, 404, EXIT_USAGE, "unknown_group"),
    *_rows(e.UnknownSession, 404, EXIT_USAGE, "unknown_session"),
    *_rows(e.Refused, 409, EXIT_REFUSED, "refused", "last_console_admin"),
    *_rows(e.LicenseRejected, 422, EXIT_REFUSED, "license_rejected", "serial_not_found", *LICENSE_CHECKS),
    *_rows(e.NoLicense, 409, EXIT_REFUSED, "no_license"),
    *_rows(e.NoCalAvailable, 409, EXIT_REFUSED, "no_cal_available"),
    *_rows(e.AllocationRefused, 409, EXIT_REFUSED, "allocation_refused"),
    *_rows(e.NotQuarantined, 409, EXIT_REFUSED, "not_quarantined"),
    *_rows(e.InMaintenance, 503, EXIT_REFUSED, "maintenance"),
    *_rows(e.IdempotencyConflict, 409, EXIT_REFUSED, "idempotency_conflict"),
    *_rows(e.LeaseRefused, 409, EXIT_REFUSED, "lease_refused", "lease_not_allowed", "lease_not_licensed",
           "lease_key_not_vouched", "lease_no_named_cal", "lease_machines_full", "lease_revoked"),
    *_rows(e.BackupError, 422, EXIT_REFUSED, "backup_invalid", "backup_over_license"),
    *_rows(e.LeaseInvalid, 422, EXIT_REFUSED, "lease_invalid", "lease_missing", "lease_malformed",
           "lease_signature_invalid", "lease_lef_untrusted", "lease_lef_no_key", "lease_other_machine", "lease_future",
           "lease_expired", "lease_clock_set_back"),
    *_rows(e.AuthorityUnavailable, 502, EXIT_REFUSED, "authority_unreachable", "authority_error"),
    *_rows(e.DirectoryUnavailable, 502, EXIT_REFUSED, "directory_unreachable", "directory_tls_failed",
           "directory_bind_failed", "directory_base_not_found"),
    *_rows(e.StoreUnavailable, 503, EXIT_REFUSED, "store_unavailable"),
    *_rows(e.ServerUnavailable, 503, EXIT_REFUSED, "server_unavailable"),
    *_rows(e.ApiAuthError, 401, EXIT_REFUSED, "unauthorized"),
    *_rows(e.ApiAuthError, 403, EXIT_REFUSED, "forbidden"),
    *_rows(e.ApiAuthError, 429, EXIT_REFUSED, "too_many_requests"),
    *_rows(e.SignInRefused, 401, EXIT_REFUSED, "sign_in_refused"),
    *_rows(e.SignInRefused, 429, EXIT_REFUSED, "too_many_sign_ins", "too_many_lease_requests"),
    *_rows(e.SignInRefused, 503, EXIT_REFUSED, "directory_sign_in_unavailable"),
)

BY_CODE: dict[str, ErrorCode] = {row.code: row for row in TABLE}
_OWN_ROW: dict[type[e.CalkeeperError], ErrorCode] = {row.kind: row for row in TABLE if row.code == row.kind.code}

# A code this table does not know (from a newer server) is rebuilt by the client from its status.
FALLBACK_BY_STATUS: dict[int, type[e.CalkeeperError]] = {
    401: e.ApiAuthError, 403: e.ApiAuthError, 429: e.ApiAuthError, 404: e.NotFound, 409: e.Refused,
    422: e.InvalidInput, 503: e.StoreUnavailable,
}

# What each status means to a caller, for the API's documentation (OpenAPI).
HTTP_STATUS_MEANING: dict[int, str] = {
    400: "The body could not be read, or the request's host name is not one the server answers to",
    401: "No valid API token: send 'Authorization: Bearer <token>'",
    403: "The token's role may not do this",
    404: "Something named in the request does not exist",
    405: "The method is not allowed on this path",
    409: "A licensing rule refused it, or the Idempotency-Key was used for another request",
    413: "The body is larger than this endpoint takes",
    431: "The request's headers are larger than the server takes",
    422: "The request, or a value in it, is not valid",
    429: "Too many bad API tokens from this address",
    500: "An unexpected error; it has been logged",
    502: "The license authority or the site's directory cannot be reached or answers badly",
    503: "The database cannot be reached, or CAL data is being cleared",
}


def row_of(error: e.CalkeeperError) -> ErrorCode:
    """The row that says how an error is answered: its code's if it is of that row's class, else its class's."""
    row = BY_CODE.get(error.code)
    if row is not None and isinstance(error, row.kind):
        return row
    for kind in type(error).__mro__:
        if kind in _OWN_ROW:
            return _OWN_ROW[kind]
    return BY_CODE[e.CalkeeperError.code]


def status_of(error: e.CalkeeperError) -> int:
    """The HTTP status an error is answered with."""
    return row_of(error).status


def exit_code_of(error: e.CalkeeperError) -> int:
    """The exit code the CLI ends with when a command fails with this error."""
    return row_of(error).exit_code


def status_for(code: str) -> int:
    """The HTTP status of a code the HTTP edge answers by itself (``unauthorized``, ``invalid_request``...)."""
    return BY_CODE[code].status


def class_for(code: str, status: int) -> type[e.CalkeeperError]:
    """The class a client rebuilds from an error answer: its code's, or for an unknown code, its status's."""
    row = BY_CODE.get(code)
    if row is not None:
        return row.kind
    return FALLBACK_BY_STATUS.get(status, e.CalkeeperError)
