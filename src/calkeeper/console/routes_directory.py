"""Users & upkeep > Directory: search groups, assign CALs to a group once, group rules and their sync."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.web import form_of, identity, page, redirect, refused_first, site_of
from calkeeper.contract.views import MemberOutcome, SyncReport
from calkeeper.core.errors import CalkeeperError
from calkeeper.usecases.console_users import ConsoleIdentity

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]


def outcome_line(o: MemberOutcome) -> str:
    until = f" until {o.quarantined_until:%Y-%m-%d %H:%M} UTC" if o.quarantined_until else ""
    return f"{o.user}: {o.outcome}{until}{f' ({o.detail})' if o.detail else ''}."


def sync_lines(report: SyncReport) -> list[str]:
    if report.waiting:
        return [f"The sync waits: {report.waiting}."]
    lines = []
    for part in report.rules:
        what = f"Document CALs for {part.rule.document}" if part.rule.document else "Named CALs"
        lines.append(f"Rule {part.rule.id}, {part.rule.group} ({part.members} members), {what}: "
                     f"{part.problem or ('in step' if not part.assign and not part.remove else '')}")
        lines += [outcome_line(o) for o in part.assign + part.remove]
    return (lines or ["There is no group rule yet."]) + (["Dry run: nothing was changed."] if report.dry_run else [])


@router.get("/directory", response_class=HTMLResponse)
def directory_page(request: Request, who: Who, group: Annotated[str, Query(max_length=200)] = "") -> Response:
    return _directory(request, who, group=group)


def _directory(request: Request, who: ConsoleIdentity, *, group: str = "", kept: dict[str, Any] | None = None,
               problem: str = "", status: int = 200) -> Response:
    """The page; ``kept`` holds a refused form as the admin left it (``kept["form"]`` names which form)."""
    site = site_of(request)
    groups, search_problem = [], ""
    try:
        groups = site.search_directory(group, kind="group", limit=50)
    except CalkeeperError as error:
        search_problem = error.message
    response = page(request, "directory.html", who, group=group, groups=groups, problem=search_problem,
                    rules=site.list_group_rules(), documents=[d.path for d in site.list_documents() if not d.missing],
                    kept=kept or {}, **({"flash": {"kind": "error", "lines": [problem]}} if problem else {}))
    response.status_code = status
    return response


async def _run(request: Request, who: ConsoleIdentity, work: str) -> Response:
    form = await form_of(request, who)
    site, actor = site_of(request), f"console:{who.username}"
    group, document = str(form.get("group", "")).strip(), str(form.get("document", "")).strip() or None
    search = str(form.get("search", ""))[:200]  # the group search the page showed, shown again afterwards
    try:
        if work == "assign":
            done = await run_in_threadpool(lambda: site.assign_group(
                group, document=document, all_or_nothing=form.get("all_or_nothing") == "on", actor=actor))
            lines = [f"{done.group}: {done.assigned} of {done.members} members got a CAL."]
            lines += refused_first([(o.outcome, outcome_line(o)) for o in done.outcomes])
        elif work == "rule":
            rule = await run_in_threadpool(lambda: site.add_group_rule(group, document=document, actor=actor))
            lines = [f"Rule {rule.id} added: the members of {rule.group} hold "
                     f"{'a Document CAL for ' + rule.document if rule.document else 'a Named CAL'}. Sync to apply it."]
        elif work == "remove":
            rule = await run_in_threadpool(lambda: site.remove_group_rule(int(form.get("rule_id", 0)), actor=actor))
            lines = [f"Rule {rule.id} ({rule.group}) removed; the {rule.holders} CALs it gave stay."]
        else:
            dry = form.get("dry_run") == "on"
            lines = sync_lines(await run_in_threadpool(lambda: site.sync_directory(dry_run=dry, actor=actor)))
    except (CalkeeperError, ValueError) as error:
        kept = {key: str(value)[:1000] for key, value in form.items() if key != "csrf_token"}
        refused = isinstance(error, CalkeeperError)  # else a rule number that is not one
        why = error.message if isinstance(error, CalkeeperError) else "the rule number is a whole number"
        return _directory(request, who, group=search, kept={**kept, "form": work},
                          problem=f"Nothing was changed: {why}", status=409 if refused else 422)
    return redirect(request, "/directory" + (f"?group={quote(search)}" if search else ""), ok=lines)


@router.post("/directory/assign")
async def assign(request: Request, who: Who) -> Response:
    return await _run(request, who, "assign")


@router.post("/directory/rules")
async def add_rule(request: Request, who: Who) -> Response:
    return await _run(request, who, "rule")


@router.post("/directory/rules/remove")
async def remove_rule(request: Request, who: Who) -> Response:
    return await _run(request, who, "remove")


@router.post("/directory/sync")
async def sync(request: Request, who: Who) -> Response:
    return await _run(request, who, "sync")
