"""Operations pages: sessions in use, usage reports with charts, CSV exports, reclaim, alerts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from calkeeper.console.charts import report_chart
from calkeeper.console.routes_session import CHART_POLICY
from calkeeper.console.web import form_of, identity, page, redirect, site_of
from calkeeper.contract.views import ReportView
from calkeeper.core.errors import CalkeeperError
from calkeeper.site import LocalSite
from calkeeper.usecases.console_users import ConsoleIdentity
from calkeeper.usecases.exports import LISTS
from calkeeper.usecases.usage_history import REPORTS

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]
PERIODS = (30, 90, 365)


@router.get("/sessions", response_class=HTMLResponse)
def sessions(request: Request, who: Who, q: Annotated[str, Query(max_length=300)] = "",
             cal_type: Annotated[str, Query(max_length=16)] = "",
             node: Annotated[str, Query(max_length=100)] = "") -> Response:
    site = site_of(request)
    error = ""
    try:
        found = site.list_sessions(search=q, cal_type=cal_type, node=node, limit=2000)
    except CalkeeperError as problem:
        found, error = [], problem.message
    return page(request, "sessions.html", who, sessions=found, q=q, cal_type=cal_type, node=node, error=error)


@router.post("/sessions/end")
async def end_session(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    session_id = str(form.get("session_id", ""))[:40]
    site = site_of(request)
    narrow = {key: str(form.get(key, ""))[:300] for key in ("q", "cal_type", "node")}
    back = "/sessions" + (f"?{urlencode(narrow)}" if any(narrow.values()) else "")  # the list as it was filtered
    try:
        outcome = await run_in_threadpool(lambda: site.end_session(session_id, actor=f"console:{who.username}"))
    except CalkeeperError as error:
        return redirect(request, back, error=[error.message])
    return redirect(request, back, ok=[f"Session {session_id}: {outcome.outcome}."])


def _report(site: LocalSite, report: str, by: str, days: int) -> ReportView:
    today = datetime.now(UTC).date()
    return site.report(report, start=today - timedelta(days=days - 1), end=today, by=by)


def _choices(report: str, by: str, days: int) -> tuple[str, str, int]:
    report = report if report in REPORTS else "usage"
    return report, by if by in REPORTS[report] else REPORTS[report][0], days if days in PERIODS else 30


@router.get("/reports", response_class=HTMLResponse)
def reports(request: Request, who: Who, report: Annotated[str, Query(max_length=16)] = "usage",
            by: Annotated[str, Query(max_length=16)] = "type", days: int = 30) -> Response:
    report, by, days = _choices(report, by, days)
    view = _report(site_of(request), report, by, days)
    return page(request, "reports.html", who, view=view, report=report, by=by, days=days, reports=REPORTS,
                periods=PERIODS)


@router.get("/reports/chart.svg", name="console_report_chart")
def report_svg(request: Request, who: Who, report: Annotated[str, Query(max_length=16)] = "usage",
               by: Annotated[str, Query(max_length=16)] = "type", days: int = 30,
               size: Annotated[str, Query(max_length=10)] = "wide") -> Response:
    """The report's chart, an image of its own (see the dashboard's); ``size`` names a rendition."""
    report, by, days = _choices(report, by, days)
    svg = report_chart(_report(site_of(request), report, by, days), size=size)
    return Response(svg, media_type="image/svg+xml",
                    headers={"Content-Security-Policy": CHART_POLICY, "Cache-Control": "no-store"})


@router.get("/exports", response_class=HTMLResponse)
def exports(request: Request, who: Who) -> Response:
    return page(request, "exports.html", who, lists=LISTS)


@router.get("/exports/{name}.csv", name="console_export")
def export(request: Request, who: Who, name: str) -> Response:
    site = site_of(request)
    try:
        chunks = site.csv_chunks(name)
    except CalkeeperError as error:
        return redirect(request, "/exports", error=[error.message])
    return StreamingResponse(iterate_in_threadpool(chunks), media_type="text/csv; charset=utf-8", headers={
        "Content-Disposition": f'attachment; filename="calkeeper-{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.csv"'})


@router.get("/reclaim", response_class=HTMLResponse)
def reclaim_page(request: Request, who: Who, days: int = 90,
                 cal_type: Annotated[str, Query(max_length=16)] = "") -> Response:
    return _reclaim_page(request, who, days=days, cal_type=cal_type)


def _reclaim_page(request: Request, who: ConsoleIdentity, *, days: int | str, cal_type: str,
                  problem: str = "") -> Response:
    """The candidates; after a refused reclaim, the same days and CAL type, with why nothing was reclaimed."""
    error = ""
    try:
        candidates = site_of(request).reclaim(inactive_days=int(days), cal_type=cal_type, dry_run=True).entries
    except (CalkeeperError, ValueError) as trouble:
        candidates, error = [], "" if problem else getattr(trouble, "message", str(trouble))
    response = page(request, "reclaim.html", who, candidates=candidates, days=days, cal_type=cal_type, error=error,
                    **({"flash": {"kind": "error", "lines": [problem]}} if problem else {}))
    if problem:
        response.status_code = 409
    return response


@router.post("/reclaim", response_class=HTMLResponse)
async def reclaim(request: Request, who: Who) -> Response:
    form = await form_of(request, who)
    site = site_of(request)
    typed_days, cal_type = str(form.get("days", ""))[:12], str(form.get("cal_type", ""))[:16]
    try:
        days = int(typed_days)
        done = await run_in_threadpool(lambda: site.reclaim(inactive_days=days, cal_type=cal_type,
                                                            actor=f"console:{who.username}"))
    except (CalkeeperError, ValueError) as error:
        message = error.message if isinstance(error, CalkeeperError) else "the number of days is a whole number"
        return _reclaim_page(request, who, days=typed_days, cal_type=cal_type,
                             problem=f"Nothing was reclaimed: {message}")
    lines = [f"{e.user}: {'Named User CAL' if e.cal_type == 'named' else 'Document CAL · ' + str(e.document)} "
             f"{e.outcome}" + (f" until {e.quarantined_until:%Y-%m-%d %H:%M} UTC" if e.quarantined_until else "")
             for e in done.entries] or ["No CAL has been unused that long."]
    return redirect(request, f"/reclaim?{urlencode({'days': days, 'cal_type': cal_type})}", ok=lines[:50])


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, who: Who) -> Response:
    view = site_of(request).alerts(limit=100)
    return page(request, "alerts.html", who, alerts=view.alerts, deliveries=view.deliveries)


@router.post("/alerts/test")
async def test_alerts(request: Request, who: Who) -> Response:
    await form_of(request, who)
    site = site_of(request)
    try:
        done = await run_in_threadpool(site.test_alerts)
    except CalkeeperError as error:
        return redirect(request, "/alerts", error=[error.message])
    return redirect(request, "/alerts", ok=[f"{d.channel} {d.target}: {'delivered' if d.delivered else 'failed'}"
                                            f" after {d.attempts} attempt(s)" + (f" ({d.error})" if d.error else "")
                                            for d in done])
