"""Operations: sessions in use (and ending one), usage reports, CSV exports, reclaim, alerts."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt
from starlette.concurrency import iterate_in_threadpool

from calkeeper.api.deps import Admin, Reader, SiteDep, actor
from calkeeper.api.json_bodies import StrictJsonRoute
from calkeeper.contract.views import (
    AlertDeliveryView,
    AlertsView,
    LiveSessionView,
    ReclaimReport,
    ReportView,
    SessionEnd,
)
from calkeeper.infra.http_errors import responses
from calkeeper.usecases.exports import csv_lines

router = APIRouter(prefix="/api/v1", responses=responses(401, 403, 422, 429, 503), route_class=StrictJsonRoute)


class SessionsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    search: str = Field("", max_length=300, description="A user, machine or document the session names")
    cal_type: str = Field("", max_length=16, description="Only sessions served by this CAL type")
    node: str = Field("", max_length=100, description="Only sessions this server node granted")
    limit: int = Field(1000, ge=1, le=100_000)


def _iso_day(value: object) -> object:
    """A day as YYYY-MM-DD only: a number is not a day (pydantic would read 0 as 1970-01-01)."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("a day is written YYYY-MM-DD")
    return value


IsoDay = Annotated[date, BeforeValidator(_iso_day)]


class ReportQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    start: IsoDay | None = Field(None, alias="from", description="The first UTC day (default: 29 days before `to`)")
    end: IsoDay | None = Field(None, alias="to", description="The last UTC day (default: today)")
    by: str = Field("type", max_length=16, description="type, day, user, document or reason")
    format: Literal["json", "csv"] = "json"


class ReclaimRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    inactive_days: StrictInt = Field(ge=1, le=36_500)
    cal_type: Literal["", "named", "document"] = ""
    dry_run: StrictBool = False  # JSON's true and false only


class AlertsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(100, ge=1, le=1000)


@router.get("/sessions", response_model=list[LiveSessionView], tags=["operations"])
def list_sessions(site: SiteDep, _: Reader, query: Annotated[SessionsQuery, Query()]) -> list[LiveSessionView]:
    """Sessions in use now (user, machine, client, document, CAL type, started, last activity, node)."""
    return site.list_sessions(search=query.search, cal_type=query.cal_type, node=query.node, limit=query.limit)


@router.delete("/sessions/{session_id}", response_model=SessionEnd, tags=["operations"], responses=responses(404))
def end_session(session_id: str, site: SiteDep, principal: Admin) -> SessionEnd:
    """End a session: its app server's next heartbeat is answered "ended by an administrator"."""
    return site.end_session(session_id, actor=actor(principal))


def _csv_response(chunks: Any, filename: str) -> StreamingResponse:
    return StreamingResponse(iterate_in_threadpool(chunks), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/reports/{report}", response_model=ReportView, tags=["operations"], responses={
    200: {"content": {"text/csv": {}}, "description": "The report (JSON, or CSV with format=csv)"}})
def report(report: Literal["usage", "denials", "peaks"], site: SiteDep, _: Reader,
           query: Annotated[ReportQuery, Query()]) -> Response | ReportView:
    """A usage report over whole UTC days: grants and peaks per CAL type, denials by reason, user, document."""
    view = site.report(report, start=query.start, end=query.end, by=query.by)
    if query.format == "csv":
        name = f"calkeeper-{report}-by-{view.by}-{view.start}-{view.end}.csv"
        return _csv_response(iter(list(csv_lines(view.columns, view.rows))), name)
    return view


@router.get("/exports/{name}.csv", tags=["operations"], response_class=StreamingResponse, responses={
    200: {"content": {"text/csv": {}}, "description": "The list as CSV, streamed"}})
def export(name: str, site: SiteDep, _: Reader) -> StreamingResponse:
    """A list as CSV: named-cals, document-cals, users, sessions, denials or audit."""
    chunks = site.csv_chunks(name)
    return _csv_response(chunks, f"calkeeper-{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv")


@router.post("/reclaim", response_model=ReclaimReport, tags=["operations"], responses=responses(400))
def reclaim(request: ReclaimRequest, site: SiteDep, principal: Admin) -> ReclaimReport:
    """Remove (or list, with dry_run) the Named and Document CALs of users inactive for N days."""
    return site.reclaim(inactive_days=request.inactive_days, cal_type=request.cal_type, dry_run=request.dry_run,
                        actor=actor(principal))


@router.get("/alerts", response_model=AlertsView, tags=["operations"])
def alerts(site: SiteDep, _: Reader, query: Annotated[AlertsQuery, Query()]) -> AlertsView:
    """The alerts (raised ones first) and the newest deliveries to webhooks and by e-mail."""
    return site.alerts(limit=query.limit)


@router.post("/alerts/test", response_model=list[AlertDeliveryView], tags=["operations"])
def test_alerts(site: SiteDep, _: Admin) -> list[AlertDeliveryView]:
    """Send a test alert to every configured channel now."""
    return site.test_alerts()
