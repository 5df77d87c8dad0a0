"""``RemoteSite``: the CLI's view of a CAL server over its REST API (``calkeeper --server URL --token T``).

It has the method names, arguments and return values of ``calkeeper.Site`` that the commands use, so a
command runs the same against a local data dir or a remote server. The server records the token's
name as the actor, so ``actor`` arguments are accepted and not sent.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from calkeeper.client import CalkeeperClient
from calkeeper.contract.views import (
    AssignedCal,
    AssignOutcome,
    AuditView,
    CalOverview,
    CalPage,
    CalSettings,
    ClearOutcome,
    DocumentView,
    LicenseChange,
    LicenseUpdate,
    LicenseView,
    RemovalOutcome,
    SessionEnd,
    UserCals,
)
from calkeeper.core.cals import Decision
from calkeeper.core.errors import CalkeeperError, InvalidInput, InvalidUsers, LocalOnly, NoLicense
from calkeeper.core.identities import parse_identity_list

T = TypeVar("T")


def _names(users: str | list[str]) -> list[str]:
    """The entries of a ';' list (or a list), blanks and repeats (case-insensitive) left out."""
    raw = users.split(";") if isinstance(users, str) else [e for item in users for e in item.split(";")]
    names: dict[str, str] = {}
    for entry in raw:
        if entry.strip():
            names.setdefault(entry.strip().casefold(), entry.strip())
    if not names:
        raise InvalidUsers("nothing was applied: the list has no names", details=[])
    return list(names.values())


def _one_by_one(names: list[str], run: Callable[[str], T], done: str) -> list[T]:
    """Run a one-user endpoint for each name; when one fails, say which ones were already done."""
    results: list[T] = []
    for name in names:
        try:
            results.append(run(name))
        except CalkeeperError as error:
            if not results:
                raise
            kind = type(error)
            # The server answers for this user alone: the ones before it in the list stay changed.
            note = f"; earlier in the list, already {done}: {', '.join(names[:len(results)])}"
            raise kind(error.message + note, code=error.code, details=error.details) from None
    return results


class RemoteSite:
    """The use cases the CLI needs, run by a CAL server over HTTP."""

    def __init__(self, server: str, token: str, *, timeout: float = 30.0) -> None:
        self.server = server
        self.client = CalkeeperClient(server, token, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    # License
    def license(self) -> LicenseView | None:
        try:
            return self.client.license()
        except NoLicense:
            return None

    def apply_license(self, *, serial: str, control: str, owner: str, organization: str, lef: str | None = None,
                      actor: str | None = None) -> LicenseView:
        return self.client.apply_license(serial=serial, control=control, owner=owner, organization=organization,
                                         lef=lef)

    def update_license(self, *, actor: str | None = None) -> LicenseUpdate:
        return self.client.update_license()

    def license_history(self) -> list[LicenseChange]:
        return self.client.license_history()

    # CAL pools, settings, Named CALs
    def cal_overview(self) -> CalOverview:
        return self.client.cal_overview()

    def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                            allow_license_lease: bool | None = None, identification_mode: str | None = None,
                            actor: str | None = None) -> CalSettings:
        return self.client.update_cal_settings(allow_dynamic_assignment=allow_dynamic_assignment,
                                               allow_license_lease=allow_license_lease,
                                               identification_mode=identification_mode)

    def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "") -> CalPage:
        return self.client.list_named_cals(after=after, limit=limit, search=search)

    def assign_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        return self.client.assign_named_cals(users)

    def _checked_named(self, users: str | list[str]) -> list[str]:
        # The API removes and restores one user per request: check the whole list first, as the
        # local site does, so that an invalid entry changes nothing.
        names = _names(users)
        if len(names) > 1:
            parse_identity_list(names, kind=self.client.cal_overview().settings.identification_mode)
        return names

    def remove_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[RemovalOutcome]:
        return _one_by_one(self._checked_named(users), self.client.remove_named_cal, "removed")

    def restore_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        return _one_by_one(self._checked_named(users), self.client.restore_named_cal, "restored")

    # Documents and Document CALs
    def list_documents(self, *, scan: bool = True) -> list[DocumentView]:
        return self.client.list_documents()

    def document(self, document: str) -> DocumentView:
        return self.client.document(document)

    def set_document_allocation(self, document: str, cals: int, *, actor: str | None = None) -> DocumentView:
        return self.client.update_document(document, cals_allocated=cals)

    def set_document_dynamic(self, document: str, allow: bool, *, actor: str | None = None) -> DocumentView:
        return self.client.update_document(document, allow_dynamic_assignment=allow)

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        return self.client.list_document_cals(document)

    def assign_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[AssignOutcome]:
        return self.client.assign_document_cals(document, users)

    def _checked_users(self, users: str | list[str]) -> list[str]:
        names = _names(users)
        parse_identity_list(names)
        return names

    def remove_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[RemovalOutcome]:
        return _one_by_one(self._checked_users(users), lambda u: self.client.remove_document_cal(document, u),
                           "removed")

    def restore_document_cals(self, document: str, users: str | list[str], *,
                              actor: str | None = None) -> list[AssignOutcome]:
        return _one_by_one(self._checked_users(users), lambda u: self.client.restore_document_cal(document, u),
                           "restored")

    def release_missing_document(self, document: str, *, actor: str | None = None) -> dict[str, Any]:
        raise LocalOnly(f"'calkeeper doc release' runs only against a local data dir (--data-dir or --db): the "
                        f"REST API has no endpoint for it, so it cannot run against --server {self.server}")

    # The access gate and users
    def open_document(self, user: str | None, document: str, *, machine: str | None = None,
                      client: str = "ajax") -> Decision:
        return self.client.access(user, document, machine, str(client)).decision()

    def close_session(self, session_id: str) -> SessionEnd:
        return self.client.end_session(session_id)

    def user_cals(self, user: str) -> UserCals:
        return self.client.user_cals(user)

    # Maintenance
    def clear_cal_data(self, *, backup_to: str | Path | None = None, actor: str | None = None) -> ClearOutcome:
        """Clear CAL data on the server; the server writes the backup in its own backups folder."""
        if backup_to is not None:
            raise InvalidInput("the server writes its backup in its own backups folder; a backup file on this "
                               "machine can be named only for a local data dir")
        return self.client.clear_cal_data()

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        return self.client.audit(limit=limit, action=action, target=target)

    def denials(self, *, limit: int = 100) -> list[dict[str, Any]]:
        return self.client.denials(limit=limit)
