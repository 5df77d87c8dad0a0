"""Documents > Document CALs: allocation, dynamic assignment and assigned users per document."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.routes_cals import changes_report
from calkeeper.console.web import form_of, identity, page, redirect, site_of, tally, typed_names
from calkeeper.core.errors import CalkeeperError
from calkeeper.core.identities import user_problem
from calkeeper.usecases.console_users import ConsoleIdentity

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


def _here(document: str) -> str:
    from urllib.parse import quote

    return f"/documents?doc={quote(document)}"


@router.get("/documents", response_class=HTMLResponse)
def documents(request: Request, who: Who, doc: Annotated[str, Query(max_length=1000)] = "") -> Response:
    return _documents(request, who, doc=doc)


def _documents(request: Request, who: ConsoleIdentity, *, doc: str = "", problems: list[str] | None = None,
               typed: str = "") -> Response:
    site = site_of(request)
    views = site.list_documents()
    selected = next((v for v in views if v.path == doc), views[0] if views and not doc else None)
    trouble = ""
    try:
        cals = site.list_document_cals(selected.path) if selected else []
    except CalkeeperError as error:  # released (say, on another node) since the list was read: keep the page
        cals, selected, trouble = [], None, error.message
    pool = next(p for p in site.cal_overview().pools if p.cal_type == "document")
    return page(request, "documents.html", who, documents=views, tree=tree([v.path for v in views]),
                selected=selected, cals=cals, pool=pool, problems=problems or [], typed=typed,
                unknown=doc if doc and selected is None and not trouble else "", trouble=trouble,
                unservable=site.document_problems())


@router.post("/documents/settings")
async def save(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, document = site_of(request), str(form.get("document", ""))
    actor = f"console:{who.username}"
    try:
        allocated = int(str(form.get("cals_allocated", "0")).strip() or "0")
    except ValueError:
        return redirect(request, _here(document), error=["The number of CALs allocated must be a whole number."])
    try:
        view = await run_in_threadpool(lambda: site.update_document(
            document, cals_allocated=allocated, allow_dynamic_assignment=form.get("allow_dynamic_assignment") == "on",
            actor=actor))
    except CalkeeperError as error:
        return redirect(request, _here(document), error=[f"Nothing was changed: {error.message}."])
    return redirect(request, _here(view.path), ok=[
        f"{view.path}: {view.cals_allocated} Document CALs allocated, dynamic CAL assignment "
        f"{'on' if view.allow_dynamic_assignment else 'off'}."])


@router.post("/documents/apply")
async def apply_changes(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, document = site_of(request), str(form.get("document", ""))
    remove, restore = form.get("remove[]", []), form.get("restore[]", [])
    actor = f"console:{who.username}"
    if not remove and not restore:
        return redirect(request, _here(document), error=["Nothing is staged: mark rows with ✕ or ↶ first."])
    try:
        removed, restored = await run_in_threadpool(
            lambda: site.apply_document_changes(document, remove=remove, restore=restore, actor=actor))
    except CalkeeperError as error:
        return redirect(request, _here(document), error=[f"Nothing was applied: {error.message}"])
    return redirect(request, _here(document), ok=changes_report(removed, restored, restored_line="restored"))


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


@router.post("/documents/release")
async def release(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site, document = site_of(request), str(form.get("document", ""))
    try:
        result = await run_in_threadpool(
            lambda: site.release_missing_document(document, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, _here(document), error=[f"Nothing was released: {error.message}."])
    return redirect(request, "/documents", ok=[
        f"{result.document}: {result.cals_released} Document CALs released; the document is forgotten."])
