"""The admin's endpoints: license, CAL pools and settings, Named CALs, users, maintenance, audit."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from calkeeper.api import paths  # noqa: F401  (the {user:holder} shape)
from calkeeper.api.deps import Admin, Reader, SiteDep, actor
from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.api.schemas import (
    AuditQuery,
    ClearRequest,
    DenialsQuery,
    LicenseRequest,
    NamedCalsQuery,
    SettingsPatch,
    UsersRequest,
)
from calkeeper.contract.views import (
    AssignOutcome,
    AuditView,
    CalOverview,
    CalPage,
    CalSettings,
    ClearOutcome,
    DenialView,
    LicenseChange,
    LicenseUpdate,
    LicenseView,
    RemovalOutcome,
    UserCals,
)
from calkeeper.core.errors import InvalidInput, NotFound
from calkeeper.infra.http_errors import responses

router = APIRouter(prefix="/api/v1", responses=responses(401, 403, 422, 429, 503), route_class=StrictJsonRoute)


@router.get("/license", response_model=LicenseView, tags=["license"], responses=responses(404))
def get_license(site: SiteDep, _: Reader) -> LicenseView:
    """The license in force."""
    view = site.license()
    if view is None:
        raise NotFound("no license is in force; apply one with PUT /api/v1/license", code="no_license")
    return view


@router.put("/license", response_model=LicenseView, tags=["license"], responses=responses(400, 502))
def put_license(request: LicenseRequest, site: SiteDep, principal: Admin) -> LicenseView:
    """Apply a license: serial, control number, owner, organization and the LEF (null: fetched from the authority)."""
    return site.apply_license(serial=request.serial, control=request.control, owner=request.owner,
                              organization=request.organization, lef=request.lef, actor=actor(principal))


@router.post("/license/update", response_model=LicenseUpdate, tags=["license"],
             responses={502: {"description": "the license authority cannot be reached or answers badly"}})
def update_license(site: SiteDep, principal: Admin) -> LicenseUpdate:
    """Update license from server: fetch the newest LEF for the serial in force and apply it."""
    return site.update_license(actor=actor(principal))


@router.get("/license/history", response_model=list[LicenseChange], tags=["license"])
def license_history(site: SiteDep, _: Reader) -> list[LicenseChange]:
    """Every license applied, newest first, with what it changed."""
    return site.license_history()


@router.get("/cals", response_model=CalOverview, tags=["CALs"])
def get_cals(site: SiteDep, _: Reader) -> CalOverview:
    """Pools per CAL type (in license, assigned, quarantined, free, excess) and the settings."""
    return site.cal_overview()


@router.patch("/cals/settings", response_model=CalSettings, tags=["CALs"], responses=responses(400))
def patch_settings(request: SettingsPatch, site: SiteDep, principal: Admin) -> CalSettings:
    """Allow dynamic CAL assignment, allow license lease, identification mode."""
    return site.update_cal_settings(
        allow_dynamic_assignment=request.allow_dynamic_assignment, allow_license_lease=request.allow_license_lease,
        identification_mode=request.identification_mode, actor=actor(principal),
    )


@router.get("/cals/named", response_model=CalPage, tags=["CALs"])
def list_named(site: SiteDep, _: Reader, query: Annotated[NamedCalsQuery, Query()]) -> CalPage:
    """Assigned Named CALs with source, last used and quarantined until, a page at a time."""
    return site.list_named_cals(after=query.after, limit=query.limit, search=query.search)


@router.post("/cals/named", response_model=list[AssignOutcome], tags=["CALs"], responses=responses(400, 409))
def assign_named(request: UsersRequest, site: SiteDep, principal: Admin) -> list[AssignOutcome]:
    """Assign Named CALs to a ';' list or a JSON list of users; all or nothing."""
    return site.assign_named_cals(request.users, actor=actor(principal))


@router.delete("/cals/named/{user:holder}", response_model=RemovalOutcome, tags=["CALs"], responses=responses(404))
def remove_named(user: str, site: SiteDep, principal: Admin) -> RemovalOutcome:
    """Remove a Named CAL: freed at once, or quarantined until last used + 7 days."""
    return site.remove_named_cals([user], actor=actor(principal))[0]


@router.post("/cals/named/{user}/restore", response_model=AssignOutcome, tags=["CALs"],
             responses=responses(404, 409))
def restore_named(user: str, site: SiteDep, principal: Admin) -> AssignOutcome:
    """Undo a removal while the CAL is quarantined."""
    return site.restore_named_cals([user], actor=actor(principal))[0]


@router.post("/cals/named/remove", response_model=list[RemovalOutcome], tags=["CALs"],
             responses=responses(400, 404))
def remove_named_list(request: UsersRequest, site: SiteDep, principal: Admin) -> list[RemovalOutcome]:
    """Remove the Named CALs of a ';' list or a JSON list of users; all or nothing."""
    return site.remove_named_cals(request.users, actor=actor(principal))


@router.post("/cals/named/restore", response_model=list[AssignOutcome], tags=["CALs"],
             responses=responses(400, 404, 409))
def restore_named_list(request: UsersRequest, site: SiteDep, principal: Admin) -> list[AssignOutcome]:
    """Undo the removals of a list of users' Named CALs while they are quarantined; all or nothing."""
    return site.restore_named_cals(request.users, actor=actor(principal))


@router.get("/users/{user}/cals", response_model=UserCals, tags=["users"], responses=responses(404))
def user_cals(user: str, site: SiteDep, _: Reader) -> UserCals:
    """Every CAL a user holds, of every type."""
    return site.user_cals(user)


@router.post("/maintenance/clear-cal-data", response_model=ClearOutcome, tags=["maintenance"],
             responses=responses(400, 409))
def clear_cal_data(request: ClearRequest, http: Request, site: SiteDep, principal: Admin) -> ClearOutcome:
    """Remove every CAL assignment, allocation, quarantine, session and usage record (a backup is written first)."""
    if not request.confirm:
        raise InvalidInput("set confirm to true to clear all CAL data")
    folder = http.app.state.backups_dir
    target = folder / f"before-clear-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json"
    return site.clear_cal_data(backup_to=target, actor=actor(principal))


@router.get("/audit", response_model=list[AuditView], tags=["maintenance"])
def audit(site: SiteDep, _: Reader, query: Annotated[AuditQuery, Query()]) -> list[AuditView]:
    """Who changed what, when (newest first)."""
    return site.audit(limit=query.limit, action=query.action, target=query.target)


@router.get("/denials", response_model=list[DenialView], tags=["maintenance"])
def denials(site: SiteDep, _: Reader, query: Annotated[DenialsQuery, Query()]) -> list[DenialView]:
    """Opens that were refused: who, when, which document, why."""
    return site.denials(limit=query.limit)


def no_content() -> Response:
    return Response(status_code=204)
