"""Every endpoint of the REST API as a request, and how to read its answer (shared by both clients)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from types import FunctionType
from typing import Any
from urllib.parse import quote

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
    from_json,
)
from calkeeper.core.cals import CalType, Decision, Denial, Grant
from calkeeper.core.directory import DirectoryCheck, DirectoryEntry
from calkeeper.core.documents import DocumentProblem


@dataclass(frozen=True)
class AccessResult:
    """The access gate's answer: granted with a CAL and a session, or refused with a reason and a code."""

    granted: bool
    document: str
    reason: str
    user: str | None = None
    cal_type: str | None = None
    session_id: str | None = None
    code: str | None = None
    dynamic: bool = False
    cal_id: int | None = None

    def decision(self) -> Decision:
        """The same answer as the core's Grant or Denial."""
        if self.granted:
            return Grant(CalType(self.cal_type or ""), self.session_id or "", self.user, self.document, self.reason,
                         dynamic=self.dynamic, cal_id=self.cal_id)
        return Denial(self.user, self.document, self.reason, self.code or "refused")


@dataclass(frozen=True)
class Call:
    """One request of the API and how to read its answer."""

    method: str
    path: str
    parse: Callable[[Any], Any]
    json: Any = None
    params: dict[str, Any] | None = None
    idempotency_key: str | None = None
    content: bytes | None = None  # a body sent as it is (a backup to restore) instead of JSON
    download: bool = False  # the answer is a file: the client saves it, then ``parse`` reads (file, headers)


def _reader(kind: Any) -> Callable[[Any], Any]:
    """How to read an answer: a view type (or list of views) is rebuilt with from_json; a function reads it."""
    return kind if isinstance(kind, FunctionType) else lambda data: from_json(kind, data)


_TIMES = ("at", "acquired_at", "released_at", "consumed_at", "expires_at", "returns_at")


def _with_times(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows the API gives as plain objects, with their times as datetimes (as the local site gives them)."""
    return [{k: datetime.fromisoformat(v) if k in _TIMES and isinstance(v, str) else v for k, v in row.items()}
            for row in rows]


def _user_cals(data: Any) -> UserCals:
    cals = from_json(UserCals, data)
    return UserCals(cals.user, cals.named_cal, cals.document_cals, _with_times(cals.session_cals),
                    _with_times(cals.usage_cals))


def _token_made(data: Any) -> tuple[TokenView, str]:
    return from_json(TokenView, data["token"]), str(data["secret"])


def _sessions_ended(data: Any) -> int:
    return int(data["ended"])


def _csv_rows(saved: tuple[Path, Mapping[str, str]]) -> int:
    """The rows of a downloaded CSV list, its header not counted."""
    import csv

    with saved[0].open(encoding="utf-8", newline="") as file:
        return sum(1 for _ in csv.reader(file)) - 1


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


ROWS_HEADER = "Calkeeper-Backup-Rows"
CAL_ROWS_HEADER = "Calkeeper-Cal-Rows"


def cal_rows(saved: tuple[Path, Mapping[str, str]]) -> int:
    """How many CALs a downloaded CAL export holds (the server says so in a header)."""
    return int(saved[1].get(CAL_ROWS_HEADER) or 0)


def backup_counts(saved: tuple[Path, Mapping[str, str]]) -> dict[str, int]:
    """The rows per table of a downloaded backup, in the order the server counted them (the file's is sorted)."""
    path, headers = saved
    content = json.loads(path.read_bytes())
    counts = {str(name): len(rows) for name, rows in content["tables"].items()}
    order = json.loads(headers.get(ROWS_HEADER) or "{}")
    return {name: counts[name] for name in order if name in counts} | counts


def _seg(text: str) -> str:
    """One path segment, escaped: user names hold a backslash, and anything else may appear."""
    return quote(text, safe="")


def _doc(name: str) -> str:
    # Folders are sent with '\', which the server matches like '/': an escaped '/' (%2F) is decoded
    # before routing, and a folder then could not be told from the routes' own segments ('/cals').
    return quote(name.replace("/", "\\"), safe="")


def _no_nones(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _get(path: str, kind: Any, **params: Any) -> Call:
    return Call("GET", f"/api/v1{path}", _reader(kind), params=params or None)


def _send(method: str, path: str, kind: Any, body: Any = None, key: str | None = None) -> Call:
    return Call(method, f"/api/v1{path}", _reader(kind), body, idempotency_key=key)


class Calls:
    """Every endpoint as a request, once, for the sync and the async client (same names and arguments)."""

    @staticmethod
    def access(user: str | None, document: str, machine: str | None, client: str, key: str | None) -> Call:
        body = {"user": user, "document": document, "machine": machine, "client": client}
        return _send("POST", "/access", AccessResult, body, key)

    @staticmethod
    def end_session(session_id: str, key: str | None) -> Call:
        return _send("POST", f"/sessions/{_seg(session_id)}/end", SessionEnd, None, key)

    @staticmethod
    def touch_session(session_id: str) -> Call:
        return _send("POST", f"/sessions/{_seg(session_id)}/touch", SessionTouch)

    @staticmethod
    def license() -> Call:
        return _get("/license", LicenseView)

    @staticmethod
    def apply_license(serial: str, control: str, owner: str, organization: str, lef: str | None) -> Call:
        body = {"serial": serial, "control": control, "owner": owner, "organization": organization, "lef": lef}
        return _send("PUT", "/license", LicenseView, body)

    @staticmethod
    def update_license(key: str | None) -> Call:
        return _send("POST", "/license/update", LicenseUpdate, None, key)

    @staticmethod
    def license_history() -> Call:
        return _get("/license/history", list[LicenseChange])

    @staticmethod
    def cal_overview() -> Call:
        return _get("/cals", CalOverview)

    @staticmethod
    def update_cal_settings(dynamic: bool | None, lease: bool | None, mode: str | None) -> Call:
        body = _no_nones(allow_dynamic_assignment=dynamic, allow_license_lease=lease, identification_mode=mode)
        return _send("PATCH", "/cals/settings", CalSettings, body)

    @staticmethod
    def list_named_cals(after: str, limit: int, search: str) -> Call:
        return _get("/cals/named", CalPage, after=after, limit=limit, search=search)

    @staticmethod
    def assign_named_cals(users: str | list[str], key: str | None) -> Call:
        return _send("POST", "/cals/named", list[AssignOutcome], {"users": users}, key)

    @staticmethod
    def remove_named_cal(user: str) -> Call:
        return _send("DELETE", f"/cals/named/{_seg(user)}", RemovalOutcome)

    @staticmethod
    def restore_named_cal(user: str, key: str | None) -> Call:
        return _send("POST", f"/cals/named/{_seg(user)}/restore", AssignOutcome, None, key)

    @staticmethod
    def remove_named_cals(users: str | list[str], key: str | None) -> Call:
        return _send("POST", "/cals/named/remove", list[RemovalOutcome], {"users": users}, key)

    @staticmethod
    def restore_named_cals(users: str | list[str], key: str | None) -> Call:
        return _send("POST", "/cals/named/restore", list[AssignOutcome], {"users": users}, key)

    @staticmethod
    def list_documents() -> Call:
        return _get("/documents", list[DocumentView])

    @staticmethod
    def document_problems() -> Call:
        return _get("/document-problems", list[DocumentProblem])

    @staticmethod
    def document(document: str) -> Call:
        return _get(f"/documents/{_doc(document)}", DocumentView)

    @staticmethod
    def update_document(document: str, cals_allocated: int | None, dynamic: bool | None) -> Call:
        body = _no_nones(cals_allocated=cals_allocated, allow_dynamic_assignment=dynamic)
        return _send("PATCH", f"/documents/{_doc(document)}", DocumentView, body)

    @staticmethod
    def list_document_cals(document: str) -> Call:
        return _get(f"/documents/{_doc(document)}/cals", list[AssignedCal])

    @staticmethod
    def assign_document_cals(document: str, users: str | list[str], key: str | None) -> Call:
        return _send("POST", f"/documents/{_doc(document)}/cals", list[AssignOutcome], {"users": users}, key)

    @staticmethod
    def remove_document_cal(document: str, user: str) -> Call:
        return _send("DELETE", f"/documents/{_doc(document)}/cals/{_seg(user)}", RemovalOutcome)

    @staticmethod
    def restore_document_cal(document: str, user: str, key: str | None) -> Call:
        return _send("POST", f"/documents/{_doc(document)}/cals/{_seg(user)}/restore", AssignOutcome, None, key)

    @staticmethod
    def remove_document_cals(document: str, users: str | list[str], key: str | None) -> Call:
        return _send("POST", f"/documents/{_doc(document)}/cals/remove", list[RemovalOutcome], {"users": users}, key)

    @staticmethod
    def restore_document_cals(document: str, users: str | list[str], key: str | None) -> Call:
        return _send("POST", f"/documents/{_doc(document)}/cals/restore", list[AssignOutcome], {"users": users}, key)

    @staticmethod
    def user_cals(user: str) -> Call:
        return _get(f"/users/{_seg(user)}/cals", _user_cals)

    @staticmethod
    def clear_cal_data(key: str | None) -> Call:
        return _send("POST", "/maintenance/clear-cal-data", ClearOutcome, {"confirm": True}, key)

    @staticmethod
    def release_document(document: str, key: str | None) -> Call:
        return _send("POST", f"/documents/{_doc(document)}/release", ReleaseOutcome, None, key)

    @staticmethod
    def backup() -> Call:
        return Call("GET", "/api/v1/backup", backup_counts, download=True)

    @staticmethod
    def restore(content: bytes) -> Call:
        return Call("POST", "/api/v1/restore", _reader(dict[str, int]), content=content)

    @staticmethod
    def export_cals(format: str) -> Call:
        return Call("GET", "/api/v1/cals/export", cal_rows, params={"format": format}, download=True)

    @staticmethod
    def import_cals(content: bytes) -> Call:
        return Call("POST", "/api/v1/cals/import", _reader(CalImport), content=content)

    @staticmethod
    def audit(limit: int, action: str, target: str) -> Call:
        return _get("/audit", list[AuditView], limit=limit, action=action, target=target)

    @staticmethod
    def denials(limit: int) -> Call:
        return _get("/denials", list[DenialView], limit=limit)

    @staticmethod
    def create_token(name: str, role: str) -> Call:
        # No Idempotency-Key: a kept answer would keep the token's secret, which is shown once only.
        return _send("POST", "/tokens", _token_made, {"name": name, "role": role})

    @staticmethod
    def revoke_token(name: str, token_id: int | None) -> Call:
        if token_id is not None:
            return Call("DELETE", f"/api/v1/tokens/{token_id}", _reader(list[TokenView]), params={"by": "id"})
        return _send("DELETE", f"/tokens/{_seg(name)}", list[TokenView])

    @staticmethod
    def list_tokens() -> Call:
        return _get("/tokens", list[TokenView])

    @staticmethod
    def create_console_user(username: str, password: str, role: str, replace: bool) -> Call:
        body = {"username": username, "password": password, "role": role, "replace": replace}
        return _send("POST", "/console-users", ConsoleUserView, body)

    @staticmethod
    def list_console_users() -> Call:
        return _get("/console-users", list[ConsoleUserView])

    @staticmethod
    def disable_console_user(username: str) -> Call:
        return _send("POST", f"/console-users/{_seg(username)}/disable", ConsoleUserView)

    @staticmethod
    def enable_console_user(username: str) -> Call:
        return _send("POST", f"/console-users/{_seg(username)}/enable", ConsoleUserView)

    @staticmethod
    def delete_console_user(username: str) -> Call:
        return _send("DELETE", f"/console-users/{_seg(username)}", ConsoleUserView)

    @staticmethod
    def end_console_sessions(username: str) -> Call:
        return _send("POST", f"/console-users/{_seg(username)}/sessions/end", _sessions_ended)

    # -- the site's directory ----------------------------------------------------------------------------

    @staticmethod
    def directory_test() -> Call:
        return _get("/directory/test", DirectoryCheck)

    @staticmethod
    def search_directory(text: str, kind: str, limit: int) -> Call:
        return Call("GET", "/api/v1/directory/search", _reader(list[DirectoryEntry]),
                    params={"q": text, "kind": kind, "limit": limit})

    @staticmethod
    def assign_group(group: str, document: str | None, all_or_nothing: bool) -> Call:
        body = {"group": group, "document": document, "all_or_nothing": all_or_nothing}
        return _send("POST", "/directory/groups/assign", GroupAssignment, body)

    @staticmethod
    def list_group_rules() -> Call:
        return _get("/directory/rules", list[GroupRuleView])

    @staticmethod
    def add_group_rule(group: str, document: str | None) -> Call:
        return _send("POST", "/directory/rules", GroupRuleView, {"group": group, "document": document})

    @staticmethod
    def remove_group_rule(rule_id: int) -> Call:
        return _send("DELETE", f"/directory/rules/{int(rule_id)}", GroupRuleView)

    @staticmethod
    def sync_directory(dry_run: bool) -> Call:
        return _send("POST", "/directory/sync", SyncReport, {"dry_run": dry_run})

    @staticmethod
    def import_directory_users(csv_text: str) -> Call:
        return _send("POST", "/directory/users/import", DirectoryImport, {"csv": csv_text})

    # -- operations ----------------------------------------------------------------------------------------

    @staticmethod
    def list_sessions(search: str, cal_type: str, node: str, limit: int) -> Call:
        return _get("/sessions", list[LiveSessionView], search=search, cal_type=cal_type, node=node, limit=limit)

    @staticmethod
    def end_live_session(session_id: str) -> Call:
        return _send("DELETE", f"/sessions/{_seg(session_id)}", SessionEnd)

    @staticmethod
    def report(report: str, start: date | None, end: date | None, by: str) -> Call:
        params = _no_nones(**{"from": _day(start), "to": _day(end), "by": by})
        return Call("GET", f"/api/v1/reports/{_seg(report)}", _reader(ReportView), params=params)

    @staticmethod
    def export_csv(name: str) -> Call:
        return Call("GET", f"/api/v1/exports/{_seg(name)}.csv", _csv_rows, download=True)

    @staticmethod
    def reclaim(inactive_days: int, cal_type: str, dry_run: bool) -> Call:
        body = {"inactive_days": inactive_days, "cal_type": cal_type, "dry_run": dry_run}
        return _send("POST", "/reclaim", ReclaimReport, body)

    @staticmethod
    def alerts(limit: int) -> Call:
        return _get("/alerts", AlertsView, limit=limit)

    @staticmethod
    def test_alerts() -> Call:
        return _send("POST", "/alerts/test", list[AlertDeliveryView])
    # -- license leases ----------------------------------------------------------------------------------

    @staticmethod
    def list_leases(user: str, machine: str, state: str, limit: int) -> Call:
        return _get("/leases", list[LeaseView], user=user, machine=machine, state=state, limit=limit)

    @staticmethod
    def end_lease(lease_id: str) -> Call:
        return _send("POST", f"/leases/{_seg(lease_id)}/end", LeaseView)

    @staticmethod
    def revoke_leases(user: str) -> Call:
        return _send("POST", "/leases/revoke", list[LeaseView], {"user": user})
