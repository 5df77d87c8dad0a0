"""``create_app``: the HTTP server around a site (token guard, routes, console, errors, upkeep).

The site itself is built by ``calkeeper.bootstrap``; this module wires the web edge around it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from calkeeper.api import (
    body_limit,
    docs,
    routes_access,
    routes_admin,
    routes_backups,
    routes_desktop,
    routes_directory,
    routes_documents,
    routes_health,
    routes_leases,
    routes_operations,
    routes_tokens,
)
from calkeeper.api.access_log import AccessLines, AccessLog
from calkeeper.api.asgi import methods_taken
from calkeeper.api.auth import BearerGate, TokenGuard
from calkeeper.api.body_limit import BodyLimit, Limit, default_limit
from calkeeper.api.gate_lane import GateLane
from calkeeper.api.idempotency import IdempotencyMiddleware
from calkeeper.api.metrics import LATENCY, child
from calkeeper.api.schemas import AccessRequest
from calkeeper.api.security_headers import SecurityHeaders
from calkeeper.api.trusted_hosts import TrustedHosts
from calkeeper.bootstrap import Application, bootstrap
from calkeeper.console import routes as console
from calkeeper.core.error_codes import status_for
from calkeeper.core.errors import CalkeeperError
from calkeeper.infra import http_errors
from calkeeper.infra.peer import PeerAddress
from calkeeper.settings import Settings, load_settings
from calkeeper.site import LocalSite
from calkeeper.usecases.daily_license_check import DailyLicenseCheck, run_daily_checks
from calkeeper.usecases.group_rules import ScheduledSync, run_scheduled_syncs
from calkeeper.usecases.reclaim import ReclaimSchedule
from calkeeper.usecases.upkeep import Operations, Upkeep


def create_app(settings: Settings | None = None, *, site: LocalSite | None = None) -> FastAPI:
    """Build the REST API and the console for a site (built from the settings unless given)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = site is None
        app.state.site = site or LocalSite(bootstrap(settings))
        application: Application = app.state.site.app
        app.state.application = application
        checks = None
        if settings.authority_daily_check and application.authority is not None:
            checks = asyncio.create_task(run_daily_checks(DailyLicenseCheck(application.licensing,
                                                                            clock=application.clock)))
        syncs = None
        if settings.directory_sync_minutes > 0:
            every = timedelta(minutes=settings.directory_sync_minutes)
            syncs = asyncio.create_task(run_scheduled_syncs(ScheduledSync(application.group_rules, every=every)))
        application.last_used.deferred = True
        upkeep = Upkeep(uow=application.uow, clock=application.clock, access=application.access,
                        documents=application.documents, session_life=application.session_life,
                        last_used=application.last_used,
                        grant_tally=application.grant_tally, document_scan_seconds=settings.document_scan_seconds,
                        operations=Operations(
                            history=application.usage_history if settings.history_enabled else None,
                            alerts=application.alerts, reclaim=application.reclaim,
                            reclaim_schedule=ReclaimSchedule(settings.reclaim_inactive_days, settings.reclaim_type,
                                                             settings.reclaim_every_hours),
                            maintenance=application.maintenance, backups_dir=settings.backups_dir,
                            backup_every_hours=settings.backup_every_hours, backup_keep=settings.backup_keep))
        gc.freeze()  # what start-up built lives as long as the process: keep it out of every collection
        task = asyncio.create_task(_keep_up(upkeep, settings.cache_refresh_seconds))
        yield
        task.cancel()
        for background in (checks, syncs):
            if background is not None:
                background.cancel()
        with suppress(CalkeeperError):
            upkeep.write_deferred()
        application.alerts.drain(timeout=5)
        access_lines.flush()
        if own:
            application.close()

    app = FastAPI(
        title="calkeeper",
        summary="A Client Access License server in the QlikView mould.",
        version="0.1.0",
        docs_url=None,  # served by api.docs, to the callers it allows and from the package's own files
        openapi_url=None,
        redoc_url=None,
        root_path=settings.root_path,
        lifespan=lifespan,
        # What any operation may answer before it runs: a Host not in CALKEEPER_TRUSTED_HOSTS, a body
        # too large (BodyLimit); each router adds its own (401, 403, 422, 429, 503...).
        responses=http_errors.responses(400, 413),
    )
    app.state.guard = TokenGuard()
    app.state.backups_dir = settings.backups_dir
    app.state.publish_api_docs = settings.publish_api_docs
    http_errors.install(app)
    body_limit.install(app)
    # Added innermost first. A request meets them in the other order: timing, the headers every answer
    # gets, the Host, the token (before any body is read), the body's size, the Idempotency-Key, then the
    # access gate's own lane past the router.
    app.add_middleware(GateLane, route=routes_access.ACCESS_ROUTE, path=routes_access.ACCESS_PATH)
    app.add_middleware(IdempotencyMiddleware)
    restore = Limit(routes_backups.RESTORE_LIMIT, code="backup_too_large",
                    message=routes_backups.too_large_message(routes_backups.RESTORE_LIMIT))
    app.add_middleware(BodyLimit, limit=default_limit(settings.max_body_bytes), larger={"/api/v1/restore": restore})
    app.add_middleware(BearerGate, guard=app.state.guard)
    if settings.trusted_hosts:
        app.add_middleware(TrustedHosts, hosts=settings.trusted_hosts)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TimingMiddleware)
    # X-Forwarded-For is believed from the forwarded_allow_ips proxies (uvicorn's rule, run here rather than by
    # uvicorn) after PeerAddress noted the address the request came from, which single sign-on checks.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    app.add_middleware(PeerAddress)
    access_lines = AccessLines()
    if settings.access_log:  # outermost: it logs the address the proxy rule believed, and every answer
        app.add_middleware(AccessLog, lines=access_lines)

    for module in (routes_access, routes_admin, routes_backups, routes_documents, routes_directory, routes_health,
                   routes_leases, routes_desktop, routes_tokens, routes_operations, docs):
        app.include_router(module.router)
    app.include_router(routes_documents.problems_router)
    console.install(app)
    _document_bearer_tokens(app)
    _name_every_method_in_405s(app)
    return app


def _name_every_method_in_405s(app: FastAPI) -> None:
    """A 405's Allow header names every method the path takes (Starlette names those of one route only)."""

    @app.exception_handler(405)
    async def _not_allowed(request: Request, _: Exception) -> JSONResponse:
        allowed = ", ".join(methods_taken(request.scope))
        message = f"{request.method} is not allowed on {request.url.path}; it takes {allowed}"
        return JSONResponse(http_errors.body("method_not_allowed", message), status_for("method_not_allowed"),
                            headers={"Allow": allowed})


def _document_bearer_tokens(app: FastAPI) -> None:
    """Say in the OpenAPI that every endpoint but health takes a bearer token (the docs' Authorize button)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = FastAPI.openapi(app)
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearer": {"type": "http", "scheme": "bearer", "description": "calkeeper token create --role R"}}
            schema["security"] = [{"bearer": []}]
            # The access gate reads its body by hand (routes_access): publish the model it validates with.
            body = AccessRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas = schema["components"].setdefault("schemas", {})
            schemas.update(body.pop("$defs", {}))
            schemas["AccessRequest"] = body
            for path in ("/healthz", "/readyz", *(p for p in schema["paths"] if p.startswith("/desktop/"))):
                for operation in schema["paths"].get(path, {}).values():
                    operation["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _keep_up(upkeep: Upkeep, refresh_seconds: float) -> None:
    """Run the upkeep off the request path, twice per cache refresh period, until cancelled."""
    while True:
        await asyncio.sleep(refresh_seconds / 2)
        with suppress(CalkeeperError):
            await run_in_threadpool(upkeep.tick)


class TimingMiddleware:
    """Request latency by route into the Prometheus histogram (pure ASGI: no task per request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            child(LATENCY, scope["method"], route).observe(time.perf_counter() - started)


SETTINGS_VARIABLE = "CALKEEPER_SERVE_SETTINGS"


def app_from_environment() -> FastAPI:
    """The factory uvicorn workers call: the settings ``calkeeper serve`` resolved (else CALKEEPER_* variables)."""
    resolved = os.environ.get(SETTINGS_VARIABLE)
    return create_app(Settings.model_validate_json(resolved) if resolved else load_settings())
