"""The API's description (``/api/openapi.json``) and its docs page (``/api/docs``), and who may see them.

The rule: with ``CALKEEPER_PUBLISH_API_DOCS=true`` both are served to anyone. Otherwise they are
served to a caller with an API token of the viewer or admin role, or to a browser signed in to the
console (a browser opening a page cannot send a bearer header); a browser that is not signed in is
sent to the console's sign-in page. Swagger UI is served from the package (``swagger-ui-bundle-v2``),
never from another site.
"""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from swagger_ui_bundle import swagger_ui_path

from calkeeper.api.auth import allow
from calkeeper.api.deps import READ
from calkeeper.console.web import NotSignedIn, identity, sign_in_redirect
from calkeeper.infra.http_errors import ApiError

router = APIRouter(include_in_schema=False)

ASSETS = {
    "swagger-ui.css": Path(str(swagger_ui_path)) / "swagger-ui.css",
    "swagger-ui-bundle.js": Path(str(swagger_ui_path)) / "swagger-ui-bundle.js",
    "docs.js": Path(__file__).parent / "static" / "docs.js",
}
NOT_SHOWN = ("the API's description is shown to callers with an API token of the viewer or admin role, or "
             "signed in to the console (or to anyone when CALKEEPER_PUBLISH_API_DOCS is true)")
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>calkeeper API</title>
<link rel="stylesheet" href="{assets}/swagger-ui.css">
<script src="{assets}/swagger-ui-bundle.js" defer></script>
<script src="{assets}/docs.js" defer></script>
</head>
<body>
<div id="swagger-ui" data-openapi-url="{openapi}"></div>
</body>
</html>
"""


async def _may_read(request: Request) -> bool:
    """True when the caller may see the API's description; ApiError for a bearer token that may not."""
    if request.app.state.publish_api_docs:
        return True
    if "authorization" in request.headers:
        allow(await request.app.state.guard.principal(request.scope), READ)
        return True
    try:
        await identity(request)
    except NotSignedIn:
        return False
    return True


@router.get("/api/openapi.json")
async def openapi(request: Request) -> Response:
    if not await _may_read(request):
        raise ApiError("unauthorized", NOT_SHOWN, {"WWW-Authenticate": "Bearer"})
    schema = request.app.openapi()
    root_path = request.scope.get("root_path", "").rstrip("/")
    if root_path:  # behind a proxy prefix the API is at the prefix (as FastAPI's own route says)
        schema = {**schema, "servers": [{"url": root_path}]}
    return JSONResponse(schema)


@router.get("/api/docs")
async def docs_page(request: Request) -> Response:
    if not await _may_read(request):
        return sign_in_redirect(request)
    root_path = request.scope.get("root_path", "").rstrip("/")
    return HTMLResponse(PAGE.format(assets=escape(f"{root_path}/api/docs/assets"),
                                    openapi=escape(f"{root_path}/api/openapi.json")))


@router.get("/api/docs/assets/{name}")
async def docs_asset(name: str) -> Response:
    path = ASSETS.get(name)
    if path is None:
        raise ApiError("not_found", f"the docs page has no file '{name}'")
    return FileResponse(path)
