"""Mount the console on the app: its pages, static files and the answers to sign-in and role errors."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

from calkeeper.console import (
    routes_cals,
    routes_console_users,
    routes_directory,
    routes_documents,
    routes_license,
    routes_more,
    routes_operations,
    routes_session,
)
from calkeeper.console.web import BadCsrf, NotSignedIn, ViewerCannotChange, sign_in_redirect
from calkeeper.core.errors import StoreUnavailable
from calkeeper.infra.http_errors import error_response


def wants_page(request: Request) -> bool:
    """A console page (not the REST API, health or metrics) is being asked for."""
    path = request.scope.get("path", "")
    return not (path.startswith("/api/") or path in {"/readyz", "/healthz", "/metrics"})


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="console_static")
    for module in (routes_session, routes_license, routes_cals, routes_documents, routes_more, routes_console_users,
                   routes_directory, routes_operations):
        app.include_router(module.router)

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _: NotSignedIn) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(ViewerCannotChange)
    async def _viewer(_: Request, __: ViewerCannotChange) -> Response:
        return HTMLResponse("<h1>Not allowed</h1><p>Your console role is viewer: you can see everything and change "
                            "nothing. Ask an admin.</p>", 403)

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, error: StoreUnavailable) -> Response:
        if not wants_page(request):
            return error_response(error)
        return HTMLResponse(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>CAL database unavailable - "
            "calkeeper</title></head><body><main><h1>The CAL database is unavailable</h1>"
            f"<p>{html.escape(error.message)}.</p><p>Users who hold a CAL may still be opening documents for a "
            "few minutes; nothing can be changed until the database is back. This page does not refresh by "
            "itself: <a href=\"\">try again</a>.</p></main></body></html>",
            503, headers={"Retry-After": "5"})

    @app.exception_handler(BadCsrf)
    async def _csrf(_: Request, __: BadCsrf) -> Response:
        return HTMLResponse("<h1>The form expired</h1><p>Go back, reload the page and try again.</p>", 403)
