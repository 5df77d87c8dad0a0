"""Backups of a site's data as one JSON file: writing them, reading them back checked, and loading them.

A backup (format ``calkeeper-backup``, version 3) holds every table but the audit trail, ``summary`` (its
rows per table, which listings read from the file's head) and ``digest``: the SHA-256 of its canonical
content. A file damaged or edited since it was written is refused before
anything of it is read into the database. Version 1 files, written before backups carried a digest, are
still read, with every other check. Versions 1 and 2 keyed names by case folding; their keys are
recomputed as names compare now (``backup_rows.rekeyed``) before they are checked. The digest finds
damage, not forgery: whoever edits a file can compute a new one, so what a restore puts in force is
checked as live input is (``backup_rows``, and the license checks of the restore).

The audit trail is never part of a backup and never overwritten: restoring appends to it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Boolean, Connection, Date, Integer, String, delete, insert, select, text, update
from sqlalchemy.exc import DataError, IntegrityError

from calkeeper.core.clock import as_utc
from calkeeper.core.errors import BackupError
from calkeeper.infra.database import UtcDateTime, table_of
from calkeeper.store.schema import (
    ActivityCount,
    AlertDelivery,
    AlertRecord,
    ApiToken,
    AuditEntry,
    Base,
    ConsoleUser,
    DirectoryGroup,
    DirectoryMember,
    DirectoryUser,
    Document,
    DocumentCal,
    GrantCount,
    GroupRule,
    GroupRuleCal,
    LicenseLease,
    LicenseRecord,
    NamedCal,
    PoolUsage,
    Session,
    SessionCal,
    SiteState,
    UsageCal,
    User,
)
from calkeeper.store.schema import DenialRecord as Denial

FORMAT = "calkeeper-backup"
VERSION = 3
READABLE_VERSIONS = (1, 2, 3)  # 1: written before backups carried a digest; 1 and 2: keys case-folded
KEYED_AS_WINDOWS = 3  # the first version whose keys are names compared as Windows compares them
MAX_FILE_BYTES = 512 * 2**20  # far above a large site's backup; a larger file is refused unread
MAX_INTEGER = 2**31 - 1  # every whole number of a backup fits the database's 32-bit columns
DIGEST_PREFIX = "sha256:"
# In dependency order: parents before children.
TABLES = [SiteState, LicenseRecord, User, Document, NamedCal, DocumentCal, SessionCal, UsageCal, Session, Denial,
          DirectoryUser, DirectoryGroup, DirectoryMember, GroupRule, GroupRuleCal, ActivityCount, PoolUsage,
          AlertRecord, LicenseLease]
# What a move to another database carries beyond a backup: the audit trail, the API tokens and console users
# (so the same people and scripts sign in), the dashboard's counts and the alert deliveries. Console sessions,
# idempotency keys and sign-in failures are short-lived and stay behind.
MOVED = [AuditEntry, ApiToken, ConsoleUser, GrantCount, AlertDelivery]
# Tables a backup written before them does not hold: restoring such a backup leaves them as they are.
LATER_TABLES = frozenset({"directory_users", "directory_groups", "directory_members", "group_rules",
                          "group_rule_cals", "activity_counts", "pool_usage", "alerts", "license_leases"})
# Nullable columns a backup written before them does not hold: restored as null.
LATER_COLUMNS = {"sessions": frozenset({"node"})}
# and, from version 2, "digest"; "summary" (the rows per table, read by listings from the file's head) is optional
_MEMBERS = {"format", "version", "tables", "created_at", "summary"}
HEAD_BYTES = 64 * 1024  # the summary comes before the tables (keys are sorted), within the file's first bytes
# Counters and their flags (store.counters) are not data: a backup leaves them out, a restore counts them anew.
DERIVED = {"documents": {"used"}, "session_cals": {"counted"}, "usage_cals": {"counted"}}


def backup_columns(table: Any) -> list[Any]:
    """The columns of a table a backup holds."""
    return [c for c in table.columns if c.name not in DERIVED.get(table.name, set())]

Rows = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class Backup:
    """A backup file read and checked: its rows with times and dates decoded, and its format version."""

    tables: Rows
    version: int

    @property
    def sealed(self) -> bool:
        """True when a digest vouched that the file is the one written (version 2 on)."""
        return self.version >= 2


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
        rows = connection.execute(select(*backup_columns(table)).order_by(*table.primary_key.columns)).mappings()
        tables[table.name] = [{k: _encode(v) for k, v in row.items()} for row in rows]
    return {"format": FORMAT, "version": VERSION, "tables": tables}


def digest_of(content: Mapping[str, Any]) -> str:
    """The SHA-256 of a backup's canonical JSON: every member but ``digest``, keys sorted, no spaces, ASCII."""
    canonical = json.dumps({k: v for k, v in content.items() if k != "digest"}, sort_keys=True,
                           separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return DIGEST_PREFIX + hashlib.sha256(canonical.encode("ascii")).hexdigest()


def write_file(path: Path, content: dict[str, Any]) -> None:
    """Write a backup with its summary and digest, atomically: a crash leaves the old file or the new one, never
    half of one."""
    content = {**content, "summary": {name: len(rows) for name, rows in content["tables"].items()}}
    sealed = {**content, "digest": digest_of(content)}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(sealed, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_summary(path: Path) -> dict[str, int] | None:
    """The rows per table a backup says it holds, read from the head of the file only (a listing reads many);
    None for a file without a summary (written before backups had one) or not a backup."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None
    start = head.find('"summary": ')
    if start < 0 or '"format": "calkeeper-backup"' not in head[:start]:
        return None
    try:
        summary, _ = json.JSONDecoder().raw_decode(head, start + len('"summary": '))
    except ValueError:
        return None
    if not isinstance(summary, dict) or not all(isinstance(k, str) and type(v) is int for k, v in summary.items()):
        return None
    return summary


def read_file(path: Path) -> Backup:
    """Read and check a backup file; refuse anything that is not a whole calkeeper backup this release reads.

    In order: its size, UTF-8, JSON, format and version, the digest (version 2), then the tables, their
    columns and each value's type and range. Every refusal is a BackupError; nothing is written.
    """
    content = _parse(path, _read_bytes(path))
    if not isinstance(content, dict) or content.get("format") != FORMAT:
        raise BackupError(f"{path} is not a calkeeper backup")
    version = content.get("version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise BackupError(f"{path} is a backup of version {_shown(version)}; this release reads versions "
                          f"{' and '.join(map(str, READABLE_VERSIONS))}")
    if version >= 2:
        _check_digest(path, content)
    unknown = sorted(set(content) - _MEMBERS - ({"digest"} if version >= 2 else set()))
    if unknown:
        raise BackupError(f"{path} is not a backup this release reads: it holds "
                          f"{', '.join(_shown(name) for name in unknown)}, which a version {version} backup does not")
    summary = content.get("summary", {})
    if not isinstance(summary, dict) or not all(type(v) is int for v in summary.values()):
        raise BackupError(f"{path} is damaged: its summary is not the rows per table")
    tables = content.get("tables")
    expected = {table_of(m).name for m in TABLES}
    if not isinstance(tables, dict) or not expected - LATER_TABLES <= set(tables) <= expected:
        raise BackupError(f"{path} is incomplete: it must hold the tables {', '.join(sorted(expected))}")
    for name, rows in tables.items():
        columns = {c.name for c in backup_columns(Base.metadata.tables[name])}
        later = LATER_COLUMNS.get(name, frozenset())
        if not isinstance(rows, list) or any(not isinstance(r, dict) or not columns - later <= set(r) <= columns
                                             for r in rows):
            raise BackupError(f"{path} is damaged: the rows of '{name}' do not have the expected columns")
        for row in rows:
            for column in later - set(row):
                row[column] = None
    if len(tables["site_state"]) != 1:
        raise BackupError(f"{path} is damaged: it must hold exactly one row of server settings")
    decoded = {}
    for model in TABLES:
        table = table_of(model)
        if table.name in tables:
            decoded[table.name] = [_decode(table, row) for row in tables[table.name]]
    return Backup(decoded, version)


def _read_bytes(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # never more: a runaway file is refused, not loaded
    except FileNotFoundError:
        raise BackupError(f"there is no backup file at {path}") from None
    except OSError as error:
        raise BackupError(f"{path} is not a readable calkeeper backup ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise BackupError(f"{path} is larger than the {MAX_FILE_BYTES // 2**20} MB a backup can be; "
                          "it is not a calkeeper backup")
    return data


class _NotAValue(ValueError):
    """A JSON number or constant no backup holds."""


def _whole_number(literal: str) -> int:
    # JSON writes no leading zeros, so the length says the size; int() of thousands of digits would raise
    if len(literal.lstrip("-")) > len(str(MAX_INTEGER)):
        raise _NotAValue(f"it holds a number of {len(literal.lstrip('-'))} digits, larger than any in a backup")
    return int(literal)


def _fraction(literal: str) -> float:
    raise _NotAValue(f"it holds the number {literal[:30]}, where a backup holds whole numbers only")


def _constant(literal: str) -> float:
    raise _NotAValue(f"it holds {literal}, which is not a value a backup holds")


def _parse(path: Path, data: bytes) -> Any:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BackupError(f"{path} is not a readable calkeeper backup: it is not UTF-8 text") from None
    try:
        return json.loads(text, parse_int=_whole_number, parse_float=_fraction, parse_constant=_constant)
    except RecursionError:
        raise BackupError(f"{path} is not a calkeeper backup: its JSON is nested far deeper than a backup's") from None
    except _NotAValue as error:
        raise BackupError(f"{path} is not a calkeeper backup: {error}") from None
    except ValueError as error:  # json.JSONDecodeError
        raise BackupError(f"{path} is not a readable calkeeper backup ({error})") from None


def _check_digest(path: Path, content: dict[str, Any]) -> None:
    recorded = content.get("digest")
    try:
        expected = digest_of(content)
    except (RecursionError, ValueError):
        expected = ""
    if recorded is None or recorded != expected:
        why = "its digest is missing" if recorded is None else "its content does not match the SHA-256 digest in it"
        raise BackupError(f"{path} was changed or damaged since it was written ({why}); nothing was restored. "
                          "Restore an unchanged copy")


def _shown(value: Any) -> str:
    """A value as a message quotes it: short, and printable however broken its text (a lone surrogate)."""
    shown = value if isinstance(value, str) else json.dumps(value) if _flat(value) else type(value).__name__
    shown = (shown[:60] + "…" if len(shown) > 60 else shown).encode("utf-8", "backslashreplace").decode("utf-8")
    return f"'{shown}'"


def _flat(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | str)


def _decode(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    """A row with its times and dates read, every value checked against its column's type and range."""
    decoded = dict(row)
    for column in backup_columns(table):
        value, where, kind = row[column.name], f"{table.name}.{column.name}", column.type
        if value is None:
            if not column.nullable:
                raise BackupError(f"the backup has no value in {where}, which must have one")
            continue
        problem = None
        if isinstance(kind, UtcDateTime | Date):
            try:
                decoded[column.name] = (as_utc(datetime.fromisoformat(value)) if isinstance(kind, UtcDateTime)
                                        else date.fromisoformat(value))
            except (TypeError, ValueError, OverflowError):  # OverflowError: a time zone past year 1 or 9999
                problem = "a time" if isinstance(kind, UtcDateTime) else "a date"
        elif isinstance(kind, Boolean):
            problem = None if isinstance(value, bool) else "true or false"
        elif isinstance(kind, Integer):
            # SQLite stores whatever it is given, so a wrong type or range must be caught here
            valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_INTEGER
            problem = None if valid else f"a whole number from 0 to {MAX_INTEGER}"
        elif isinstance(kind, String):
            problem = _text_problem(value, kind.length)
        if problem is not None:
            raise BackupError(f"the backup has {_shown(value)} where {problem} belongs ({where})")
    return decoded


def _text_problem(value: Any, length: int | None) -> str | None:
    if not isinstance(value, str):
        return "text"
    if length is not None and len(value) > length:
        return f"text of at most {length} characters"
    if "\x00" in value:
        return "text without NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, which a JSON "\ud800" escape can carry
        return "valid text"
    return None


def load(connection: Connection, tables: Rows) -> dict[str, int]:
    """Replace the site's data with a checked backup's rows, inside the caller's transaction."""
    try:
        return _load(connection, tables)
    except (IntegrityError, DataError) as error:
        # rows the database refuses (a broken rule, a duplicate, a wrong type) mean a damaged file
        reason = str(error.orig or error).strip().splitlines()[0][:200]
        raise BackupError(f"the backup is damaged: the database refuses its rows ({reason})") from None


def _load(connection: Connection, tables: Rows) -> dict[str, int]:
    for model in reversed(TABLES):
        if model is not SiteState and table_of(model).name in tables:
            connection.execute(delete(table_of(model)))
    counts = {}
    for model in TABLES:
        table = table_of(model)
        if table.name not in tables:
            continue  # a backup written before this table: what the site holds in it stays
        rows = tables[table.name]
        if model is SiteState:
            values = {k: v for k, v in rows[0].items() if k not in {"id", "generation"}}
            values["maintenance"] = False
            connection.execute(update(table).where(table.c.id == 1).values(generation=table.c.generation + 1, **values))
        elif rows:
            connection.execute(insert(table), rows)
        counts[table.name] = len(rows)
    return counts


def read_moved(connection: Connection) -> Rows:
    """The rows of the tables a move carries beyond a backup (``MOVED``), as they are."""
    return {table_of(m).name: [dict(row) for row in connection.execute(
        select(table_of(m)).order_by(*table_of(m).primary_key.columns)).mappings()] for m in MOVED}


def add_moved(connection: Connection, tables: Rows) -> dict[str, int]:
    """Insert the rows ``read_moved`` read from another database (this one holds none of them yet)."""
    for model in MOVED:
        table = table_of(model)
        if tables.get(table.name):
            connection.execute(insert(table), tables[table.name])
    return {name: len(rows) for name, rows in tables.items()}


def count_rows(connection: Connection) -> dict[str, int]:
    """The rows of every table a backup or a move holds."""
    return {table_of(m).name: int(connection.execute(text(f"SELECT COUNT(*) FROM {table_of(m).name}")).scalar_one())
            for m in [*TABLES, *MOVED]}


def reset_ids(connection: Connection) -> None:
    """PostgreSQL: start each restored (or moved) table's id sequence after its highest id.

    A sequence is not rolled back with its transaction, so this runs once nothing can refuse the restore.
    """
    for model in [*TABLES, *MOVED]:
        table = table_of(model)
        if "id" in table.c and table.c.id.autoincrement is True:
            connection.execute(text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            ))
