"""Every error calkeeper raises on purpose, in one tree.

    CalkeeperError                 (code, message in the admin's words, details)
    ├── InvalidInput               bad usage: malformed names, negative numbers
    │   ├── InvalidUsers           a ';' list with invalid entries (each one named)
    ├── NotFound
    │   ├── UnknownDocument
    │   ├── UnknownUser            no CAL of that kind for the user
    │   ├── UnknownGroup           no group of the directory has that name
    │   └── UnknownSession
    ├── Refused                    a licensing rule says no
    │   ├── LicenseRejected        a license that cannot be applied (which check failed is the code)
    │   ├── NoLicense              no license is in force
    │   ├── NoCalAvailable         a pool or a document's allocation is exhausted
    │   ├── AllocationRefused      a document allocation outside its bounds
    │   ├── NotQuarantined         restore of a CAL that is not marked for removal
    │   ├── InMaintenance          the CAL server is clearing or restoring CAL data
    │   ├── LeaseRefused           a license lease for the desktop client that the server does not grant
    │   └── IdempotencyConflict    an Idempotency-Key reused for another request, or still in progress
    ├── BackupError                a backup file that cannot be read, written or restored
    ├── LeaseInvalid               (desktop client) a stored lease that fails the offline check
    ├── AuthorityUnavailable       the license authority cannot be reached, is too slow, or answers badly
    ├── DirectoryUnavailable       the directory cannot be asked: unreachable, TLS, its own credentials, its base
    ├── StoreUnavailable           the database cannot be reached
    │   └── ServerUnavailable      (client) the CAL server cannot be reached, or did not answer in time
    ├── ApiAuthError               (client) the server refused the caller's token or its role
    └── SignInRefused              (console) a user name or password that is not right, or too many of them

The edges turn these into HTTP statuses, CLI exit codes and console messages, all read from one
table, ``calkeeper.core.error_codes``; nothing below the edges formats errors for a user.
"""

from __future__ import annotations

from typing import Any


class CalkeeperError(Exception):
    """Base of every deliberate error: a stable code and a message an admin can act on."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details


class InvalidInput(CalkeeperError):
    code = "invalid_input"


class InvalidUsers(InvalidInput):
    code = "invalid_user"


class NotFound(CalkeeperError):
    code = "not_found"


class UnknownDocument(NotFound):
    code = "unknown_document"


class UnknownUser(NotFound):
    code = "unknown_user"


class UnknownGroup(NotFound):
    code = "unknown_group"


class UnknownSession(NotFound):
    code = "unknown_session"


class Refused(CalkeeperError):
    code = "refused"


class LicenseRejected(Refused):
    """A license that cannot be applied; ``code`` names the check that failed."""

    code = "license_rejected"


class NoLicense(Refused):
    code = "no_license"


class NoCalAvailable(Refused):
    code = "no_cal_available"


class AllocationRefused(Refused):
    code = "allocation_refused"


class NotQuarantined(Refused):
    code = "not_quarantined"


class InMaintenance(Refused):
    code = "maintenance"


class IdempotencyConflict(Refused):
    code = "idempotency_conflict"


class LeaseRefused(Refused):
    """The server grants no lease: leasing off, no Named CAL, two machines already, a revoked lease..."""

    code = "lease_refused"


class BackupError(CalkeeperError):
    code = "backup_invalid"


class LeaseInvalid(CalkeeperError):
    """The desktop client's offline check of a lease failed; the code says which check (``lease_expired``...)."""

    code = "lease_invalid"


class AuthorityUnavailable(CalkeeperError):
    """The license authority could not be asked: ``authority_unreachable`` or ``authority_error``."""

    code = "authority_unreachable"


class DirectoryUnavailable(CalkeeperError):
    """The directory could not be asked: ``directory_unreachable`` (down, too slow), ``directory_tls_failed``,
    ``directory_bind_failed`` (calkeeper's own bind DN or password is refused) or ``directory_base_not_found``.

    A user's wrong password is not this error: that is a sign-in refused. The message never holds a password.
    """

    code = "directory_unreachable"


class StoreUnavailable(CalkeeperError):
    code = "store_unavailable"


class ServerUnavailable(StoreUnavailable):
    """The CAL server cannot be reached, or did not answer in time."""

    code = "server_unavailable"


class ApiAuthError(CalkeeperError):
    """The server refused the caller: no token, a wrong or revoked one, or a role that may not do this."""

    code = "unauthorized"


class SignInRefused(CalkeeperError):
    """The console's sign-in: the user name or the password is not right (``sign_in_refused``), or too many
    sign-ins failed lately for that name or from that address (``too_many_sign_ins``).

    ``hold_seconds``: how long the edge holds the answer back, so that guess after guess is slow.
    """

    code = "sign_in_refused"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None,
                 hold_seconds: float = 0.0) -> None:
        super().__init__(message, code=code, details=details)
        self.hold_seconds = hold_seconds
