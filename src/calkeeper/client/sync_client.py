"""``CalkeeperClient``: the CAL server's REST API, one blocking call per method, on httpx."""

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


class CalkeeperClient(ClientBase):
    """The CAL server's REST API, one blocking call per method; use it as a context manager or close() it.

    POSTs take an ``idempotency_key``: a retry with the same key is answered, not run again.
    """

    def __init__(self, base_url: str, token: str, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(base_url, token, timeout)
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers, timeout=timeout, transport=transport)

    def _run(self, call: Call) -> Any:
        try:
            response = self._http.request(**self._request(call))
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        return self._read(call, response)

    def _download(self, call: Call, target: Path) -> Any:
        try:
            with self._http.stream(**self._request(call)) as response:
                if response.is_error:
                    response.read()
                    raise error_from_response(response)
                with saving(target) as file:
                    for chunk in response.iter_bytes():
                        file.write(chunk)
        except httpx.TransportError as error:
            raise self._unreachable(error) from error
        return self._parse(call, response, lambda: (target, response.headers))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CalkeeperClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def access(self, user: str | None, document: str, machine: str | None = None, client: str = "ajax", *,
               idempotency_key: str | None = None) -> AccessResult:
        """May this user (None: anonymous) open this document? A refusal is an answer, not an error."""
        return self._run(Calls.access(user, document, machine, client, idempotency_key))

    def end_session(self, session_id: str, *, idempotency_key: str | None = None) -> SessionEnd:
        """End a session; a Session CAL is held at least 15 minutes from its start."""
        return self._run(Calls.end_session(session_id, idempotency_key))

    def touch_session(self, session_id: str) -> SessionTouch:
        """A session's heartbeat: send one every few minutes while the user works; ``active`` false means end it."""
        return self._run(Calls.touch_session(session_id))

    def license(self) -> LicenseView:
        """The license in force; NoLicense when there is none."""
        return self._run(Calls.license())

    def apply_license(self, *, serial: str, control: str, owner: str, organization: str,
                      lef: str | None = None) -> LicenseView:
        """Apply a license; LicenseRejected (its code names the failed check) when it cannot be.

        Without a LEF the server fetches it from the license authority.
        """
        return self._run(Calls.apply_license(serial, control, owner, organization, lef))

    def update_license(self, *, idempotency_key: str | None = None) -> LicenseUpdate:
        """Update license from server: the server fetches the newest LEF for its serial and applies it."""
        return self._run(Calls.update_license(idempotency_key))

    def license_history(self) -> list[LicenseChange]:
        """Every license applied, newest first."""
        return self._run(Calls.license_history())

    def cal_overview(self) -> CalOverview:
        """Pools per CAL type and the server-wide settings."""
        return self._run(Calls.cal_overview())

    def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                            allow_license_lease: bool | None = None,
                            identification_mode: str | None = None) -> CalSettings:
        """Change the server-wide settings given; the others stay."""
        return self._run(Calls.update_cal_settings(allow_dynamic_assignment, allow_license_lease,
                                                    identification_mode))

    def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "") -> CalPage:
        """Assigned Named CALs, a page at a time (pass a page's next_after as after)."""
        return self._run(Calls.list_named_cals(after, limit, search))

    def assign_named_cals(self, users: str | list[str], *, idempotency_key: str | None = None) -> list[AssignOutcome]:
        """Assign Named CALs to a ';' list or a list of users; all or nothing."""
        return self._run(Calls.assign_named_cals(users, idempotency_key))

    def remove_named_cal(self, user: str) -> RemovalOutcome:
        """Remove a Named CAL: freed at once, or quarantined until last used + 7 days."""
        return self._run(Calls.remove_named_cal(user))

    def restore_named_cal(self, user: str, *, idempotency_key: str | None = None) -> AssignOutcome:
        """Undo a Named CAL removal while it is quarantined."""
        return self._run(Calls.restore_named_cal(user, idempotency_key))

    def remove_named_cals(self, users: str | list[str], *,
                          idempotency_key: str | None = None) -> list[RemovalOutcome]:
        """Remove the Named CALs of a ';' list or a list of users; all or nothing."""
        return self._run(Calls.remove_named_cals(users, idempotency_key))

    def restore_named_cals(self, users: str | list[str], *,
                           idempotency_key: str | None = None) -> list[AssignOutcome]:
        """Undo the Named CAL removals of a list of users while quarantined; all or nothing."""
        return self._run(Calls.restore_named_cals(users, idempotency_key))

    def list_documents(self) -> list[DocumentView]:
        """The documents of the root folder with their allocation."""
        return self._run(Calls.list_documents())

    def document_problems(self) -> list[DocumentProblem]:
        """The document files in the root folder that cannot be served, and why."""
        return self._run(Calls.document_problems())

    def document(self, document: str) -> DocumentView:
        """One document, matched as the access gate matches it."""
        return self._run(Calls.document(document))

    def update_document(self, document: str, *, cals_allocated: int | None = None,
                        allow_dynamic_assignment: bool | None = None) -> DocumentView:
        """Set the CALs allocated to a document and its dynamic CAL assignment."""
        return self._run(Calls.update_document(document, cals_allocated, allow_dynamic_assignment))

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        """Users holding Document CALs for the document."""
        return self._run(Calls.list_document_cals(document))

    def assign_document_cals(self, document: str, users: str | list[str], *,
                             idempotency_key: str | None = None) -> list[AssignOutcome]:
        """Assign Document CALs out of the document's allocation; all or nothing."""
        return self._run(Calls.assign_document_cals(document, users, idempotency_key))

    def remove_document_cal(self, document: str, user: str) -> RemovalOutcome:
        """Remove a Document CAL: freed at once, or quarantined until last used + 7 days."""
        return self._run(Calls.remove_document_cal(document, user))

    def restore_document_cal(self, document: str, user: str, *, idempotency_key: str | None = None) -> AssignOutcome:
        """Undo a Document CAL removal while it is quarantined."""
        return self._run(Calls.restore_document_cal(document, user, idempotency_key))

    def remove_document_cals(self, document: str, users: str | list[str], *,
                             idempotency_key: str | None = None) -> list[RemovalOutcome]:
        """Remove the Document CALs of a list of users; all or nothing."""
        return self._run(Calls.remove_document_cals(document, users, idempotency_key))

    def restore_document_cals(self, document: str, users: str | list[str], *,
                              idempotency_key: str | None = None) -> list[AssignOutcome]:
        """Undo the Document CAL removals of a list of users while quarantined; all or nothing."""
        return self._run(Calls.restore_document_cals(document, users, idempotency_key))

    def user_cals(self, user: str) -> UserCals:
        """Every CAL a user holds, of every type."""
        return self._run(Calls.user_cals(user))

    def clear_cal_data(self, *, idempotency_key: str | None = None) -> ClearOutcome:
        """Remove every CAL assignment, allocation, quarantine, session and usage record (the server backs up first)."""
        return self._run(Calls.clear_cal_data(idempotency_key))

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        """Who changed what, when (newest first)."""
        return self._run(Calls.audit(limit, action, target))

    def denials(self, *, limit: int = 100) -> list[DenialView]:
        """Opens that were refused, newest first."""
        return self._run(Calls.denials(limit))

    def release_document(self, document: str, *, idempotency_key: str | None = None) -> ReleaseOutcome:
        """Release the CALs of a document that went missing from the root folder, and forget it."""
        return self._run(Calls.release_document(document, idempotency_key))

    def backup(self, path: str | Path) -> dict[str, int]:
        """Download a backup of the site's data to a file on this machine; returns its rows per table."""
        return self._download(Calls.backup(), Path(path))

    def restore(self, path: str | Path) -> dict[str, int]:
        """Replace the site's data with a backup file from this machine; a bad file changes nothing."""
        return self._run(Calls.restore(read_upload(Path(path))))

    def export_cals(self, path: str | Path, *, format: str = "csv") -> int:
        """Download every Named and Document CAL as CSV or JSON into a file; how many."""
        return self._download(Calls.export_cals(format), Path(path))

    def import_cals(self, path: str | Path) -> CalImport:
        """Add the CALs of an export file on this machine to the site; all or nothing."""
        return self._run(Calls.import_cals(read_file(Path(path))))

    def create_token(self, *, name: str, role: str) -> tuple[TokenView, str]:
        """Make an API token (admin, viewer or gate); returns it and its secret, shown only now."""
        return self._run(Calls.create_token(name, role))

    def revoke_token(self, name: str = "", *, token_id: int | None = None) -> list[TokenView]:
        """Revoke the live token with this name (or ``token_id``); it stops working on every node within a second."""
        return self._run(Calls.revoke_token(name, token_id))

    def list_tokens(self) -> list[TokenView]:
        """Every token, without its secret."""
        return self._run(Calls.list_tokens())

    def create_console_user(self, *, username: str, password: str, role: str,
                            replace: bool = False) -> ConsoleUserView:
        """Create a console user (or, with replace, set a new password and role)."""
        return self._run(Calls.create_console_user(username, password, role, replace))

    def list_console_users(self) -> list[ConsoleUserView]:
        """Every console user."""
        return self._run(Calls.list_console_users())

    def disable_console_user(self, username: str) -> ConsoleUserView:
        """Stop a console user from signing in and end their sessions (never the last enabled admin)."""
        return self._run(Calls.disable_console_user(username))

    def enable_console_user(self, username: str) -> ConsoleUserView:
        """Let a disabled console user sign in again."""
        return self._run(Calls.enable_console_user(username))

    def delete_console_user(self, username: str) -> ConsoleUserView:
        """Delete a console user and their sessions (never the last enabled admin)."""
        return self._run(Calls.delete_console_user(username))

    def end_console_sessions(self, username: str) -> int:
        """End a console user's open sessions; how many there were."""
        return self._run(Calls.end_console_sessions(username))

    # -- the site's directory ----------------------------------------------------------------------------

    def directory_test(self) -> DirectoryCheck:
        """Connect, bind and search the site's directory."""
        return self._run(Calls.directory_test())

    def search_directory(self, text: str = "", *, kind: str = "user", limit: int = 50) -> list[DirectoryEntry]:
        """Users (or groups, with member counts) of the directory whose name contains the text."""
        return self._run(Calls.search_directory(text, kind, limit))

    def assign_group(self, group: str, *, document: str | None = None,
                     all_or_nothing: bool = False) -> GroupAssignment:
        """Give every member of a group a Named CAL (or a Document CAL for ``document``) once."""
        return self._run(Calls.assign_group(group, document, all_or_nothing))

    def list_group_rules(self) -> list[GroupRuleView]:
        """The group rules."""
        return self._run(Calls.list_group_rules())

    def add_group_rule(self, group: str, *, document: str | None = None) -> GroupRuleView:
        """Add a group rule."""
        return self._run(Calls.add_group_rule(group, document))

    def remove_group_rule(self, rule_id: int) -> GroupRuleView:
        """Remove a group rule; the CALs it gave stay."""
        return self._run(Calls.remove_group_rule(rule_id))

    def list_leases(self, *, user: str = "", machine: str = "", state: str = "all",
                      limit: int = 100) -> list[LeaseView]:
        """The lease history, newest first (``state``: all, live or ended)."""
        return self._run(Calls.list_leases(user, machine, state, limit))

    def end_lease(self, lease_id: str) -> LeaseView:
        """End one machine's lease, freeing its place."""
        return self._run(Calls.end_lease(lease_id))

    def revoke_leases(self, user: str) -> list[LeaseView]:
        """Revoke a user's leases."""
        return self._run(Calls.revoke_leases(user))

    def sync_directory(self, *, dry_run: bool = False) -> SyncReport:
        """Sync the group rules with the directory (``dry_run``: only say what it would do)."""
        return self._run(Calls.sync_directory(dry_run))

    def import_directory_users(self, csv_text: str) -> DirectoryImport:
        """Add or replace built-in directory users from CSV text; all or nothing."""
        return self._run(Calls.import_directory_users(csv_text))

    # -- operations ----------------------------------------------------------------------------------------

    def list_sessions(self, *, search: str = "", cal_type: str = "", node: str = "",
                      limit: int = 1000) -> list[LiveSessionView]:
        """Sessions in use now, the newest first."""
        return self._run(Calls.list_sessions(search, cal_type, node, limit))

    def end_live_session(self, session_id: str) -> SessionEnd:
        """End a session as an administrator (its app server is told at the next heartbeat)."""
        return self._run(Calls.end_live_session(session_id))

    def report(self, report: str, *, start: date | None = None, end: date | None = None,
               by: str = "type") -> ReportView:
        """A usage report: ``usage``, ``denials`` or ``peaks``."""
        return self._run(Calls.report(report, start, end, by))

    def export_csv(self, name: str, path: str | Path) -> int:
        """Download a list as CSV into a file; how many rows."""
        return self._download(Calls.export_csv(name), Path(path))

    def reclaim(self, *, inactive_days: int, cal_type: str = "", dry_run: bool = False) -> ReclaimReport:
        """Remove (or list, with ``dry_run``) the CALs unused for ``inactive_days``."""
        return self._run(Calls.reclaim(inactive_days, cal_type, dry_run))

    def alerts(self, *, limit: int = 100) -> AlertsView:
        """The alerts and the newest deliveries."""
        return self._run(Calls.alerts(limit))

    def test_alerts(self) -> list[AlertDeliveryView]:
        """Send a test alert to every configured channel."""
        return self._run(Calls.test_alerts())
