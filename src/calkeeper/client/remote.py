"""``RemoteSite``: a CAL server's REST API as ``SiteOperations``, the interface of the local site.

The CLI runs each command on a ``RemoteSite`` (``calkeeper --server URL --token T``) or on the local site,
so what it prints does not depend on where the site runs. The server records the token's name as the
actor, so ``actor`` arguments are accepted and not sent. Files (``backup``, ``restore``) are on this
machine: a backup is downloaded into one, a restore uploads one.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from calkeeper.client.sync_client import CalkeeperClient
from calkeeper.contract.operations import SiteOperations
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
from calkeeper.core.errors import BackupError, InvalidInput, NoLicense

UPLOADED = "the uploaded backup"  # how the server names a restored file in its errors


class RemoteSite:
    """Every operation of a site, run by a CAL server over HTTP, one request each."""

    def __init__(self, server: str, token: str, *, timeout: float = 30.0) -> None:
        self.server = server
        self.client = CalkeeperClient(server, token, timeout=timeout)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> RemoteSite:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the server license ----------------------------------------------------------------------

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

    # -- CAL pools, settings and Named CALs --------------------------------------------------------

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

    def remove_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[RemovalOutcome]:
        return self.client.remove_named_cals(users)

    def restore_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        return self.client.restore_named_cals(users)

    # -- documents and Document CALs -----------------------------------------------------------------

    def list_documents(self) -> list[DocumentView]:
        return self.client.list_documents()

    def document_problems(self) -> list[DocumentProblem]:
        return self.client.document_problems()

    def document(self, document: str) -> DocumentView:
        return self.client.document(document)

    def update_document(self, document: str, *, cals_allocated: int | None = None,
                        allow_dynamic_assignment: bool | None = None, actor: str | None = None) -> DocumentView:
        return self.client.update_document(document, cals_allocated=cals_allocated,
                                           allow_dynamic_assignment=allow_dynamic_assignment)

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        return self.client.list_document_cals(document)

    def assign_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[AssignOutcome]:
        return self.client.assign_document_cals(document, users)

    def remove_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[RemovalOutcome]:
        return self.client.remove_document_cals(document, users)

    def restore_document_cals(self, document: str, users: str | list[str], *,
                              actor: str | None = None) -> list[AssignOutcome]:
        return self.client.restore_document_cals(document, users)

    def release_missing_document(self, document: str, *, actor: str | None = None) -> ReleaseOutcome:
        return self.client.release_document(document)

    # -- the access gate and users -----------------------------------------------------------------

    def open_document(self, user: str | None, document: str, *, machine: str | None = None,
                      client: str | ClientType = ClientType.AJAX) -> Decision:
        kind = client.value if isinstance(client, ClientType) else client
        return self.client.access(user, document, machine, kind).decision()

    def close_session(self, session_id: str) -> SessionEnd:
        return self.client.end_session(session_id)

    def touch_session(self, session_id: str) -> SessionTouch:
        return self.client.touch_session(session_id)

    def user_cals(self, user: str) -> UserCals:
        return self.client.user_cals(user)

    # -- CAL data as a whole, and history ------------------------------------------------------------

    def backup(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        """Download the server's backup into ``path`` on this machine."""
        return self.client.backup(path)

    def restore(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        """Upload the backup at ``path`` on this machine; the server restores it."""
        try:
            return self.client.restore(path)
        except BackupError as error:  # the server names the file as uploaded: name it as the caller did
            raise BackupError(error.message.replace(UPLOADED, str(path)), code=error.code,
                              details=error.details) from None

    def export_cals(self, path: str | Path, *, format: str = "csv") -> int:
        """Download the server's CALs into ``path`` on this machine."""
        return self.client.export_cals(path, format=format)

    def import_cals(self, path: str | Path, *, actor: str | None = None) -> CalImport:
        """Upload the export file at ``path`` on this machine; the server imports it."""
        return self.client.import_cals(path)

    def clear_cal_data(self, *, backup_to: str | Path | None = None, actor: str | None = None) -> ClearOutcome:
        """Clear CAL data on the server; the server writes the backup in its own backups folder."""
        if backup_to is not None:
            raise InvalidInput("the server writes its backup in its own backups folder; a backup file on this "
                               "machine can be named only for a local data dir")
        return self.client.clear_cal_data()

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        return self.client.audit(limit=limit, action=action, target=target)

    def denials(self, *, limit: int = 100) -> list[DenialView]:
        return self.client.denials(limit=limit)

    # -- API tokens and console users ----------------------------------------------------------------

    def create_token(self, *, name: str, role: str, actor: str | None = None) -> tuple[TokenView, str]:
        return self.client.create_token(name=name, role=role)

    def revoke_token(self, name: str = "", *, token_id: int | None = None, actor: str | None = None) -> list[TokenView]:
        return self.client.revoke_token(name, token_id=token_id)

    def list_tokens(self) -> list[TokenView]:
        return self.client.list_tokens()

    def create_console_user(self, *, username: str, password: str, role: str, actor: str | None = None,
                            replace: bool = False) -> ConsoleUserView:
        return self.client.create_console_user(username=username, password=password, role=role, replace=replace)

    def list_console_users(self) -> list[ConsoleUserView]:
        return self.client.list_console_users()

    def disable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        return self.client.disable_console_user(username)

    def enable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        return self.client.enable_console_user(username)

    def delete_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        return self.client.delete_console_user(username)

    def end_console_sessions(self, username: str, *, actor: str | None = None) -> int:
        return self.client.end_console_sessions(username)

    # -- the site's directory: search, groups, group rules -------------------------------------------------

    def directory_test(self) -> DirectoryCheck:
        return self.client.directory_test()

    def search_directory(self, text: str = "", *, kind: str = "user", limit: int = 50) -> list[DirectoryEntry]:
        return self.client.search_directory(text, kind=kind, limit=limit)

    def assign_group(self, group: str, *, document: str | None = None, all_or_nothing: bool = False,
                     actor: str | None = None) -> GroupAssignment:
        return self.client.assign_group(group, document=document, all_or_nothing=all_or_nothing)

    def list_group_rules(self) -> list[GroupRuleView]:
        return self.client.list_group_rules()

    def add_group_rule(self, group: str, *, document: str | None = None, actor: str | None = None) -> GroupRuleView:
        return self.client.add_group_rule(group, document=document)

    def remove_group_rule(self, rule_id: int, *, actor: str | None = None) -> GroupRuleView:
        return self.client.remove_group_rule(rule_id)

    def sync_directory(self, *, dry_run: bool = False, actor: str | None = None) -> SyncReport:
        return self.client.sync_directory(dry_run=dry_run)

    def import_directory_users(self, csv_text: str, *, actor: str | None = None) -> DirectoryImport:
        return self.client.import_directory_users(csv_text)

    # -- license leases for the desktop client ---------------------------------------------------------

    def list_leases(self, *, user: str = "", machine: str = "", state: str = "all",
                    limit: int = 100) -> list[LeaseView]:
        return self.client.list_leases(user=user, machine=machine, state=state, limit=limit)

    def end_lease(self, lease_id: str, *, actor: str | None = None) -> LeaseView:
        return self.client.end_lease(lease_id)

    def revoke_leases(self, user: str, *, actor: str | None = None) -> list[LeaseView]:
        return self.client.revoke_leases(user)


    # -- operations: sessions in use, usage reports, exports, reclaim, alerts -------------------------------

    def list_sessions(self, *, search: str = "", cal_type: str = "", node: str = "",
                      limit: int = 1000) -> list[LiveSessionView]:
        return self.client.list_sessions(search=search, cal_type=cal_type, node=node, limit=limit)

    def end_session(self, session_id: str, *, actor: str | None = None) -> SessionEnd:
        return self.client.end_live_session(session_id)

    def report(self, report: str, *, start: date | None = None, end: date | None = None,
               by: str = "type") -> ReportView:
        return self.client.report(report, start=start, end=end, by=by)

    def export_csv(self, name: str, path: str | Path) -> int:
        return self.client.export_csv(name, path)

    def reclaim(self, *, inactive_days: int, cal_type: str = "", dry_run: bool = False,
                actor: str | None = None) -> ReclaimReport:
        return self.client.reclaim(inactive_days=inactive_days, cal_type=cal_type, dry_run=dry_run)

    def alerts(self, *, limit: int = 100) -> AlertsView:
        return self.client.alerts(limit=limit)

    def test_alerts(self) -> list[AlertDeliveryView]:
        return self.client.test_alerts()


_implements: type[SiteOperations] = RemoteSite  # mypy holds RemoteSite to every operation's signature
