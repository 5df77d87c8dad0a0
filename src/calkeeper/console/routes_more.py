"""Users, license leases, clearing CAL data and the audit trail."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.web import form_of, identity, page, redirect, site_of
from calkeeper.contract.views import BackupFileView
from calkeeper.core.errors import CalkeeperError
from calkeeper.usecases.console_users import ConsoleIdentity
from calkeeper.usecases.maintenance import HOLDS, list_backups

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]
BACKUP_NAME = re.compile(r"[A-Za-z0-9._-]+\.json")


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, who: Who, name: Annotated[str, Query(max_length=300)] = "",
          q: Annotated[str, Query(max_length=200)] = "") -> Response:
    site = site_of(request)
    info = history = None
    error = ""
    if name:
        try:
            info = site.user_cals(name)
            history = site.audit(limit=50, target=name)
        except CalkeeperError as problem:
            error = problem.message
    return page(request, "users.html", who, name=name, q=q, found=site.find_users(q, limit=100), info=info,
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
    site, lease_id = site_of(request), str(form.get("lease_id", ""))
    try:
        ended = await run_in_threadpool(lambda: site.end_lease(lease_id, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, "/leases", error=[f"No lease was ended: {error.message}."])
    return redirect(request, "/leases", ok=[f"The lease of {ended.user} on {ended.machine} is ended; "
                                            "its place is free."])


@router.post("/leases/revoke")
async def revoke_leases(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, user = site_of(request), str(form.get("user", ""))
    try:
        revoked = await run_in_threadpool(lambda: site.revoke_leases(user, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, "/leases", error=[f"Nothing was revoked: {error.message}."])
    machines = ", ".join(r.machine for r in revoked) or "none held"
    return redirect(request, "/leases", ok=[f"{len(revoked)} lease{'s' if len(revoked) != 1 else ''} of {user} "
                                            f"revoked ({machines}); each client is refused at its next connection."])


def _backups(request: Request) -> list[BackupFileView]:
    return list_backups(request.app.state.backups_dir)


@router.get("/maintenance/clear", response_class=HTMLResponse)
def clear_page(request: Request, who: Who) -> Response:
    site = site_of(request)
    return page(request, "clear.html", who, license=site.license(), backups=_backups(request),
                overview=site.cal_overview(), holds=HOLDS)


@router.post("/maintenance/clear")
async def clear(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site = site_of(request)
    license = site.license()
    typed = str(form.get("confirm_serial", "")).strip()
    if license is None or typed != license.serial:
        return redirect(request, "/maintenance/clear",
                        error=["Nothing was cleared: type the site's serial number exactly to confirm."])
    target = request.app.state.backups_dir / f"before-clear-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json"
    try:
        outcome = await run_in_threadpool(lambda: site.clear_cal_data(backup_to=target,
                                                                      actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, "/maintenance/clear", error=[f"Nothing was cleared: {error.message}"])
    removed = ", ".join(f"{k.replace('_', ' ').replace('cals', 'CALs')}: {v}" for k, v in outcome.removed.items())
    return redirect(request, "/maintenance/clear", ok=[
        f"CAL data cleared ({removed}).", f"A backup was written first: {target.name}. Restore it below if needed."])


@router.post("/maintenance/restore")
async def restore(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    name = str(form.get("backup", ""))
    if not BACKUP_NAME.fullmatch(name) or not (request.app.state.backups_dir / name).exists():
        return redirect(request, "/maintenance/clear", error=["Choose one of the backups listed."])
    site = site_of(request)
    try:
        counts = await run_in_threadpool(lambda: site.restore(request.app.state.backups_dir / name,
                                                              actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, "/maintenance/clear", error=[f"Nothing was restored: {error.message}"])
    return redirect(request, "/maintenance/clear", ok=[
        f"Restored {name}: {counts.get('named_cals', 0)} Named CALs, {counts.get('document_cals', 0)} Document CALs."])


@router.get("/audit", response_class=HTMLResponse)
def audit(request: Request, who: Who, target: Annotated[str, Query(max_length=300)] = "",
          action: Annotated[str, Query(max_length=60)] = "") -> Response:
    entries = site_of(request).audit(limit=200, target=target, action=action)
    return page(request, "audit.html", who, entries=entries, target=target, action=action)
