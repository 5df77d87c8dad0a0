"""Signing in and out, and the dashboard."""

from __future__ import annotations

import asyncio
import hmac
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.charts import grants_chart
from calkeeper.console.web import (
    PRE_CSRF_COOKIE,
    SESSION_COOKIE,
    application_of,
    console_users,
    form_of,
    identity,
    new_csrf,
    page,
    redirect,
    site_of,
)
from calkeeper.core.cals import CalType
from calkeeper.core.error_codes import status_of
from calkeeper.core.errors import SignInRefused
from calkeeper.infra.peer import peer_of
from calkeeper.usecases.console_users import ConsoleIdentity

router = APIRouter(include_in_schema=False)
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
Who = Annotated[ConsoleIdentity, Depends(identity)]


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/sign-in", response_class=HTMLResponse)
async def sign_in_page(request: Request, next: str = "/") -> Response:
    proxied = application_of(request).trusted_proxies.user(peer_of(request.scope), dict(request.headers))
    if proxied:  # single sign-on: a trusted reverse proxy already signed the user in
        address = request.client.host if request.client else "unknown"
        try:
            secret, _ = await run_in_threadpool(console_users(request).sso_sign_in, proxied, address=address)
        except SignInRefused as error:
            response = page(request, "sign_in.html", None, csrf_token=new_csrf(), next=_safe_next(next),
                            error=f"{error.message[:1].upper()}{error.message[1:]}.")
            response.status_code = status_of(error)
            return response
        return _signed_in(request, secret, next)
    token = new_csrf()
    response = page(request, "sign_in.html", None, csrf_token=token, next=_safe_next(next), error=None)
    response.set_cookie(PRE_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/", max_age=3600)
    return response


async def hold(seconds: float) -> None:
    """Hold back the answer to a failed sign-in (tests skip the wait)."""
    await asyncio.sleep(seconds)


@router.post("/sign-in", response_class=HTMLResponse)
async def sign_in(
    request: Request,
    username: Annotated[str, Form(max_length=100)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    expected = request.cookies.get(PRE_CSRF_COOKIE, "")
    if not expected or not hmac.compare_digest(expected, csrf_token):
        return page(request, "sign_in.html", None, csrf_token=expected or new_csrf(), next=_safe_next(next),
                    error="The form expired; please sign in again.")
    # the address uvicorn gives, after its forwarded_allow_ips rule: X-Forwarded-For is not read here
    address = request.client.host if request.client else "unknown"
    try:
        secret, _ = await run_in_threadpool(console_users(request).sign_in, username, password, address=address)
    except SignInRefused as error:
        if error.hold_seconds:
            await hold(error.hold_seconds)  # the brake: one guess after another is slow
        response = page(request, "sign_in.html", None, csrf_token=expected, next=_safe_next(next),
                        error=f"{error.message[:1].upper()}{error.message[1:]}.",
                        username=username)
        response.status_code = status_of(error)
        return response
    return _signed_in(request, secret, next)


def _signed_in(request: Request, secret: str, next: str) -> Response:
    root = str(request.app.url_path_for("console_root")).rstrip("/")
    signed_in = RedirectResponse(root + _safe_next(next), status_code=303)
    signed_in.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=8 * 3600)
    signed_in.delete_cookie(PRE_CSRF_COOKIE, path="/")
    return signed_in


@router.post("/sign-out")
async def sign_out(request: Request, who: Who) -> Response:
    await form_of(request, who, change=False)
    secret = request.cookies.get(SESSION_COOKIE, "")
    await run_in_threadpool(console_users(request).sign_out, secret)
    response = redirect(request, "/sign-in", ok=["You are signed out."])
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse, name="console_root")
def dashboard(request: Request, who: Who) -> Response:
    site = site_of(request)
    overview = site.cal_overview()
    app = application_of(request)
    history = site.grant_history(hours=24)
    return page(request, "dashboard.html", who, overview=overview, denials=site.denials(limit=10),
                denial_count=app.reports.denial_count(), quarantined=site.quarantined_cals(limit=20),
                quarantined_count=app.named_cals.count_quarantined(), license=site.license(),
                grants=grant_table(history))


def grant_table(history: dict[str, list[tuple[datetime, int]]]) -> list[tuple[str, list[int]]]:
    """The chart's numbers as a table: (hour, grants of each CAL type), the hours with grants only."""
    hours: dict[datetime, list[int]] = {}
    for index, cal_type in enumerate(CalType):
        for hour, count in history.get(cal_type.value, []):
            hours.setdefault(hour, [0] * len(CalType))[index] = count
    return [(f"{hour:%Y-%m-%d %H:00}", counts) for hour, counts in sorted(hours.items()) if any(counts)]


@router.get("/dashboard/grants.svg", name="console_grants_chart")
def grants(request: Request, who: Who, size: Annotated[str, Query(max_length=10)] = "wide") -> Response:
    """The dashboard's chart, an image of its own: pygal's SVG holds a style element, which the pages'
    policy would refuse inline; shown as an image, nothing in it runs. ``size`` names a rendition."""
    return Response(grants_chart(site_of(request).grant_history(hours=24), size=size), media_type="image/svg+xml",
                    headers={"Content-Security-Policy": CHART_POLICY, "Cache-Control": "no-store"})
