"""``LocalSite``: the site's operations run on its own database, and ``open_site`` to make one.

    site = calkeeper.open_site("sqlite:///calkeeper.db", trusted_keys=keys, root_folder=Path("docs"))
    decision = site.open_document("ACME\\\\rep1", "SalesFlash.qvw", machine="PC-17")

It keeps the ``SiteOperations`` contract (as ``calkeeper.client.RemoteSite`` does over HTTP): each
method hands the call to the use case of its capability, which runs it in one transaction. The
application behind it (``site.app``) holds the use cases and what the server's edges need besides.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from calkeeper.bootstrap import Application, build_application
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
    SiteMoveReport,
    SyncReport,
    TokenView,
    UserCals,
)
from calkeeper.core.authority import LicenseAuthority
from calkeeper.core.cals import ClientType, Decision, SessionLimits
from calkeeper.core.clock import Clock
from calkeeper.core.directory import Directory, DirectoryCheck, DirectoryEntry
from calkeeper.core.documents import DocumentProblem
from calkeeper.core.errors import InvalidInput


class LocalSite:
    """One site's operations on its own database (``SiteOperations``), plus the console's staged changes."""

    def __init__(self, app: Application) -> None:
        self.app = app

    def close(self) -> None:
        """Release the database connections."""
        self.app.close()

    def __enter__(self) -> LocalSite:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the server license ----------------------------------------------------------------------

    def license(self) -> LicenseView | None:
        return self.app.licensing.license()

    def apply_license(self, *, serial: str, control: str, owner: str, organization: str, lef: str | None = None,
                      actor: str | None = None) -> LicenseView:
        return self.app.licensing.apply_license(serial=serial, control=control, owner=owner,
                                                organization=organization, lef=lef, actor=actor)

    def update_license(self, *, actor: str | None = None) -> LicenseUpdate:
        return self.app.licensing.update_license(actor=actor)

    def license_history(self) -> list[LicenseChange]:
        return self.app.licensing.license_history()

    # -- CAL pools, settings and Named CALs --------------------------------------------------------

    def cal_overview(self) -> CalOverview:
        return self.app.pools.cal_overview()

    def update_cal_settings(self, *, allow_dynamic_assignment: bool | None = None,
                            allow_license_lease: bool | None = None, identification_mode: str | None = None,
                            actor: str | None = None) -> CalSettings:
        return self.app.pools.update_cal_settings(
            allow_dynamic_assignment=allow_dynamic_assignment, allow_license_lease=allow_license_lease,
            identification_mode=identification_mode, actor=actor)

    def list_named_cals(self, *, after: str = "", limit: int = 100, search: str = "") -> CalPage:
        return self.app.named_cals.list_named_cals(after=after, limit=limit, search=search)

    def assign_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        return self.app.named_cals.assign_named_cals(users, actor=actor)

    def remove_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[RemovalOutcome]:
        return self.app.named_cals.remove_named_cals(users, actor=actor)

    def restore_named_cals(self, users: str | list[str], *, actor: str | None = None) -> list[AssignOutcome]:
        return self.app.named_cals.restore_named_cals(users, actor=actor)

    def apply_named_changes(self, *, remove: list[str], restore: list[str],
                            actor: str | None = None) -> tuple[list[RemovalOutcome], list[AssignOutcome]]:
        """The console's Apply: staged removals and restores in one transaction."""
        return self.app.named_cals.apply_named_changes(remove=remove, restore=restore, actor=actor)

    def find_users(self, text: str, *, limit: int = 50) -> list[str]:
        """Users known to this site whose name contains the text."""
        return self.app.named_cals.find_users(text, limit=limit)

    def quarantined_cals(self, *, limit: int = 100) -> list[AssignedCal]:
        """Named and Document CALs in quarantine, the soonest free first."""
        return self.app.named_cals.quarantined_cals(limit=limit)

    # -- documents and Document CALs -----------------------------------------------------------------

    def scan_documents(self, *, actor: str | None = None) -> list[DocumentView]:
        """Look at the root folder now (the server's upkeep does this on its own, periodically)."""
        return self.app.documents.scan_documents(actor=actor)

    def list_documents(self) -> list[DocumentView]:
        return self.app.documents.list_documents()

    def document_problems(self) -> list[DocumentProblem]:
        return self.app.documents.document_problems()

    def document(self, document: str) -> DocumentView:
        return self.app.documents.document(document)

    def update_document(self, document: str, *, cals_allocated: int | None = None,
                        allow_dynamic_assignment: bool | None = None, actor: str | None = None) -> DocumentView:
        return self.app.documents.update_document(document, cals_allocated=cals_allocated,
                                                  allow_dynamic_assignment=allow_dynamic_assignment, actor=actor)

    def set_document_allocation(self, document: str, cals: int, *, actor: str | None = None) -> DocumentView:
        """Set "Number of CALs allocated to this Document"."""
        return self.app.documents.set_document_allocation(document, cals, actor=actor)

    def set_document_dynamic(self, document: str, allow: bool, *, actor: str | None = None) -> DocumentView:
        """Turn the document's "Allow dynamic CAL assignment" on or off."""
        return self.app.documents.set_document_dynamic(document, allow, actor=actor)

    def list_document_cals(self, document: str) -> list[AssignedCal]:
        return self.app.document_cals.list_document_cals(document)

    def assign_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[AssignOutcome]:
        return self.app.document_cals.assign_document_cals(document, users, actor=actor)

    def remove_document_cals(self, document: str, users: str | list[str], *,
                             actor: str | None = None) -> list[RemovalOutcome]:
        return self.app.document_cals.remove_document_cals(document, users, actor=actor)

    def restore_document_cals(self, document: str, users: str | list[str], *,
                              actor: str | None = None) -> list[AssignOutcome]:
        return self.app.document_cals.restore_document_cals(document, users, actor=actor)

    def apply_document_changes(self, document: str, *, remove: list[str], restore: list[str],
                               cals_allocated: int | None = None, allow_dynamic_assignment: bool | None = None,
                               actor: str | None = None) -> tuple[list[RemovalOutcome], list[AssignOutcome]]:
        """The console's one Apply on a document: staged removals and restores, and its settings when given, in
        one transaction."""
        return self.app.document_cals.apply_document_changes(
            document, remove=remove, restore=restore, cals_allocated=cals_allocated,
            allow_dynamic_assignment=allow_dynamic_assignment, actor=actor)

    def release_missing_document(self, document: str, *, actor: str | None = None) -> ReleaseOutcome:
        return self.app.documents.release_missing_document(document, actor=actor)

    # -- the access gate and users -----------------------------------------------------------------

    def open_document(self, user: str | None, document: str, *, machine: str | None = None,
                      client: str | ClientType = ClientType.AJAX) -> Decision:
        return self.app.access.open_document(user, document, machine=machine, client=client)

    def close_session(self, session_id: str) -> SessionEnd:
        return self.app.session_life.close_session(session_id)

    def touch_session(self, session_id: str) -> SessionTouch:
        return self.app.session_life.touch_session(session_id)

    def user_cals(self, user: str) -> UserCals:
        return self.app.sessions.user_cals(user)

    # -- CAL data as a whole, and history ------------------------------------------------------------

    def backup(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        return self.app.maintenance.backup(path, actor=actor)

    def restore(self, path: str | Path, *, actor: str | None = None) -> dict[str, int]:
        return self.app.maintenance.restore(path, actor=actor)

    def clear_cal_data(self, *, backup_to: str | Path | None = None, actor: str | None = None) -> ClearOutcome:
        if backup_to is None:
            raise InvalidInput("clearing CAL data writes a backup first: name the file to write it to")
        return self.app.maintenance.clear_cal_data(backup_to=backup_to, actor=actor)

    def export_cals(self, path: str | Path, *, format: str = "csv") -> int:
        return self.app.cal_transfers.export(path, format=format)

    def import_cals(self, path: str | Path, *, actor: str | None = None) -> CalImport:
        return self.app.cal_transfers.import_file(path, actor=actor)

    def migrate_to(self, database_url: str, *, actor: str | None = None) -> SiteMoveReport:
        """Move the site's data whole into an empty database (its schema migrated first) and compare both sides."""
        return self.app.site_move.move_to(database_url, actor=actor)

    def sweep(self) -> None:
        """Free CALs whose quarantine has ended now (the server's upkeep does this on its own)."""
        self.app.maintenance.sweep()

    def audit(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        return self.app.reports.audit(limit=limit, action=action, target=target)

    def denials(self, *, limit: int = 100) -> list[DenialView]:
        return self.app.reports.denials(limit=limit)

    def grant_history(self, *, hours: int = 24) -> dict[str, list[tuple[datetime, int]]]:
        """Grants per hour and CAL type over the last hours (the dashboard's chart)."""
        return self.app.reports.grant_history(hours=hours)

    # -- API tokens and console users ----------------------------------------------------------------

    def create_token(self, *, name: str, role: str, actor: str | None = None) -> tuple[TokenView, str]:
        return self.app.tokens.create_token(name=name, role=role, actor=actor)

    def revoke_token(self, name: str = "", *, token_id: int | None = None, actor: str | None = None) -> list[TokenView]:
        return self.app.tokens.revoke_token(name, token_id=token_id, actor=actor)

    def list_tokens(self) -> list[TokenView]:
        return self.app.tokens.list_tokens()

    def create_console_user(self, *, username: str, password: str, role: str, actor: str | None = None,
                            replace: bool = False) -> ConsoleUserView:
        return self.app.console_users.create_console_user(username=username, password=password, role=role,
                                                          actor=actor, replace=replace)

    def list_console_users(self) -> list[ConsoleUserView]:
        return self.app.console_users.list_console_users()

    def disable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        return self.app.console_users.disable_console_user(username, actor=actor)

    def enable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        return self.app.console_users.enable_console_user(username, actor=actor)

    def delete_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        return self.app.console_users.delete_console_user(username, actor=actor)

    def end_console_sessions(self, username: str, *, actor: str | None = None) -> int:
        return self.app.console_users.end_console_sessions(username, actor=actor)

    # -- the site's directory: search, groups, group rules -------------------------------------------------

    def directory_test(self) -> DirectoryCheck:
        return self.app.directory_admin.check()

    def search_directory(self, text: str = "", *, kind: str = "user", limit: int = 50) -> list[DirectoryEntry]:
        return self.app.directory_admin.search(text, kind=kind, limit=limit)

    def assign_group(self, group: str, *, document: str | None = None, all_or_nothing: bool = False,
                     actor: str | None = None) -> GroupAssignment:
        return self.app.directory_admin.assign_group(group, document=document, all_or_nothing=all_or_nothing,
                                                     actor=actor)

    def list_group_rules(self) -> list[GroupRuleView]:
        return self.app.group_rules.list_group_rules()

    def add_group_rule(self, group: str, *, document: str | None = None, actor: str | None = None) -> GroupRuleView:
        return self.app.group_rules.add_group_rule(group, document=document, actor=actor)

    def remove_group_rule(self, rule_id: int, *, actor: str | None = None) -> GroupRuleView:
        return self.app.group_rules.remove_group_rule(rule_id, actor=actor)

    def sync_directory(self, *, dry_run: bool = False, actor: str | None = None) -> SyncReport:
        return self.app.group_rules.sync_directory(dry_run=dry_run, actor=actor)

    def import_directory_users(self, csv_text: str, *, actor: str | None = None) -> DirectoryImport:
        return self.app.builtin_directory.import_users(csv_text, actor=actor)

    # -- license leases for the desktop client ---------------------------------------------------------

    def list_leases(self, *, user: str = "", machine: str = "", state: str = "all",
                    limit: int = 100) -> list[LeaseView]:
        return self.app.leases.list_leases(user=user, machine=machine, state=state, limit=limit)

    def end_lease(self, lease_id: str, *, actor: str | None = None) -> LeaseView:
        return self.app.leases.end_lease(lease_id, actor=actor)

    def revoke_leases(self, user: str, *, actor: str | None = None) -> list[LeaseView]:
        return self.app.leases.revoke_leases(user, actor=actor)


    # -- operations: sessions in use, usage reports, exports, reclaim, alerts -------------------------------

    def list_sessions(self, *, search: str = "", cal_type: str = "", node: str = "",
                      limit: int = 1000) -> list[LiveSessionView]:
        return self.app.live_sessions.list_sessions(search=search, cal_type=cal_type, node=node, limit=limit)

    def end_session(self, session_id: str, *, actor: str | None = None) -> SessionEnd:
        return self.app.live_sessions.end_session(session_id, actor=actor)

    def report(self, report: str, *, start: date | None = None, end: date | None = None,
               by: str = "type") -> ReportView:
        self.app.reports.flush_grant_counts()  # this node's grants counted in memory are in the report
        return self.app.usage_history.report(report, start=start, end=end, by=by)

    def export_csv(self, name: str, path: str | Path) -> int:
        rows = -1
        target = Path(path)
        partial = target.with_name(f".{target.name}.part")
        try:
            with partial.open("w", encoding="utf-8", newline="") as file:
                for chunk in self.app.exports.csv(name):
                    file.write(chunk)
                    rows += chunk.count("\r\n")
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return rows

    def csv_chunks(self, name: str) -> Iterator[str]:
        """A list as CSV text, chunk by chunk (the API and the console stream it)."""
        self.app.exports.check(name)
        return self.app.exports.csv(name)

    def reclaim(self, *, inactive_days: int, cal_type: str = "", dry_run: bool = False,
                actor: str | None = None) -> ReclaimReport:
        return self.app.reclaim.reclaim(inactive_days=inactive_days, cal_type=cal_type, dry_run=dry_run, actor=actor)

    def alerts(self, *, limit: int = 100) -> AlertsView:
        return self.app.alerts.alerts(limit=limit)

    def test_alerts(self) -> list[AlertDeliveryView]:
        return self.app.alerts.test()

    def evaluate_alerts(self) -> None:
        """Raise and clear alerts now (the server's upkeep does this once a minute)."""
        self.app.alerts.evaluate()


def _keeps_the_contract(site: LocalSite) -> SiteOperations:
    return site  # mypy checks here that LocalSite has every operation of the contract, with its types


def open_site(
    database_url: str,
    *,
    clock: Clock | None = None,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    root_folder: str | Path | None = None,
    mounted_folders: Mapping[str, str | Path] | None = None,
    actor: str = "api",
    migrate_schema: bool = True,
    cache_refresh_seconds: float = 0.5,
    engine_options: dict[str, Any] | None = None,
    authority: LicenseAuthority | None = None,
    session_limits: SessionLimits | None = None,
    second_machine_takes_over: bool = False,
    directory: Directory | None = None,
    degraded_minutes: float = 0.0,
    lease_key: Ed25519PrivateKey | None = None,
    group_commit: bool = False,
) -> LocalSite:
    """Connect to a site's database (migrating it to the newest schema) and return its operations.

    The arguments are ``calkeeper.bootstrap.build_application``'s; ``calkeeper.bootstrap.bootstrap``
    builds a site from settings instead.
    """
    return LocalSite(build_application(
        database_url, clock=clock, trusted_keys=trusted_keys, root_folder=root_folder,
        mounted_folders=mounted_folders, actor=actor,
        migrate_schema=migrate_schema, cache_refresh_seconds=cache_refresh_seconds, engine_options=engine_options,
        authority=authority, session_limits=session_limits, second_machine_takes_over=second_machine_takes_over,
        directory=directory, degraded_minutes=degraded_minutes, lease_key=lease_key, group_commit=group_commit,
    ))
