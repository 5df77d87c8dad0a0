"""``create_app``: the one place the HTTP server is wired (site, token guard, routes, errors)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from calkeeper.api import (
    errors,
    routes_access,
    routes_admin,
    routes_backups,
    routes_documents,
    routes_health,
    routes_tokens,
)
from calkeeper.api.auth import TokenGuard
from calkeeper.api.idempotency import IdempotencyMiddleware
from calkeeper.api.metrics import LATENCY, child
from calkeeper.api.schemas import AccessRequest
from calkeeper.authority.signing import load_public_keys
from calkeeper.authority_client import authority_from_settings
from calkeeper.console import routes as console
from calkeeper.core.errors import CalkeeperError
from calkeeper.services.daily_license_check import DailyLicenseCheck, run_daily_checks
from calkeeper.settings import Settings, load_settings
from calkeeper.site import Site, open_site


def open_configured_site(settings: Settings) -> Site:
    """Open the site the settings describe (creating the SQLite folder if needed)."""
    if settings.database.startswith("sqlite:///"):
        Path(settings.database.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    keys_dir = settings.trusted_keys_dir
    keys = load_public_keys([keys_dir]) if keys_dir.exists() else {}
    return open_site(settings.database, trusted_keys=keys, root_folder=settings.documents, actor="api",
                     cache_refresh_seconds=settings.cache_refresh_seconds, authority=authority_from_settings(settings))


def create_app(settings: Settings | None = None, *, site: Site | None = None) -> FastAPI:
    """Build the REST API for a site (opened from the settings unless given)."""
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = site is None
        app.state.site = site or open_configured_site(settings)
        checks = None
        if settings.authority_daily_check and app.state.site.authority is not None:
            checks = asyncio.create_task(run_daily_checks(DailyLicenseCheck(app.state.site)))
        app.state.site.last_used_writes.deferred = True
        gc.freeze()  # what start-up built lives as long as the process: keep it out of every collection
        upkeep = asyncio.create_task(_keep_up(app.state.site, settings.cache_refresh_seconds))
        yield
        upkeep.cancel()
        if checks is not None:
            checks.cancel()
        with suppress(CalkeeperError):
            app.state.site.write_deferred_last_used()
        with suppress(CalkeeperError):  # the dashboard's chart keeps this process's last minute of grants
            app.state.site.flush_grant_counts()
        if own:
            app.state.site.close()

    app = FastAPI(
        title="calkeeper",
        summary="A Client Access License server in the QlikView mould.",
        version="0.1.0",
        docs_url="/api/docs",
        openapi_url="/api/openapi.json",
        redoc_url=None,
        root_path=settings.root_path,
        lifespan=lifespan,
    )
    app.state.guard = TokenGuard()
    app.state.backups_dir = settings.backups_dir
    errors.install(app)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(TimingMiddleware)

    for module in (routes_access, routes_admin, routes_backups, routes_documents, routes_health, routes_tokens):
        app.include_router(module.router)
    console.install(app)
    _document_bearer_tokens(app)
    return app


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
            for path in ("/healthz", "/readyz"):
                for operation in schema["paths"].get(path, {}).values():
                    operation["security"] = []
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _keep_up(site: Site, refresh_seconds: float) -> None:
    """Off the request path: confirm the decision cache twice per refresh period, and write deferred
    "last used" minutes and grant counts every few seconds."""
    ticks = 0
    while True:
        await asyncio.sleep(refresh_seconds / 2)
        ticks += 1
        with suppress(CalkeeperError):
            await run_in_threadpool(site.keep_cache_fresh)
            if ticks % max(1, int(4 / refresh_seconds)) == 0:
                await run_in_threadpool(site.write_deferred_last_used)


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


def app_from_environment() -> FastAPI:
    """The factory uvicorn workers call: settings come from CALKEEPER_* variables."""
    return create_app(load_settings())
