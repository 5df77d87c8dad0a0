"""Mount the console on the app: its pages, static files and the answers to sign-in and role errors."""

from __future__ import annotations

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

    @app.exception_handler(BadCsrf)
    async def _csrf(_: Request, __: BadCsrf) -> Response:
        return HTMLResponse("<h1>The form expired</h1><p>Go back, reload the page and try again.</p>", 403)
