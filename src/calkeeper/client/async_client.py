"""``AsyncCalkeeperClient``: the methods of ``CalkeeperClient``, awaitable, on one ``httpx.AsyncClient``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import httpx

from calkeeper.client.base import ClientBase, read_file, read_upload, saving
from calkeeper.client.calls import AccessResult, Call, Calls
from calkeeper.client.errors import error_from_response
from calkeeper.contract.views import (
    AlertDeliveryView,
    AlertsView,
    AssignedCal,
    AssignOutcome,
    AuditView,
    CalImport,
    CalOverview,
    CalPage,
    CalSettings,
    ClearOutcome,
    ConsoleUserView,
    DenialView,
    DirectoryImport,
    DocumentView,
    GroupAssignment,
    GroupRuleView,
    LeaseView,
    LicenseChange,
    LicenseUpdate,
    LicenseView,
    LiveSessionView,
    ReclaimReport,
    ReleaseOutcome,
    RemovalOutcome,
    ReportView,
    SessionEnd,
    SessionTouch,
    SyncReport,
    TokenView,
    UserCals,
)
from calkeeper.core.directory import DirectoryCheck, DirectoryEntry
from calkeeper.core.documents import DocumentProblem


class AsyncCalkeeperClient(ClientBase):
    """The same methods as CalkeeperClient, awaitable, on one httpx.AsyncClient; ``async with`` or aclose() it."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        super().__init__(base_url, token, timeout)
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers, timeout=timeout,
                                       transport=transport)

    async def _run(self, call: Call) -> Any:
        try:
            response = await self._http.request(**self._request(call))
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        return self._read(call, response)

    async def _download(self, call: Call, target: Path) -> Any:
        try:
            async with self._http.stream(**self._request(call)) as response:
                if response.is_error:
                    await response.aread()
                    raise error_from_response(response)
                with saving(target) as file:  # local disk writes of a backup: brief, left on the loop's thread
                    async for chunk in response.aiter_bytes():
                        file.write(chunk)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        return self._parse(call, response, lambda: (target, response.headers))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncCalkeeperClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()

    async def access(self, user: str | None, document: str, machine: str | None = None, client: str = "ajax", *,
                     idempotency_key: str | None = None) -> AccessResult:
        return await self._run(Calls.access(user, document, machine, client, idempotency_key))

    async def end_session(self, session_id: str, *, idempotency_key: str | None = None) -> SessionEnd:
        return await self._run(Calls.end_session(session_id, idempotency_key))

    async def touch_session(self, session_id: str) -> SessionTouch:
        """A session's heartbeat: send one every few minutes while the user works; ``active`` false means end it."""
        return await self._run(Calls.touch_session(session_id))

    async def license(self) -> LicenseView:
        return await self._run(Calls.license())

    async def apply_license(self, *, serial: str, control: str, owner: str, organization: str,
                            lef: str | None = None) -> LicenseView:
        return await self._run(Calls.apply_license(serial, control, owner, organization, lef))

    async def update_license(self, *, idempotency_key: str | None = None) -> LicenseUpdate:
        return await self._run(Calls.update_license(idempotency_key))

    async def license_history(self) -> list[LicenseChange]:
        return await self._run(Calls.license_history())

    async def cal_overview(self) -> CalOverview:
        return await self._run(Calls.cal_overview())

    async def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                                  allow_license_lease: bool | None = None,
                                  identification_mode: str | None = None) -> CalSettings:
        return await self._run(Calls.update_cal_settings(allow_dynamic_assignment, allow_license_lease,
                                                          identification_mode))

    async def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "") -> CalPage:
        return await self._run(Calls.list_named_cals(after, limit, search))

    async def assign_named_cals(self, users: str | list[str], *,
                                idempotency_key: str | None = None) -> list[AssignOutcome]:
        return await self._run(Calls.assign_named_cals(users, idempotency_key))

    async def remove_named_cal(self, user: str) -> RemovalOutcome:
        return await self._run(Calls.remove_named_cal(user))

    async def restore_named_cal(self, user: str, *, idempotency_key: str | None = None) -> AssignOutcome:
        return await self._run(Calls.restore_named_cal(user, idempotency_key))

    async def remove_named_cals(self, users: str | list[str], *,
                                idempotency_key: str | None = None) -> list[RemovalOutcome]:
        return await self._run(Calls.remove_named_cals(users, idempotency_key))

    async def restore_named_cals(self, users: str | list[str], *,
                                 idempotency_key: str | None = None) -> list[AssignOutcome]:
        return await self._run(Calls.restore_named_cals(users, idempotency_key))

    async def list_documents(self) -> list[DocumentView]:
        return await self._run(Calls.list_documents())

    async def document_problems(self) -> list[DocumentProblem]:
        return await self._run(Calls.document_problems())

    async def document(self, document: str) -> DocumentView:
        return await self._run(Calls.document(document))

    async def update_document(self, document: str, *, cals_allocated: int | None = None,
                              allow_dynamic_assignment: bool | None = None) -> DocumentView:
        return await self._run(Calls.update_document(document, cals_allocated, allow_dynamic_assignment))

    async def list_document_cals(self, document: str) -> list[AssignedCal]:
        return await self._run(Calls.list_document_cals(document))

    async def assign_document_cals(self, document: str, users: str | list[str], *,
                                   idempotency_key: str | None = None) -> list[AssignOutcome]:
        return await self._run(Calls.assign_document_cals(document, users, idempotency_key))

    async def remove_document_cal(self, document: str, user: str) -> RemovalOutcome:
        return await self._run(Calls.remove_document_cal(document, user))

    async def restore_document_cal(self, document: str, user: str, *,
                                   idempotency_key: str | None = None) -> AssignOutcome:
        return await self._run(Calls.restore_document_cal(document, user, idempotency_key))

    async def remove_document_cals(self, document: str, users: str | list[str], *,
                                   idempotency_key: str | None = None) -> list[RemovalOutcome]:
        return await self._run(Calls.remove_document_cals(document, users, idempotency_key))

    async def restore_document_cals(self, document: str, users: str | list[str], *,
                                    idempotency_key: str | None = None) -> list[AssignOutcome]:
        return await self._run(Calls.restore_document_cals(document, users, idempotency_key))

    async def user_cals(self, user: str) -> UserCals:
        return await self._run(Calls.user_cals(user))

    async def clear_cal_data(self, *, idempotency_key: str | None = None) -> ClearOutcome:
        return await self._run(Calls.clear_cal_data(idempotency_key))

    async def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        return await self._run(Calls.audit(limit, action, target))

    async def denials(self, *, limit: int = 100) -> list[DenialView]:
        return await self._run(Calls.denials(limit))

    async def release_document(self, document: str, *, idempotency_key: str | None = None) -> ReleaseOutcome:
        return await self._run(Calls.release_document(document, idempotency_key))

    async def backup(self, path: str | Path) -> dict[str, int]:
        return await self._download(Calls.backup(), Path(path))

    async def restore(self, path: str | Path) -> dict[str, int]:
        return await self._run(Calls.restore(read_upload(Path(path))))

    async def export_cals(self, path: str | Path, *, format: str = "csv") -> int:
        return await self._download(Calls.export_cals(format), Path(path))

    async def import_cals(self, path: str | Path) -> CalImport:
        return await self._run(Calls.import_cals(read_file(Path(path))))

    async def create_token(self, *, name: str, role: str) -> tuple[TokenView, str]:
        return await self._run(Calls.create_token(name, role))

    async def revoke_token(self, name: str = "", *, token_id: int | None = None) -> list[TokenView]:
        return await self._run(Calls.revoke_token(name, token_id))

    async def list_tokens(self) -> list[TokenView]:
        return await self._run(Calls.list_tokens())

    async def create_console_user(self, *, username: str, password: str, role: str,
                                  replace: bool = False) -> ConsoleUserView:
        return await self._run(Calls.create_console_user(username, password, role, replace))

    async def list_console_users(self) -> list[ConsoleUserView]:
        return await self._run(Calls.list_console_users())

    async def disable_console_user(self, username: str) -> ConsoleUserView:
        return await self._run(Calls.disable_console_user(username))

    async def enable_console_user(self, username: str) -> ConsoleUserView:
        return await self._run(Calls.enable_console_user(username))

    async def delete_console_user(self, username: str) -> ConsoleUserView:
        return await self._run(Calls.delete_console_user(username))

    async def end_console_sessions(self, username: str) -> int:
        return await self._run(Calls.end_console_sessions(username))

    # -- the site's directory ----------------------------------------------------------------------------

    async def directory_test(self) -> DirectoryCheck:
        """Connect, bind and search the site's directory."""
        return await self._run(Calls.directory_test())

    async def search_directory(self, text: str = "", *, kind: str = "user", limit: int = 50) -> list[DirectoryEntry]:
        """Users (or groups, with member counts) of the directory whose name contains the text."""
        return await self._run(Calls.search_directory(text, kind, limit))

    async def assign_group(self, group: str, *, document: str | None = None,
                     all_or_nothing: bool = False) -> GroupAssignment:
        """Give every member of a group a Named CAL (or a Document CAL for ``document``) once."""
        return await self._run(Calls.assign_group(group, document, all_or_nothing))

    async def list_group_rules(self) -> list[GroupRuleView]:
        """The group rules."""
        return await self._run(Calls.list_group_rules())

    async def add_group_rule(self, group: str, *, document: str | None = None) -> GroupRuleView:
        """Add a group rule."""
        return await self._run(Calls.add_group_rule(group, document))

    async def remove_group_rule(self, rule_id: int) -> GroupRuleView:
        """Remove a group rule; the CALs it gave stay."""
        return await self._run(Calls.remove_group_rule(rule_id))

    async def list_leases(self, *, user: str = "", machine: str = "", state: str = "all",
                      limit: int = 100) -> list[LeaseView]:
        """The lease history, newest first (``state``: all, live or ended)."""
        return await self._run(Calls.list_leases(user, machine, state, limit))

    async def end_lease(self, lease_id: str) -> LeaseView:
        """End one machine's lease, freeing its place."""
        return await self._run(Calls.end_lease(lease_id))

    async def revoke_leases(self, user: str) -> list[LeaseView]:
        """Revoke a user's leases."""
        return await self._run(Calls.revoke_leases(user))

    async def sync_directory(self, *, dry_run: bool = False) -> SyncReport:
        """Sync the group rules with the directory (``dry_run``: only say what it would do)."""
        return await self._run(Calls.sync_directory(dry_run))

    async def import_directory_users(self, csv_text: str) -> DirectoryImport:
        """Add or replace built-in directory users from CSV text; all or nothing."""
        return await self._run(Calls.import_directory_users(csv_text))

    # -- operations ----------------------------------------------------------------------------------------

    async def list_sessions(self, *, search: str = "", cal_type: str = "", node: str = "",
                            limit: int = 1000) -> list[LiveSessionView]:
        return await self._run(Calls.list_sessions(search, cal_type, node, limit))

    async def end_live_session(self, session_id: str) -> SessionEnd:
        return await self._run(Calls.end_live_session(session_id))

    async def report(self, report: str, *, start: date | None = None, end: date | None = None,
                     by: str = "type") -> ReportView:
        return await self._run(Calls.report(report, start, end, by))

    async def export_csv(self, name: str, path: str | Path) -> int:
        return await self._download(Calls.export_csv(name), Path(path))

    async def reclaim(self, *, inactive_days: int, cal_type: str = "", dry_run: bool = False) -> ReclaimReport:
        return await self._run(Calls.reclaim(inactive_days, cal_type, dry_run))

    async def alerts(self, *, limit: int = 100) -> AlertsView:
        return await self._run(Calls.alerts(limit))

    async def test_alerts(self) -> list[AlertDeliveryView]:
        return await self._run(Calls.test_alerts())
