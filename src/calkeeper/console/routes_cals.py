"""System > Licenses > Client Access Licenses: the General and Assigned CALs tabs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.web import application_of, form_of, identity, page, redirect, site_of
from calkeeper.core.errors import CalkeeperError
from calkeeper.core.identities import user_problem
from calkeeper.usecases.console_users import ConsoleIdentity

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]
PAGE_SIZE = 50
SORTS = {"user": "User", "-user": "User (Z-A)", "last_used": "Last used (oldest first)",
         "-last_used": "Last used (newest first)", "quarantined_until": "Quarantined until", "source": "Source"}


def removal_line(outcome: object) -> str:
    user, until = outcome.user, outcome.quarantined_until  # type: ignore[attr-defined]
    where = f" for {outcome.document}" if getattr(outcome, "document", None) else ""  # type: ignore[attr-defined]
    if until is None:
        return f"{user}{where}: freed at once (not used in the last 7 days); it can be assigned again now."
    return f"{user}{where}: quarantined until {until:%Y-%m-%d %H:%M} UTC (last used + 7 days); restore it until then."


@router.get("/cals", response_class=HTMLResponse)
def general(request: Request, who: Who) -> Response:
    site = site_of(request)
    return page(request, "cals_general.html", who, overview=site.cal_overview(), license=site.license())


@router.post("/cals/settings")
async def save_settings(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site = site_of(request)
    try:
        saved = await run_in_threadpool(lambda: site.update_cal_settings(
            allow_dynamic_assignment=form.get("allow_dynamic_assignment") == "on",
            allow_license_lease=form.get("allow_license_lease") == "on",
            identification_mode=str(form.get("identification_mode", "user")), actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, "/cals", error=[f"Nothing was saved: {error.message}."])
    return redirect(request, "/cals", ok=[
        f"Saved: dynamic CAL assignment {'on' if saved.allow_dynamic_assignment else 'off'}, license lease "
        f"{'on' if saved.allow_license_lease else 'off'}, identification by {saved.identification_mode} name."
        + (f" {saved.other_kind_note}." if saved.other_kind_note else "")])


@router.get("/cals/assigned", response_class=HTMLResponse)
def assigned(
    request: Request, who: Who,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=30)] = "user",
    page_number: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
    manage: bool = False,
    find: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return _assigned(request, who, q=q, sort=sort, page_number=page_number, manage=manage, find=find)


def _assigned(request: Request, who: ConsoleIdentity, *, q: str = "", sort: str = "user", page_number: int = 1,
              manage: bool = False, find: str = "", typed: str = "", problems: list[str] | None = None) -> Response:
    site = site_of(request)
    sort = sort if sort in SORTS else "user"
    cals = application_of(request).named_cals.list_named_cals(limit=PAGE_SIZE, search=q, sort=sort,
                                                              offset=(page_number - 1) * PAGE_SIZE)
    pages = max(1, -(-cals.total // PAGE_SIZE))
    found, groups, directory_problem = [], [], ""
    if manage and find:
        try:
            found = [e.name for e in site.search_directory(find, kind="user", limit=PAGE_SIZE)]
            groups = site.search_directory(find, kind="group", limit=20)
        except CalkeeperError as error:  # the directory is down: the users this site has seen still show
            directory_problem = error.message
            found = site.find_users(find)
    return page(request, "cals_assigned.html", who, cals=cals, q=q, sort=sort, sorts=SORTS, page_number=page_number,
                pages=pages, manage=manage, find=find, found=found, groups=groups, directory_problem=directory_problem,
                typed=typed, problems=problems or [],
                pool=next(p for p in site.cal_overview().pools if p.cal_type == "named"))


@router.post("/cals/assigned/apply")
async def apply_changes(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    remove, restore = form.get("remove[]", []), form.get("restore[]", [])
    if not remove and not restore:
        return redirect(request, "/cals/assigned", error=["Nothing is staged: mark rows with ✕ or ↶ first."])
    site = site_of(request)
    try:
        removed, restored = await run_in_threadpool(
            lambda: site.apply_named_changes(remove=remove, restore=restore, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, "/cals/assigned", error=[f"Nothing was applied: {error.message}"])
    lines = [f"{o.user}: restored (the same CAL, with its history)." for o in restored]
    lines += [removal_line(o) for o in removed]
    return redirect(request, "/cals/assigned", ok=lines)


@router.post("/cals/assigned/add", response_class=HTMLResponse)
async def add_users(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    typed = str(form.get("users", ""))
    picked = form.get("pick[]", [])
    entries = [e.strip() for e in typed.split(";") if e.strip()] + list(picked)
    problems = [f"'{e}': {p}" for e in entries if (p := user_problem(e))]
    if problems or not entries:
        response = _assigned(request, who, manage=True, typed=typed,
                             problems=problems or ["Type at least one DOMAIN\\user or pick one from the search."])
        response.status_code = 422
        return response
    site = site_of(request)
    try:
        outcomes = await run_in_threadpool(lambda: site.assign_named_cals(entries, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        response = _assigned(request, who, manage=True, typed=typed, problems=[error.message])
        response.status_code = 409
        return response
    return redirect(request, "/cals/assigned", ok=[f"{o.user}: {o.outcome}." for o in outcomes])
