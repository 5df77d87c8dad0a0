"""System > Licenses > Server license."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.web import form_of, identity, page, redirect, site_of
from calkeeper.core.errors import CalkeeperError
from calkeeper.usecases.console_users import ConsoleIdentity

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]


@router.get("/license", response_class=HTMLResponse)
def license_page(request: Request, who: Who) -> Response:
    site = site_of(request)
    return page(request, "license.html", who, license=site.license(), history=site.license_history())


@router.post("/license/apply")
async def apply_license(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site = site_of(request)
    # Browsers send a textarea's line breaks as CRLF whatever was pasted; the LEF's own are LF.
    lef = str(form.get("lef", "")).replace("\r\n", "\n")
    try:
        view = await run_in_threadpool(
            lambda: site.apply_license(serial=str(form.get("serial", "")), control=str(form.get("control", "")),
                                       owner=str(form.get("owner", "")), organization=str(form.get("organization", "")),
                                       lef=lef or None, actor=f"console:{who.username}")
        )
    except CalkeeperError as error:
        return redirect(request, "/license", error=[f"The license was not applied: {error.message}. "
                                                    "The license in force is unchanged."])
    return redirect(request, "/license", ok=[
        f"License {view.serial} applied: {view.cals['named']} Named, {view.cals['document']} Document, "
        f"{view.cals['session']} Session and {view.cals['usage']} Usage CALs."])


@router.post("/license/update")
async def update_license(request: Request, who: Who) -> Response:
    await form_of(request, who)
    site = site_of(request)
    try:
        update = await run_in_threadpool(lambda: site.update_license(actor=f"console:{who.username}"))
    except CalkeeperError as error:
        stays = "" if "license in force" in error.message else " The license in force is unchanged."
        return redirect(request, "/license", error=[f"The license was not updated: {error.message}.{stays}"])
    view = update.license
    if not update.updated:
        return redirect(request, "/license", ok=[
            f"License {view.serial} is already the newest the license authority has: nothing changed."])
    return redirect(request, "/license", ok=[
        f"License {view.serial} updated from the license authority: {view.cals['named']} Named, "
        f"{view.cals['document']} Document, {view.cals['session']} Session, {view.cals['usage']} Usage CALs."])
