"""Backup and restore over HTTP: the site's data as one JSON file, downloaded or uploaded; and the site's CAL
assignments exported and imported (CSV or JSON), to move them to another site.

The site writes and reads backups as files, so each request goes through a temporary file in the
server's backups folder (named with a leading dot and no ``.json``, so the console does not list it),
removed when the request is done.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from calkeeper.api.deps import Admin, Reader, SiteDep, actor
from calkeeper.api.schemas import CalExportQuery
from calkeeper.contract.views import CalImport
from calkeeper.core.errors import BackupError
from calkeeper.infra.http_errors import ApiError, ErrorBody, responses

router = APIRouter(prefix="/api/v1", tags=["maintenance"], responses=responses(401, 403, 429, 503))

ROWS_HEADER = "Calkeeper-Backup-Rows"
RESTORE_LIMIT = 200 * 1024 * 1024  # bytes: far above a large site's backup, low enough to refuse a runaway upload
UPLOADED = "the uploaded backup"  # how errors name the file restored (the client puts its own name back)
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorBody, "description": f"The backup is larger than {RESTORE_LIMIT // 2**20} MB"}}


def _temporary(folder: Path, kind: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=f".api-{kind}-", suffix=".tmp")
    os.close(fd)
    return Path(name)


@router.get("/backup", response_class=FileResponse, responses={
    200: {"content": {"application/json": {}}, "description": "The backup file (format calkeeper-backup); the "
          f"{ROWS_HEADER} header holds its rows per table"}})
def backup(http: Request, site: SiteDep, principal: Admin) -> FileResponse:
    """Download a backup of the site's settings, license, documents and CAL records (not the audit trail)."""
    target = _temporary(http.app.state.backups_dir, "backup")
    try:
        counts = site.backup(target, actor=actor(principal))
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    name = f"calkeeper-backup-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    # The rows per table, in the order the site counted them (the file's keys are sorted).
    rows = {ROWS_HEADER: json.dumps(counts, separators=(",", ":"))}
    return FileResponse(target, media_type="application/json", filename=name, headers=rows,
                        background=BackgroundTask(target.unlink, missing_ok=True))


@router.post("/restore", response_model=dict[str, int], responses={**responses(422), **TOO_LARGE},
             openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                 "schema": {"type": "object", "description": "A backup file as GET /api/v1/backup gives it"}}}}})
async def restore(request: Request, site: SiteDep, principal: Admin) -> dict[str, int]:
    """Replace the site's data with the backup in the body, in one transaction; a bad backup changes nothing.

    Answers the rows restored per table. The audit trail is kept and notes the restore.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > RESTORE_LIMIT:
        raise _too_large()
    source = _temporary(request.app.state.backups_dir, "restore")
    try:
        size = 0
        with source.open("wb") as file:
            async for chunk in request.stream():
                size += len(chunk)
                if size > RESTORE_LIMIT:
                    raise _too_large()
                await run_in_threadpool(file.write, chunk)
        return await run_in_threadpool(lambda: site.restore(source, actor=actor(principal)))
    except BackupError as error:
        raise BackupError(error.message.replace(str(source), UPLOADED), code=error.code,
                          details=error.details) from None
    finally:
        source.unlink(missing_ok=True)


def too_large_message(limit: int) -> str:
    return (f"the backup is larger than the {limit // 2**20} MB a restore accepts; restore it on the server's host "
            "with 'calkeeper restore FILE'")


def _too_large() -> ApiError:
    return ApiError("backup_too_large", too_large_message(RESTORE_LIMIT))


# -- CAL assignments moved between sites ---------------------------------------------------------------

CAL_ROWS_HEADER = "Calkeeper-Cal-Rows"
IMPORT_LIMIT = 100 * 1024 * 1024  # bytes: half a million CALs take far less


@router.get("/cals/export", response_class=FileResponse, tags=["cals"], responses={
    200: {"content": {"text/csv": {}, "application/json": {}},
          "description": f"Every Named and Document CAL, as CSV or JSON; the {CAL_ROWS_HEADER} header says how many"}})
def export_cals(http: Request, site: SiteDep, _: Reader, query: Annotated[CalExportQuery, Query()]) -> FileResponse:
    """Every Named and Document CAL (holder, type, document, source, assigned, last used, quarantined until)."""
    format = query.format
    target = _temporary(http.app.state.backups_dir, "cals")
    try:
        count = site.export_cals(target, format=format)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    name = f"calkeeper-cals-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.{format}"
    media = "application/json" if format == "json" else "text/csv; charset=utf-8"
    return FileResponse(target, media_type=media, filename=name, headers={CAL_ROWS_HEADER: str(count)},
                        background=BackgroundTask(target.unlink, missing_ok=True))


@router.post("/cals/import", response_model=CalImport, tags=["cals"], responses={**responses(400, 409, 422), 413: {
    "model": ErrorBody, "description": f"The file is larger than {IMPORT_LIMIT // 2**20} MB"}},
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "object", "description": "A CAL export, as GET /cals/export gives it"}},
    }}})
async def import_cals(request: Request, site: SiteDep, principal: Admin) -> CalImport:
    """Add the CALs of an export (CSV or JSON) to the site: all or nothing, every problem named."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > IMPORT_LIMIT:
        raise _import_too_large()
    source = _temporary(request.app.state.backups_dir, "cals-import")
    try:
        size = 0
        with source.open("wb") as file:
            async for chunk in request.stream():
                size += len(chunk)
                if size > IMPORT_LIMIT:
                    raise _import_too_large()
                await run_in_threadpool(file.write, chunk)
        return await run_in_threadpool(lambda: site.import_cals(source, actor=actor(principal)))
    finally:
        source.unlink(missing_ok=True)


def _import_too_large() -> ApiError:
    return ApiError("body_too_large", f"the file is larger than the {IMPORT_LIMIT // 2**20} MB an import accepts; "
                                      "split it, or import it on the server's host with 'calkeeper cal import FILE'")
