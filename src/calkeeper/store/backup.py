"""Backups of a site's data as one JSON file, and restoring them in one transaction.

The audit trail is never part of a backup and never overwritten: restoring appends to it.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pydantic_core
from sqlalchemy import Boolean, Connection, Date, Integer, String, Text, delete, insert, select, text, update
from sqlalchemy.exc import DataError, IntegrityError

from calkeeper.core.clock import as_utc
from calkeeper.core.errors import BackupError
from calkeeper.infra.database import UtcDateTime, table_of
from calkeeper.store.schema import (
    Base,
    Document,
    DocumentCal,
    LicenseRecord,
    NamedCal,
    Session,
    SessionCal,
    SiteState,
    UsageCal,
    User,
)
from calkeeper.store.schema import DenialRecord as Denial

FORMAT = "calkeeper-backup"
VERSION = 1
# In dependency order: parents before children.
TABLES = [SiteState, LicenseRecord, User, Document, NamedCal, DocumentCal, SessionCal, UsageCal, Session, Denial]


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def dump(connection: Connection) -> dict[str, Any]:
    """Every table but the audit trail, as JSON-ready rows."""
    tables = {}
    for model in TABLES:
        table = table_of(model)
        rows = connection.execute(select(table).order_by(*table.primary_key.columns)).mappings()
        tables[table.name] = [{k: _encode(v) for k, v in row.items()} for row in rows]
    return {"format": FORMAT, "version": VERSION, "tables": tables}


def write_file(path: Path, content: dict[str, Any]) -> None:
    """Write a backup atomically: a crash leaves the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(content, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_file(path: Path) -> dict[str, Any]:
    """Read and check a backup file; refuse anything that is not a calkeeper backup this release reads."""
    try:
        # pydantic's parser, not json.loads: text that is not valid Unicode (a lone surrogate) is refused here
        content = pydantic_core.from_json(path.read_bytes())
    except FileNotFoundError:
        raise BackupError(f"there is no backup file at {path}") from None
    except (OSError, ValueError) as error:
        raise BackupError(f"{path} is not a readable calkeeper backup ({error})") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise BackupError(f"{path} is not a calkeeper backup")
    if content.get("version") != VERSION:
        raise BackupError(f"{path} is a backup of version {content.get('version')}; this release reads {VERSION}")
    tables = content.get("tables")
    expected = {table_of(m).name for m in TABLES}
    if not isinstance(tables, dict) or set(tables) != expected:
        raise BackupError(f"{path} is incomplete: it must hold the tables {', '.join(sorted(expected))}")
    for name, rows in tables.items():
        columns = set(Base.metadata.tables[name].columns.keys())
        if not isinstance(rows, list) or any(not isinstance(r, dict) or set(r) != columns for r in rows):
            raise BackupError(f"{path} is damaged: the rows of '{name}' do not have the expected columns")
    return content


def _decode(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    decoded = dict(row)
    for column in table.columns:
        value = decoded.get(column.name)
        if value is None:
            continue
        try:
            if isinstance(column.type, UtcDateTime):
                decoded[column.name] = datetime.fromisoformat(value)
            elif isinstance(column.type, Date):
                decoded[column.name] = date.fromisoformat(value)
        except (TypeError, ValueError):
            raise BackupError(f"the backup has '{value}' where a time belongs ({table.name}.{column.name})") from None
        # SQLite stores whatever it is given, so a wrong type must be caught here, not by the database
        expected = _JSON_TYPES.get(type(column.type))
        if expected is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
            raise BackupError(
                f"the backup has '{value}' where {_JSON_NAMES[expected]} belongs ({table.name}.{column.name})"
            )
    return decoded


_JSON_TYPES: dict[type, type] = {Integer: int, Boolean: bool, String: str, Text: str}
_JSON_NAMES = {int: "a whole number", bool: "true or false", str: "text"}


def load(connection: Connection, content: dict[str, Any], *, postgres: bool) -> dict[str, int]:
    """Replace the site's data with a backup's, inside the caller's transaction."""
    try:
        return _load(connection, content, postgres=postgres)
    except (IntegrityError, DataError) as error:
        # rows the database refuses (a broken rule, a duplicate, a wrong type) mean a damaged file
        reason = str(error.orig or error).strip().splitlines()[0][:200]
        raise BackupError(f"the backup is damaged: the database refuses its rows ({reason})") from None


def _load(connection: Connection, content: dict[str, Any], *, postgres: bool) -> dict[str, int]:
    for model in reversed(TABLES):
        if model is not SiteState:
            connection.execute(delete(table_of(model)))
    counts = {}
    for model in TABLES:
        table = table_of(model)
        rows = [_decode(table, r) for r in content["tables"][table.name]]
        if model is SiteState:
            if len(rows) != 1:
                raise BackupError("the backup is damaged: it must hold exactly one row of server settings")
            values = {k: v for k, v in rows[0].items() if k not in {"id", "generation"}}
            values["maintenance"] = False
            connection.execute(update(table).where(table.c.id == 1).values(generation=table.c.generation + 1, **values))
        elif rows:
            connection.execute(insert(table), rows)
        counts[table.name] = len(rows)
    if postgres:
        for model in TABLES:
            table = table_of(model)
            if "id" in table.c and table.c.id.autoincrement is True:
                connection.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
                ))
    return counts
