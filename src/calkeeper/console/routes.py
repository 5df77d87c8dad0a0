"""Mount the console on the app: its pages, static files and the answers to sign-in and role errors."""

from __future__ import annotations

import html
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

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
from calkeeper.console.web import BadCsrf, NotSignedIn, ViewerCannotChange, identity, page, sign_in_redirect
from calkeeper.core.errors import StoreUnavailable
from calkeeper.infra import http_errors
from calkeeper.infra.http_errors import error_response


def install(app: FastAPI) -> None:
    app.mount("/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="console_static")
    for module in (routes_session, routes_license, routes_cals, routes_documents, routes_more, routes_console_users,
                   routes_directory, routes_operations):
        app.include_router(module.router)

    @app.exception_handler(NotSignedIn)
    async def _not_signed_in(request: Request, _: NotSignedIn) -> Response:
        return sign_in_redirect(request)

    @app.exception_handler(ViewerCannotChange)
    async def _viewer(request: Request, __: ViewerCannotChange) -> Response:
        return await error_page(request, 403, "Not allowed", "Your console role is viewer: you can see everything and "
                                "change nothing. Ask an admin.")

    @app.exception_handler(StoreUnavailable)
    async def _store_unavailable(request: Request, error: StoreUnavailable) -> Response:
        if not for_the_console(request):
            return error_response(error)
        return HTMLResponse(  # a page of its own: the console's layout would ask the database who is signed in
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>CAL database unavailable - "
            "calkeeper</title></head><body><main><h1>The CAL database is unavailable</h1>"
            f"<p>{html.escape(error.message)}.</p><p>Users who hold a CAL may still be opening documents for a "
            "few minutes; nothing can be changed until the database is back. This page does not refresh by "
            "itself: <a href=\"\">try again</a>.</p></main></body></html>",
            503, headers={"Retry-After": "5"})

    @app.exception_handler(BadCsrf)
    async def _csrf(request: Request, __: BadCsrf) -> Response:
        return await error_page(request, 403, "The form expired", "Nothing was changed. Go back, reload the page and "
                                "try again.")

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if not for_the_console(request):
            return http_errors.http_error_response(error)
        if error.status_code == 404:
            return await error_page(request, 404, "There is no such page",
                                    f"Nothing is at {request.url.path} in this console.")
        return await error_page(request, error.status_code, "That did not work", str(error.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        if not for_the_console(request):
            return http_errors.validation_response(error)
        wrong = ", ".join(sorted({str(d["loc"][-1]) for d in error.errors()}))
        return await error_page(request, 400, "The address is not one this page understands",
                                f"Look at the {wrong} in the address, or start again from the link below.",
                                back_to=request.url.path if request.method == "GET" else "")


API_PATHS = ("/api/", "/metrics", "/health", "/docs", "/openapi", "/redoc", "/static/")


def for_the_console(request: Request) -> bool:
    """A browser asking for a console page gets a console page when something goes wrong; the API answers JSON."""
    return not request.url.path.startswith(API_PATHS) and "text/html" in request.headers.get("accept", "")


async def error_page(request: Request, status: int, title: str, why: str, *, back_to: str = "") -> Response:
    """An error as a console page, with the way back: to the page the browser came from, else ``back_to``."""
    try:
        who = await identity(request)
    except NotSignedIn:
        who = None
    came_from = urlsplit(request.headers.get("referer", ""))
    back = came_from.path + (f"?{came_from.query}" if came_from.query else "")
    same_site = came_from.netloc == request.url.netloc and back.startswith("/") and not back.startswith("//")
    response = page(request, "error.html", who, title=title, why=why, status=status, nav_as="error",
                    back=back if same_site and came_from.path != request.url.path else back_to)
    response.status_code = status
    return response
