"""Backup and restore over HTTP: the site's data as one JSON file, downloaded or uploaded.

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
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from calkeeper.api.deps import Admin, SiteDep, actor
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
