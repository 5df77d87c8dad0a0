"""``SiteOperations``: every operation an admin, a script or an app server can ask of a site.

Two implementations keep this one contract: ``calkeeper.site.LocalSite`` runs each operation as one
use case on the site's own database; ``calkeeper.client.RemoteSite`` sends it to a CAL server's REST
API. The CLI works on either, so what it prints never depends on where the site runs. The ``actor``
arguments name who the audit trail records; over HTTP the server records the token's name instead.

A new operation is added here first, then to both implementations, the REST API and the CLI; a
test holds the two implementations to this list.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Protocol

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
from calkeeper.core.cals import ClientType, Decision
from calkeeper.core.directory import DirectoryCheck, DirectoryEntry
from calkeeper.core.documents import DocumentProblem


class SiteOperations(Protocol):
    """The operations of one site, local or remote; errors are ``calkeeper.core.errors`` classes."""

    # -- the server license ----------------------------------------------------------------------

    def license(self) -> LicenseView | None:
        """The license in force, or None when none was applied."""
        ...

    def apply_license(self, *, serial: str, control: str, owner: str, organization: str, lef: str | None = None,
                      actor: str | None = None) -> LicenseView:
        """Check a license and put it in force (without a LEF: fetched from the license authority)."""
        ...

    def update_license(self, *, actor: str | None = None) -> LicenseUpdate:
        """"Update license from server": fetch the newest LEF for the serial in force and apply it."""
        ...

    def license_history(self) -> list[LicenseChange]:
        """Every license applied, newest first, with what each changed."""
        ...

    # -- CAL pools, settings and Named CALs --------------------------------------------------------

    def cal_overview(self) -> CalOverview:
        """Pools per CAL type and the server-wide settings."""
        ...

    def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                            allow_license_lease: bool | None = None, identification_mode: str | None = None,
                            actor: str | None = None) -> CalSettings:
        """Change the server-wide CAL settings; None leaves a setting as it is."""
        ...

    def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "") -> CalPage:
        """A page of assigned Named CALs in name order, starting after the name ``after``."""
        ...

    def assign_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        """Assign Named CALs to a ';' list of users; all or nothing."""
        ...

    def remove_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[RemovalOutcome]:
        """Remove Named CALs: freed at once, or quarantined until last used + 7 days; all or nothing."""
        ...

    def restore_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        """Undo Named CAL removals while their quarantine lasts; all or nothing."""
        ...

    # -- documents and Document CALs -----------------------------------------------------------------

    def list_documents(self) -> list[DocumentView]:
        """The documents of the root folder with their allocation; missing ones are flagged."""
        ...

    def document_problems(self) -> list[DocumentProblem]:
        """The document files in the root folder that cannot be served, and why."""
        ...

    def document(self, document: str) -> DocumentView:
        """One document, matched by name as the access gate matches it."""
        ...

    def update_document(self, document: str, *, cals_allocated: int | None = None,
                        allow_dynamic_assignment: bool | None = None, actor: str | None = None) -> DocumentView:
        """Set a document's allocation and its dynamic assignment together, in one change."""
        ...

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        """The users holding Document CALs for a document, quarantined ones included."""
        ...

    def assign_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[AssignOutcome]:
        """Assign Document CALs out of the document's allocation; all or nothing."""
        ...

    def remove_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[RemovalOutcome]:
        """Remove Document CALs: freed at once, or quarantined; all or nothing."""
        ...

    def restore_document_cals(self, document: str, users: str | list[str], *,
                              actor: str | None = None) -> list[AssignOutcome]:
        """Undo Document CAL removals while their quarantine lasts; all or nothing."""
        ...

    def release_missing_document(self, document: str, *, actor: str | None = None) -> ReleaseOutcome:
        """Release the CALs of a document that went missing from the root folder, and forget it."""
        ...

    # -- the access gate and users -----------------------------------------------------------------

    def open_document(self, user: str | None, document: str, *, machine: str | None = None,
                      client: str | ClientType = ClientType.AJAX) -> Decision:
        """Which CAL serves a user (None: anonymous) opening a document, or why none does."""
        ...

    def close_session(self, session_id: str) -> SessionEnd:
        """End a session."""
        ...

    def touch_session(self, session_id: str) -> SessionTouch:
        """A session's heartbeat: it goes on (a Usage CAL session consumes another CAL each hour), or must end."""
        ...

    def user_cals(self, user: str) -> UserCals:
        """Every CAL a user holds, of every type."""
        ...

    # -- CAL data as a whole, and history ------------------------------------------------------------

    def backup(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        """Write the site's settings, license, documents and CAL records to a file at ``path``."""
        ...

    def restore(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        """Replace the site's data with the backup at ``path``; a bad file changes nothing."""
        ...

    def clear_cal_data(self, *, backup_to: str | Path | None = None, actor: str | None = None) -> ClearOutcome:
        """Remove every CAL assignment, allocation, quarantine, session and usage record (backed up first)."""
        ...

    def export_cals(self, path: str | Path, *, format: str = "csv") -> int:
        """Write every Named and Document CAL (holder, type, document, source, dates) to a CSV or JSON file at
        ``path``; how many."""
        ...

    def import_cals(self, path: str | Path, *, actor: str | None = None) -> CalImport:
        """Add the CALs of an export file (CSV or JSON) to the site; all or nothing, every problem named."""
        ...

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        """The newest entries of the audit trail."""
        ...

    def denials(self, *, limit: int = 100) -> list[DenialView]:
        """The newest refused opens: who, when, which document, why."""
        ...

    # -- API tokens and console users ----------------------------------------------------------------

    def create_token(self, *, name: str, role: str, actor: str | None = None) -> tuple[TokenView, str]:
        """Make an API token with a role; returns it and its secret, shown only now."""
        ...

    def revoke_token(self, name: str = "", *, token_id: int | None = None, actor: str | None = None) -> list[TokenView]:
        """Revoke the live token with this name, or with ``token_id``: a name is never taken for an id."""
        ...

    def list_tokens(self) -> list[TokenView]:
        """Every token, without its secret."""
        ...

    def create_console_user(self, *, username: str, password: str, role: str, actor: str | None = None,
                            replace: bool = False) -> ConsoleUserView:
        """Create a console user (or, with replace, set a new password and role)."""
        ...

    def list_console_users(self) -> list[ConsoleUserView]:
        """Every console user."""
        ...

    def disable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        """Stop a console user from signing in and end their sessions (never the last enabled admin)."""
        ...

    def enable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        """Let a disabled console user sign in again."""
        ...

    def delete_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        """Delete a console user and their sessions (never the last enabled admin); returns who it was."""
        ...

    def end_console_sessions(self, username: str, *, actor: str | None = None) -> int:
        """End a console user's open sessions (they must sign in again); how many there were."""
        ...

    # -- the site's directory: search, groups, group rules -------------------------------------------------

    def directory_test(self) -> DirectoryCheck:
        """Connect, bind and search the site's directory; DirectoryUnavailable says in plain words what is wrong."""
        ...

    def search_directory(self, text: str = "", *, kind: str = "user", limit: int = 50) -> list[DirectoryEntry]:
        """Users (or groups, with member counts) of the directory whose name contains the text."""
        ...

    def assign_group(self, group: str, *, document: str | None = None, all_or_nothing: bool = False,
                     actor: str | None = None) -> GroupAssignment:
        """Give every member of a group a Named CAL (or a Document CAL for ``document``) once, member by member."""
        ...

    def list_group_rules(self) -> list[GroupRuleView]:
        """The group rules, with how many members hold a CAL each gave."""
        ...

    def add_group_rule(self, group: str, *, document: str | None = None, actor: str | None = None) -> GroupRuleView:
        """Add a rule: the members of the group hold a Named CAL (or a Document CAL for ``document``)."""
        ...

    def remove_group_rule(self, rule_id: int, *, actor: str | None = None) -> GroupRuleView:
        """Remove a group rule; the CALs it gave stay with their holders."""
        ...

    def sync_directory(self, *, dry_run: bool = False, actor: str | None = None) -> SyncReport:
        """Bring the CALs of every group rule in step with its group (``dry_run``: only say what it would do)."""
        ...

    def import_directory_users(self, csv_text: str, *, actor: str | None = None) -> DirectoryImport:
        """Add or replace built-in directory users from CSV text; all or nothing, each bad row named."""
        ...

    # -- operations: sessions in use, usage reports, exports, reclaim, alerts -------------------------------

    def list_sessions(self, *, search: str = "", cal_type: str = "", node: str = "",
                      limit: int = 1000) -> list[LiveSessionView]:
        """Sessions in use now, the newest first; ``search`` finds a user, machine or document."""
        ...

    def end_session(self, session_id: str, *, actor: str | None = None) -> SessionEnd:
        """End a session as an administrator: its app server is told at the session's next heartbeat."""
        ...

    def report(self, report: str, *, start: date | None = None, end: date | None = None,
               by: str = "type") -> ReportView:
        """A usage report (``usage``, ``denials``, ``peaks``) over whole UTC days, by type, day, user, document
        or reason."""
        ...

    def export_csv(self, name: str, path: str | Path) -> int:
        """Write a list (``named-cals``, ``document-cals``, ``users``, ``sessions``, ``denials``, ``audit``) as
        CSV to a file; how many rows."""
        ...

    def reclaim(self, *, inactive_days: int, cal_type: str = "", dry_run: bool = False,
                actor: str | None = None) -> ReclaimReport:
        """Remove (or, with ``dry_run``, list) the Named and Document CALs unused for ``inactive_days``."""
        ...

    def alerts(self, *, limit: int = 100) -> AlertsView:
        """The alerts, raised ones first, and the newest deliveries to webhooks and by e-mail."""
        ...

    def test_alerts(self) -> list[AlertDeliveryView]:
        """Send a test alert to every configured channel now; what became of each."""
    # -- license leases for the desktop client ---------------------------------------------------------

    def list_leases(self, *, user: str = "", machine: str = "", state: str = "all",
                    limit: int = 100) -> list[LeaseView]:
        """The lease history, newest first; of one user or machine, ``live`` or ``ended`` ones when asked."""
        ...

    def end_lease(self, lease_id: str, *, actor: str | None = None) -> LeaseView:
        """End one machine's lease to free its place (the client's next connection gets a new one if allowed)."""
        ...

    def revoke_leases(self, user: str, *, actor: str | None = None) -> list[LeaseView]:
        """Revoke a user's leases: refused at the client's next connection, which then reports them revoked."""
        ...

    def close(self) -> None:
        """Release what the site holds (database connections, HTTP connections)."""
        ...
