"""Users, license leases, clearing CAL data and the audit trail."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.listing import Listing, clamp_page
from calkeeper.console.web import application_of, form_of, identity, page, redirect, root_of, site_of
from calkeeper.contract.views import BackupFileView
from calkeeper.core.errors import CalkeeperError
from calkeeper.usecases.console_users import ConsoleIdentity
from calkeeper.usecases.maintenance import HOLDS, list_backups

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]
BACKUP_NAME = re.compile(r"[A-Za-z0-9._-]+\.json")


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, who: Who, name: Annotated[str, Query(max_length=300)] = "",
          q: Annotated[str, Query(max_length=200)] = "",
          page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1) -> Response:
    site, named_cals = site_of(request), application_of(request).named_cals
    info = history = None
    error = ""
    if name:
        try:
            info = site.user_cals(name)
            history = site.audit(limit=50, target=name)
        except CalkeeperError as problem:
            error = problem.message
    asked = Listing(root_of(request) + "/users", {"q": q}, "user", page_number)
    found, total = named_cals.find_users_page(q, limit=asked.size, offset=asked.offset)
    listing = replace(asked, page_number=clamp_page(page_number, total), total=total)
    if listing.page_number != page_number:  # past the end: the last page
        found = named_cals.find_users_page(q, limit=listing.size, offset=listing.offset)[0]
    return page(request, "users.html", who, name=name, q=q, found=found, listing=listing, info=info,
                history=history, error=error)


@router.get("/leases", response_class=HTMLResponse)
def leases(request: Request, who: Who, user: Annotated[str, Query(max_length=300)] = "",
           state: Annotated[str, Query(pattern="^(all|live|ended)$")] = "all") -> Response:
    site = site_of(request)
    error = ""
    try:
        history = site.list_leases(user=user, state=state, limit=500)
    except CalkeeperError as problem:
        history, error = [], problem.message
    return page(request, "leases.html", who, leases=history, overview=site.cal_overview(), user=user, state=state,
                error=error)


@router.post("/leases/end")
async def end_lease(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, lease_id, back = site_of(request), str(form.get("lease_id", "")), _leases_back(form)
    try:
        ended = await run_in_threadpool(lambda: site.end_lease(lease_id, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, back, error=[f"No lease was ended: {error.message}."])
    return redirect(request, back, ok=[f"The lease of {ended.user} on {ended.machine} is ended; "
                                            "its place is free."])


@router.post("/leases/revoke")
async def revoke_leases(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, user, back = site_of(request), str(form.get("user", "")), _leases_back(form)
    try:
        revoked = await run_in_threadpool(lambda: site.revoke_leases(user, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, back, error=[f"Nothing was revoked: {error.message}."])
    machines = ", ".join(r.machine for r in revoked) or "none held"
    return redirect(request, back, ok=[f"{len(revoked)} lease{'s' if len(revoked) != 1 else ''} of {user} "
                                            f"revoked ({machines}); each client is refused at its next connection."])


def _leases_back(form: dict[str, Any]) -> str:
    """The leases list as the admin had filtered it (the filter rides along in the form as shown_user, shown_state)."""
    narrow = {"user": str(form.get("shown_user", ""))[:300], "state": str(form.get("shown_state", ""))}
    if narrow["state"] not in ("all", "live", "ended"):
        narrow["state"] = "all"
    return "/leases" + (f"?{urlencode(narrow)}" if narrow["user"] or narrow["state"] != "all" else "")


def _backups(request: Request) -> list[BackupFileView]:
    return list_backups(request.app.state.backups_dir)


@router.get("/maintenance/clear", response_class=HTMLResponse)
def clear_page(request: Request, who: Who) -> Response:
    return _clear_page(request, who)


def _clear_page(request: Request, who: ConsoleIdentity, *, typed: str = "", chosen: str = "", problem: str = "",
                status: int = 200) -> Response:
    """The page; after a refused clear or restore its form shows what the admin typed or chose, and why it was
    refused."""
    site = site_of(request)
    response = page(request, "clear.html", who, license=site.license(), backups=_backups(request),
                    overview=site.cal_overview(), holds=HOLDS, typed=typed, chosen=chosen, problem=problem,
                    **({"flash": {"kind": "error", "lines": [problem]}} if problem else {}))
    response.status_code = status
    return response


@router.post("/maintenance/clear", response_class=HTMLResponse)
async def clear(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site = site_of(request)
    license = site.license()
    typed = str(form.get("confirm_serial", ""))[:100]
    if license is None or typed.strip() != license.serial:
        return _clear_page(request, who, typed=typed, status=422, problem=(
            "Nothing was cleared: type the site's serial number exactly to confirm."))
    target = request.app.state.backups_dir / f"before-clear-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json"
    try:
        outcome = await run_in_threadpool(lambda: site.clear_cal_data(backup_to=target,
                                                                      actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return _clear_page(request, who, typed=typed, status=409,
                           problem=f"Nothing was cleared: {error.message}")
    removed = ", ".join(f"{k.replace('_', ' ').replace('cals', 'CALs')}: {v}" for k, v in outcome.removed.items())
    return redirect(request, "/maintenance/clear", ok=[
        f"CAL data cleared ({removed}).", f"A backup was written first: {target.name}. Restore it below if needed."])


@router.post("/maintenance/restore", response_class=HTMLResponse)
async def restore(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    name = str(form.get("backup", ""))
    folder = request.app.state.backups_dir
    if not BACKUP_NAME.fullmatch(name) or not (folder / name).exists():
        return _clear_page(request, who, status=422, problem="Nothing was restored: choose one of the backups listed.")
    site = site_of(request)
    if form.get("confirmed") != "yes":
        return _confirm_restore(request, who, name)
    first = folder / f"before-restore-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json"
    try:
        await run_in_threadpool(lambda: site.backup(first, actor=f"console:{who.username}"))
        counts = await run_in_threadpool(lambda: site.restore(folder / name, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return _clear_page(request, who, chosen=name, status=409, problem=f"Nothing was restored: {error.message}")
    return redirect(request, "/maintenance/clear", ok=[
        f"Restored {name}: {counts.get('named_cals', 0):,} Named CALs, {counts.get('document_cals', 0):,} Document "
        "CALs.", f"The CAL data as it was before was backed up first: {first.name}. Restore it to undo."])


def _confirm_restore(request: Request, who: ConsoleIdentity, name: str) -> Response:
    """What restoring a backup replaces, and with what, before it is done; a file a restore refuses is refused
    here already."""
    path = request.app.state.backups_dir / name
    try:
        held = application_of(request).maintenance.backup_summary(path)
    except CalkeeperError as error:
        return _clear_page(request, who, chosen=name, status=409, problem=f"Nothing was restored: {error.message}")
    written = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    pools = {p.cal_type: p for p in site_of(request).cal_overview().pools}
    lines = [f"The site's CAL data is replaced by the backup {name}, written {written:%Y-%m-%d %H:%M} UTC: every "
             "Named and Document CAL, allocation, quarantine, setting and the license in it.",
             "The CAL data now is backed up first, to a new file listed here afterwards: restore that file to undo.",
             "The audit trail stays as it is."]
    table = [["", "Now", "In the backup"],
             ["Named CALs", pools["named"].assigned, held.get("named_cals", 0)],
             ["Document CALs", pools["document"].assigned, held.get("document_cals", 0)]]
    return page(request, "confirm.html", who, title=f"Restore {name}?", lines=lines, table=table,
                action=root_of(request) + "/maintenance/restore", fields={"backup": name},
                button="Back up the data now, then restore", danger=True,
                cancel=root_of(request) + "/maintenance/clear", nav_as="clear")


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, who: Who, target: Annotated[str, Query(max_length=300)] = "",
          action: Annotated[str, Query(max_length=60)] = "", document: Annotated[str, Query(max_length=1000)] = "",
          since: Annotated[str, Query(max_length=10)] = "", until: Annotated[str, Query(max_length=10)] = "",
          page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1) -> Response:
    reports = application_of(request).reports
    start, end, problem = _day(since), _day(until), ""
    if (since and start is None) or (until and end is None):
        problem = "Dates are written YYYY-MM-DD; the one that is not was left out of the filter."
    narrow: dict[str, Any] = {"action": action, "target": target, "document": document,
                              "since": start,
              "until": end + timedelta(days=1) if end else None}
    params = {"target": target, "action": action, "document": document, "since": since, "until": until}
    asked = Listing(root_of(request) + "/audit", params, "newest", page_number)
    entries, total = reports.audit_page(limit=asked.size, offset=asked.offset, **narrow)
    listing = replace(asked, page_number=clamp_page(page_number, total), total=total)
    if listing.page_number != page_number:  # past the end: the last page
        entries = reports.audit_page(limit=listing.size, offset=listing.offset, **narrow)[0]
    return page(request, "audit.html", who, entries=entries, listing=listing, problem=problem,
                actions=reports.audit_actions(), documents=[d.path for d in site_of(request).list_documents()],
                **params)


def _day(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC) if text else None
    except ValueError:
        return None
