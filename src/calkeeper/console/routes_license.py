"""System > Licenses > Server license."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.web import application_of, form_of, identity, page, redirect, root_of, site_of
from calkeeper.core.errors import CalkeeperError
from calkeeper.usecases.console_users import ConsoleIdentity

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]


@router.get("/license", response_class=HTMLResponse)
def license_page(request: Request, who: Who) -> Response:
    return _license_page(request, who)


def _license_page(request: Request, who: ConsoleIdentity, *, typed: dict[str, Any] | None = None,
                  problem: str = "") -> Response:
    """The page; after a refused apply the form shows what the admin typed, and why it was refused."""
    site = site_of(request)
    response = page(request, "license.html", who, license=site.license(), history=site.license_history(),
                    typed=typed, **({"flash": {"kind": "error", "lines": [problem]}} if problem else {}))
    if problem:
        response.status_code = 409
    return response


FIELDS = ("serial", "control", "owner", "organization")


@router.post("/license/apply", response_class=HTMLResponse)
async def apply_license(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site = site_of(request)
    typed = {name: str(form.get(name, "")) for name in FIELDS}
    # Browsers send a textarea's line breaks as CRLF whatever was pasted; the LEF's own are LF.
    lef = str(form.get("lef", "")).replace("\r\n", "\n")
    if lef and form.get("confirmed") != "yes":
        excess = await run_in_threadpool(lambda: _excess_after(request, lef=lef, **typed))
        if excess:
            return _confirm_excess(request, who, {**typed, "lef": lef}, excess)
    try:
        view = await run_in_threadpool(
            lambda: site.apply_license(**typed, lef=lef or None, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return _license_page(request, who, typed={**typed, "lef": lef}, problem=(
            f"The license was not applied: {error.message}. The license in force is unchanged."))
    return redirect(request, "/license", ok=[
        f"License {view.serial} applied: {view.cals['named']} Named, {view.cals['document']} Document, "
        f"{view.cals['session']} Session and {view.cals['usage']} Usage CALs."])


def _excess_after(request: Request, *, lef: str, **typed: str) -> list[tuple[str, int, int, int, int]]:
    """(CAL type, in license now, after, assigned, excess after) of each pool the new license leaves over-assigned;
    empty when none is, or when the license is refused (applying it says why)."""
    try:
        after = application_of(request).licensing.license_cals(lef=lef, **typed)
    except CalkeeperError:
        return []
    pools = site_of(request).cal_overview().pools
    return [(p.label + "s", p.in_license, after[p.cal_type], p.assigned, p.assigned - after[p.cal_type])
            for p in pools if p.cal_type in ("named", "document") and p.assigned > after[p.cal_type]]


def _confirm_excess(request: Request, who: ConsoleIdentity, fields: dict[str, str],
                    excess: list[tuple[str, int, int, int, int]]) -> Response:
    lines = [f"The new license holds fewer {label} than are assigned now: {over:,} would be in excess "
             f"({assigned:,} assigned, {after:,} in the new license)." for label, _, after, assigned, over in excess]
    lines += ["Nobody loses a CAL, but no new CAL of that type is handed out until assignments drop below the new "
              "count: remove CALs (they are quarantined or freed) to get there.",
              "The license in force now stays until you apply."]
    table = [["CAL type", "In license now", "After", "Assigned", "Excess after"], *[list(row) for row in excess]]
    return page(request, "confirm.html", who, title="Apply a license that leaves CALs in excess?", lines=lines,
                table=table, action=root_of(request) + "/license/apply", fields=fields,
                button="Apply the license anyway", danger=True, cancel=root_of(request) + "/license", nav_as="license")


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
