"""Documents > Document CALs: allocation, dynamic assignment and assigned users per document."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.listing import Listing, clamp_page
from calkeeper.console.routes_cals import changes_report
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
from calkeeper.core.errors import CalkeeperError
from calkeeper.core.identities import user_problem
from calkeeper.usecases.console_users import ConsoleIdentity
from calkeeper.usecases.document_cals import DOCUMENT_SORTS

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]


def tree(paths: list[str]) -> dict[str, object]:
    """Documents as a folder tree: {folder: {...}, file: path}."""
    root: dict[str, object] = {}
    for path in paths:
        node = root
        *folders, name = path.split("/")
        for folder in folders:
            node = node.setdefault(folder + "/", {})  # type: ignore[assignment]
        node[name] = path
    return root


def _here(document: str, **keep: object) -> str:
    listing = Listing("/documents", {"doc": document, "q": str(keep.get("q", ""))}, str(keep.get("sort", "user")),
                      int(str(keep.get("page", 1))) if str(keep.get("page", 1)).isdigit() else 1)
    return listing.here()


@router.get("/documents", response_class=HTMLResponse)
def documents(request: Request, who: Who, doc: Annotated[str, Query(max_length=1000)] = "",
              q: Annotated[str, Query(max_length=200)] = "", sort: Annotated[str, Query(max_length=30)] = "user",
              page_number: Annotated[int, Query(alias="page", ge=1, le=1_000_000)] = 1) -> Response:
    return _documents(request, who, doc=doc, q=q, sort=sort, page_number=page_number)


def _documents(request: Request, who: ConsoleIdentity, *, doc: str = "", q: str = "", sort: str = "user",
               page_number: int = 1, problems: list[str] | None = None, typed: str = "",
               kept: dict[str, Any] | None = None) -> Response:
    """The page; ``kept`` holds a refused Apply's form, shown as the admin left it."""
    site = site_of(request)
    views = application_of(request).documents.list_documents(scan=False)  # the server's upkeep scans the folder
    selected = next((v for v in views if v.path == doc), views[0] if views and not doc else None)
    sort = sort if sort.lstrip("-") in DOCUMENT_SORTS else "user"
    trouble, listing, cals = "", None, []
    try:
        if selected:
            holders = application_of(request).document_cals
            asked = Listing(root_of(request) + "/documents", {"doc": selected.path, "q": q}, sort, page_number)
            found = holders.document_cal_page(selected.path, search=q, sort=sort, limit=asked.size, offset=asked.offset,
                                              count=False)  # the view counted them: cals_assigned
            total = found.total if q else selected.cals_assigned
            listing = replace(asked, page_number=clamp_page(page_number, total), total=total)
            if listing.page_number != page_number:  # past the end: the last page
                found = holders.document_cal_page(selected.path, search=q, sort=sort, limit=listing.size,
                                                  offset=listing.offset, count=False)
            cals = found.items
    except CalkeeperError as error:  # released (say, on another node) since the list was read: keep the page
        cals, selected, trouble = [], None, error.message
    pool = next(p for p in site.cal_overview().pools if p.cal_type == "document")
    return page(request, "documents.html", who, documents=views, tree=tree([v.path for v in views]),
                selected=selected, cals=cals, listing=listing, q=q, pool=pool, problems=problems or [], typed=typed,
                kept=kept or {}, unknown=doc if doc and selected is None and not trouble else "", trouble=trouble,
                unservable=site.document_problems())


@router.post("/documents/apply", response_class=HTMLResponse)
async def apply_changes(request: Request, who: Who) -> Response:
    """The one Apply of a document: its allocation, dynamic assignment and every staged change on the page."""
    form = await form_of(request, who)
    site, document = site_of(request), str(form.get("document", ""))
    remove, restore = list(form.get("remove[]", [])), list(form.get("restore[]", []))
    actor, keep = f"console:{who.username}", {k: form.get(k, "") for k in ("q", "sort", "page")}

    def refused(message: str, status: int) -> Response:
        response = _documents(request, who, doc=document, q=str(keep["q"]), sort=str(keep["sort"] or "user"),
                              page_number=int(str(keep["page"])) if str(keep["page"]).isdigit() else 1,
                              kept={**form, "message": message})
        response.status_code = status
        return response

    typed = str(form.get("cals_allocated", "")).strip()
    if not typed.isdigit() or len(typed) > 9:
        return refused("Nothing was changed: the number of CALs allocated must be a whole number (0 or more).", 422)
    try:
        now = await run_in_threadpool(lambda: site.document(document))
    except CalkeeperError as error:
        return redirect(request, "/documents", error=[f"Nothing was changed: {error.message}."])
    allocated = int(typed) if int(typed) != now.cals_allocated else None
    dynamic = form.get("allow_dynamic_assignment") == "on"
    dynamic_change = dynamic if dynamic != now.allow_dynamic_assignment else None
    if not remove and not restore and allocated is None and dynamic_change is None:
        return refused("Nothing was changed: change the allocation or dynamic assignment, or mark rows to remove "
                       "or restore, first.", 422)
    try:
        removed, restored = await run_in_threadpool(lambda: site.apply_document_changes(
            document, remove=remove, restore=restore, cals_allocated=allocated,
            allow_dynamic_assignment=dynamic_change, actor=actor))
    except CalkeeperError as error:
        return refused(f"Nothing was changed: {error.message}.", 409)
    lines = changes_report(removed, restored, restored_line="restored") if remove or restore else []
    settings = []
    if allocated is not None:
        settings.append(f"{allocated:,} Document CALs allocated")
    if dynamic_change is not None:
        settings.append(f"dynamic CAL assignment {'on' if dynamic else 'off'}")
    if settings:
        lines = [f"{now.path}: {', '.join(settings)}."] + (["Staged changes: " + lines[0], *lines[1:]] if lines else [])
    return redirect(request, _here(now.path, **keep), ok=lines)


@router.post("/documents/add", response_class=HTMLResponse)
async def add_users(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, document, typed = site_of(request), str(form.get("document", "")), str(form.get("users", ""))
    entries = typed_names(typed)
    problems = [f"'{e}': {p}" for e in entries if (p := user_problem(e))]
    if problems or not entries:
        response = _documents(request, who, doc=document, typed=typed,
                              problems=problems or ["Type at least one DOMAIN\\user."])
        response.status_code = 422
        return response
    try:
        outcomes = await run_in_threadpool(
            lambda: site.assign_document_cals(document, entries, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        response = _documents(request, who, doc=document, typed=typed, problems=[error.message])
        response.status_code = 409
        return response
    return redirect(request, _here(document), ok=tally([(o.outcome, f"{o.user}: {o.outcome}.") for o in outcomes]))


@router.post("/documents/release", response_class=HTMLResponse)
async def release(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, document = site_of(request), str(form.get("document", ""))
    if form.get("confirmed") != "yes":
        try:
            view = await run_in_threadpool(lambda: site.document(document))
        except CalkeeperError as error:
            return redirect(request, "/documents", error=[f"Nothing was released: {error.message}."])
        lines = [f"{view.path} is no longer in the root folder (missing since {view.missing_since:%Y-%m-%d %H:%M} UTC)."
                 if view.missing_since else f"{view.path} is in the root folder.",
                 f"Its {view.cals_assigned:,} Document CALs are released: every holder loses them at once, with no "
                 "quarantine, and they return to the pool.",
                 f"Its allocation of {view.cals_allocated:,} Document CALs returns to the pool too, and the document "
                 "is forgotten: if the file comes back, it starts with no CALs.",
                 "This cannot be undone."]
        return page(request, "confirm.html", who, title=f"Release the Document CALs of {view.path}?", lines=lines,
                    action=root_of(request) + "/documents/release", fields={"document": view.path},
                    button=f"Release {view.cals_assigned:,} Document CALs", danger=True,
                    cancel=root_of(request) + _here(view.path), nav_as="documents")
    try:
        result = await run_in_threadpool(
            lambda: site.release_missing_document(document, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, _here(document), error=[f"Nothing was released: {error.message}."])
    return redirect(request, "/documents", ok=[
        f"{result.document}: {result.cals_released:,} Document CALs released; the document is forgotten."])
