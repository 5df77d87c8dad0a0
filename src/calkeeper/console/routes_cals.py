"""System > Licenses > Client Access Licenses: the General and Assigned CALs tabs."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.listing import PAGE_SIZE, Listing, clamp_page
from calkeeper.console.web import (
    application_of,
    form_of,
    identity,
    page,
    redirect,
    root_of,
    site_of,
    tally,
    typed_names,
)
from calkeeper.contract.views import AssignOutcome, CalOverview, RemovalOutcome
from calkeeper.core.errors import CalkeeperError
from calkeeper.core.identities import user_problem
from calkeeper.usecases.console_users import ConsoleIdentity

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]
SORTS = {"user": "User", "-user": "User (Z-A)", "last_used": "Last used (oldest first)",
         "-last_used": "Last used (newest first)", "quarantined_until": "Quarantined until", "source": "Source"}


def removal_line(outcome: object) -> str:
    user, until = outcome.user, outcome.quarantined_until  # type: ignore[attr-defined]
    where = f" for {outcome.document}" if getattr(outcome, "document", None) else ""  # type: ignore[attr-defined]
    if until is None:
        return f"{user}{where}: freed at once (not used in the last 7 days); it can be assigned again now."
    return f"{user}{where}: quarantined until {until:%Y-%m-%d %H:%M} UTC (last used + 7 days); restore it until then."


def changes_report(removed: list[RemovalOutcome], restored: list[AssignOutcome], *,
                   restored_line: str = "restored (the same CAL, with its history)") -> list[str]:
    """What Apply did: the total, then every user's outcome."""
    return tally([("restored", f"{o.user}: {restored_line}.") for o in restored]
                 + [(o.outcome, removal_line(o)) for o in removed])


@router.get("/cals", response_class=HTMLResponse)
def general(request: Request, who: Who) -> Response:
    return _general(request, who)


def _general(request: Request, who: ConsoleIdentity, *, chosen: dict[str, Any] | None = None,
             problem: str = "") -> Response:
    """The tab; after a refused Apply the settings form shows what the admin chose, not what is stored."""
    site = site_of(request)
    response = page(request, "cals_general.html", who, overview=site.cal_overview(), license=site.license(),
                    chosen=chosen, problem=problem,
                    **({"flash": {"kind": "error", "lines": [problem]}} if problem else {}))
    if problem:
        response.status_code = 409
    return response


@router.post("/cals/settings", response_class=HTMLResponse)
async def save_settings(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site = site_of(request)
    mode = str(form.get("identification_mode", "user"))[:40]
    dynamic, lease = form.get("allow_dynamic_assignment") == "on", form.get("allow_license_lease") == "on"
    overview = await run_in_threadpool(site.cal_overview)
    if mode != overview.settings.identification_mode and mode in ("user", "machine") and form.get("confirmed") != "yes":
        return _confirm_mode_switch(request, who, form, overview, mode)
    try:
        saved = await run_in_threadpool(lambda: site.update_cal_settings(
            allow_dynamic_assignment=dynamic, allow_license_lease=lease, identification_mode=mode,
            actor=f"console:{who.username}"))
    except CalkeeperError as error:
        chosen = {"allow_dynamic_assignment": dynamic, "allow_license_lease": lease, "identification_mode": mode}
        return _general(request, who, chosen=chosen, problem=f"Nothing was saved: {error.message}.")
    return redirect(request, "/cals", ok=[
        f"Saved: dynamic CAL assignment {'on' if saved.allow_dynamic_assignment else 'off'}, license lease "
        f"{'on' if saved.allow_license_lease else 'off'}, identification by {saved.identification_mode} name."
        + (f" {saved.other_kind_note}." if saved.other_kind_note else "")])


def _confirm_mode_switch(request: Request, who: ConsoleIdentity, form: dict[str, Any], overview: CalOverview,
                         mode: str) -> Response:
    """Say what switching the identification mode does to the Named CALs already assigned."""
    named = next(p for p in overview.pools if p.cal_type == "named")
    was = overview.settings.identification_mode
    staying = named.assigned - overview.settings.other_kind_named_cals  # held by names of the kind in use now
    back_again = overview.settings.other_kind_named_cals
    lines = [f"Named CALs will be tied to {mode} names: a {mode} name gets a Named CAL from now on.",
             f"The {staying:,} Named CALs assigned to {was} names stay assigned and occupy the pool "
             f"({named.in_license:,} in license) until you remove them on the Assigned CALs tab; they no longer "
             "let anyone open a document.",
             f"{back_again:,} Named CALs of {mode} names, kept from before, serve again." if back_again else
             f"No Named CAL is assigned to a {mode} name yet.",
             "You can switch back at any time; no CAL is removed by switching."]
    fields = {"identification_mode": mode}
    for box in ("allow_dynamic_assignment", "allow_license_lease"):
        if form.get(box) == "on":
            fields[box] = "on"
    return page(request, "confirm.html", who, title=f"Identify Named CALs by {mode} name?", lines=lines,
                action=root_of(request) + "/cals/settings", fields=fields, button=f"Identify by {mode} name",
                danger=False, cancel=root_of(request) + "/cals", nav_as="cals_general")


@router.get("/cals/assigned", response_class=HTMLResponse)
def assigned(
    request: Request, who: Who,
    q: Annotated[str, Query(max_length=200)] = "",
    sort: Annotated[str, Query(max_length=30)] = "user",
    page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1,
    source: Annotated[str, Query(max_length=10)] = "",
    state: Annotated[str, Query(max_length=12)] = "",
    unused: Annotated[str, Query(max_length=6)] = "",
    manage: bool = False,
    find: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    narrow = AssignedFilter.of({"q": q, "source": source, "state": state, "unused": unused})
    return _assigned(request, who, narrow, sort=sort, page_number=page_number, manage=manage, find=find)


@dataclass(frozen=True)
class AssignedFilter:
    """What narrows the Assigned CALs list, as its URL says it."""

    q: str = ""
    source: str = ""  # "", "manual" or "dynamic"
    state: str = ""  # "", "quarantined" or "active"
    unused: int | None = None  # not used for this many days

    @classmethod
    def of(cls, form: dict[str, Any]) -> AssignedFilter:
        days = str(form.get("unused", "")).strip()
        return cls(q=str(form.get("q", ""))[:200], source=str(form.get("source", "")),
                   state=str(form.get("state", "")),
                   unused=min(int(days), 36_500) if days.isdigit() and len(days) < 7 else None)

    def narrowing(self) -> dict[str, Any]:
        """The use case's arguments."""
        quarantined = {"quarantined": True, "active": False}.get(self.state)
        return {"search": self.q, "source": self.source if self.source in ("manual", "dynamic") else "",
                "quarantined": quarantined, "unused_days": self.unused}

    def params(self) -> dict[str, str]:
        return {"q": self.q, "source": self.source, "state": self.state,
                "unused": "" if self.unused is None else str(self.unused)}

    def describe(self) -> str:
        parts = [f"matching “{self.q}”" if self.q else "", f"assigned {self.source}ly" if self.source else "",
                 {"quarantined": "in quarantine", "active": "not in quarantine"}.get(self.state, ""),
                 f"not used for {self.unused} days" if self.unused is not None else ""]
        return ", ".join(p for p in parts if p)


def _assigned(request: Request, who: ConsoleIdentity, narrow: AssignedFilter, *, sort: str = "user",
              page_number: int = 1, manage: bool = False, find: str = "", typed: str = "",
              problems: list[str] | None = None, staged: dict[str, list[str]] | None = None,
              refused: str = "") -> Response:
    """The tab; after a refused Apply the rows the admin marked stay marked (``staged``), with why (``refused``)."""
    site, named_cals = site_of(request), application_of(request).named_cals
    sort = sort if sort in SORTS else "user"
    asked = Listing(root_of(request) + "/cals/assigned", narrow.params(), sort, page_number)
    cals = named_cals.list_named_cals(limit=asked.size, sort=sort, offset=asked.offset, **narrow.narrowing())
    listing = replace(asked, page_number=clamp_page(page_number, cals.total), total=cals.total)
    if listing.page_number != page_number:  # past the end: the last page
        cals = named_cals.list_named_cals(limit=listing.size, sort=sort, offset=listing.offset, **narrow.narrowing())
    found, groups, directory_problem = [], [], ""
    if manage and find:
        try:
            found = [e.name for e in site.search_directory(find, kind="user", limit=PAGE_SIZE)]
            groups = site.search_directory(find, kind="group", limit=20)
        except CalkeeperError as error:  # the directory is down: the users this site has seen still show
            directory_problem = error.message
            found = site.find_users(find)
    return page(request, "cals_assigned.html", who, cals=cals, listing=listing, narrow=narrow, sorts=SORTS,
                manage=manage, find=find, found=found, groups=groups, directory_problem=directory_problem,
                typed=typed, problems=problems or [], staged=staged or {"remove": [], "restore": []},
                pool=next(p for p in site.cal_overview().pools if p.cal_type == "named"),
                **({"flash": {"kind": "error", "lines": [refused]}} if refused else {}))


def _back(form: dict[str, Any]) -> str:
    """The list the admin was on: its page, search, filters and sort, rebuilt from the form (never a URL)."""
    narrow = AssignedFilter.of(form)
    sort = str(form.get("sort", "user"))
    page_number = str(form.get("page", "1"))
    listing = Listing("/cals/assigned", narrow.params(), sort if sort in SORTS else "user",
                      int(page_number) if page_number.isdigit() and len(page_number) < 8 else 1)
    return listing.here()


@router.post("/cals/assigned/apply")
async def apply_changes(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    back = _back(form)
    remove, restore = list(form.get("remove[]", [])), list(form.get("restore[]", []))
    everything = str(form.get("all_matching", ""))
    if everything in ("remove", "restore"):  # "all N matching this search", on every page
        narrow = AssignedFilter.of(form).narrowing()
        narrow["quarantined"] = everything == "restore"
        names = await run_in_threadpool(lambda: application_of(request).named_cals.named_cal_holders(**narrow))
        if everything == "remove":
            remove, restore = names, []
        else:
            remove, restore = [], names
        if not names:
            return redirect(request, back, error=["No CAL matches the search and filters: nothing was changed."])
        if form.get("confirmed") != "yes":
            return confirm_all(request, who, form, everything, len(names))
    if not remove and not restore:
        return redirect(request, back, error=["Nothing is staged: mark rows to remove or restore first."])
    site = site_of(request)
    try:
        removed, restored = await run_in_threadpool(
            lambda: site.apply_named_changes(remove=remove, restore=restore, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        if everything in ("remove", "restore"):
            return redirect(request, back, error=[f"Nothing was applied: {error.message}"])
        page_number = str(form.get("page", "1"))
        response = _assigned(request, who, AssignedFilter.of(form), sort=str(form.get("sort", "user")),
                             page_number=int(page_number) if page_number.isdigit() and len(page_number) < 8 else 1,
                             staged={"remove": remove, "restore": restore},
                             refused=f"Nothing was applied: {error.message}")
        response.status_code = 409
        return response
    return redirect(request, back, ok=changes_report(removed, restored))


def confirm_all(request: Request, who: ConsoleIdentity, form: dict[str, Any], what: str, count: int) -> Response:
    """Say what Apply to every matching CAL will do before doing it."""
    narrow = AssignedFilter.of(form)
    keep = {k: str(v) for k, v in form.items() if k in ("q", "source", "state", "unused", "sort", "page")}
    verb = "Remove" if what == "remove" else "Restore"
    lines = [f"{verb} the Named CALs of {count:,} users" + (f" ({narrow.describe()})" if narrow.describe() else "")
             + ", on every page of the list."]
    if what == "remove":
        lines.append("CALs used in the last 7 days are quarantined until last used + 7 days (restorable until "
                     "then); the others are freed at once and can be assigned to other users.")
    return page(request, "confirm.html", who, title=f"{verb} {count:,} Named CALs?", lines=lines,
                action=root_of(request) + "/cals/assigned/apply", fields={**keep, "all_matching": what},
                button=f"{verb} {count:,} Named CALs", danger=what == "remove",
                cancel=root_of(request) + _back(form), nav_as="cals_assigned")


@router.post("/cals/assigned/add", response_class=HTMLResponse)
async def add_users(request: Request, who: Who) -> Response:
    """Manage users' OK, or its Search: a search shows what it found and keeps every name typed so far."""
    form = await form_of(request, who)
    typed, find = str(form.get("users", "")), str(form.get("find", ""))[:200]
    picked = form.get("pick[]", [])
    if form.get("do") == "search":
        return _assigned(request, who, AssignedFilter(), manage=True, find=find, typed=typed)
    entries = typed_names(typed) + list(picked)
    problems = [f"'{e}': {p}" for e in entries if (p := user_problem(e))]
    if problems or not entries:
        response = _assigned(request, who, AssignedFilter(), manage=True, typed=typed, find=find,
                             problems=problems or ["Type at least one DOMAIN\\user or pick one from the search."])
        response.status_code = 422
        return response
    site = site_of(request)
    try:
        outcomes = await run_in_threadpool(lambda: site.assign_named_cals(entries, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        response = _assigned(request, who, AssignedFilter(), manage=True, typed=typed, find=find,
                             problems=[error.message])
        response.status_code = 409
        return response
    return redirect(request, "/cals/assigned", ok=tally([(o.outcome, f"{o.user}: {o.outcome}.") for o in outcomes]))
