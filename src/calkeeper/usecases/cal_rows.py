"""CAL assignments as a file moves them between sites: CSV or JSON rows, written and read back checked.

Each row is one Named or Document CAL: ``type`` (named or document), ``user`` (the holder: a user, or a
machine for a Named CAL held by a machine), ``identity_kind`` (user or machine), ``document``, ``source``
(manual or dynamic), ``assigned_at``, ``last_used``, ``removed_at``, ``quarantined_until`` (ISO 8601,
UTC) and ``machine`` (the machine it served last). Only ``type`` and ``user`` are required.

Reading checks every row before anything is written and names every bad one: a file with one bad row
imports nothing.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from calkeeper.core.clock import as_utc
from calkeeper.core.errors import InvalidInput
from calkeeper.core.identities import Identity, machine_key, machine_problem, user_key, user_problem
from calkeeper.usecases.exports import csv_lines

FORMAT = "calkeeper-cals"
VERSION = 1
FORMATS = ("csv", "json")
COLUMNS = ["type", "user", "identity_kind", "document", "source", "assigned_at", "last_used", "removed_at",
           "quarantined_until", "machine"]
TIMES = ("assigned_at", "last_used", "removed_at", "quarantined_until")
MAX_ROWS = 500_000
LISTED = 10  # problems named in the message; the error's details hold the first thousand
_FORMULA = ("'=", "'+", "'-", "'@", "'\t", "'\r")  # cells the CSV export wrote with a leading "'"


@dataclass(frozen=True)
class ImportedCal:
    """One CAL of a file, checked: who holds it, of which type, for which document, with its dates."""

    row: int
    cal_type: str  # "named" or "document"
    holder: Identity
    document: str | None
    source: str
    assigned_at: datetime | None
    last_used: datetime | None
    removed_at: datetime | None
    quarantined_until: datetime | None
    machine: str | None

    @property
    def named(self) -> bool:
        return self.cal_type == "named"


def _text(value: Any) -> str:
    return value.isoformat().replace("+00:00", "Z") if isinstance(value, datetime) else "" if value is None else value


def csv_text(rows: list[dict[str, Any]]) -> Iterator[str]:
    """The rows as CSV (the header first), as the exports write lists."""
    return csv_lines(COLUMNS, ([_text(row.get(c)) for c in COLUMNS] for row in rows))


def json_text(rows: list[dict[str, Any]], *, exported_at: datetime) -> str:
    """The rows as one JSON document: ``{"format": "calkeeper-cals", "version": 1, "exported_at", "cals"}``."""
    cals = [{c: (_text(row.get(c)) or None) for c in COLUMNS} for row in rows]
    return json.dumps({"format": FORMAT, "version": VERSION, "exported_at": _text(exported_at), "cals": cals},
                      indent=1, ensure_ascii=False) + "\n"


def decoded(data: bytes) -> str:
    """A file's bytes as text; InvalidInput when they are not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text; nothing was imported") from None


def read_cals(text: str) -> tuple[list[ImportedCal], list[str]]:
    """The good CALs of a CSV or JSON text (JSON when it starts with ``{``), and what is wrong with each bad row.

    InvalidInput when the text as a whole is not a CAL export."""
    text = text.removeprefix("\ufeff")
    raw = _json_rows(text) if text.lstrip().startswith("{") else _csv_rows(text)
    if len(raw) > MAX_ROWS:
        raise InvalidInput(f"a file imports at most {MAX_ROWS:,} CALs; split it. Nothing was imported")
    problems: list[str] = []
    cals: list[ImportedCal] = []
    seen: dict[tuple[str, str, str], int] = {}
    for number, values in raw:
        cal, wrong = _cal(number, values)
        if cal is not None:
            held = (cal.cal_type, f"{cal.holder.kind}:{cal.holder.key}", cal.document or "")
            if held in seen:
                wrong.append(f"the same CAL as row {seen[held]}")
            seen.setdefault(held, number)
        if wrong:
            who = str(values.get("user") or "no user")[:80]
            problems += [f"row {number} ({who}): {w}" for w in wrong]
        elif cal is not None:
            cals.append(cal)
    return cals, problems


def refuse(problems: list[str]) -> None:
    """Raise InvalidInput naming the problems (the first ``LISTED`` in the message), when there are any."""
    if not problems:
        return
    more = f" (and {len(problems) - LISTED} more)" if len(problems) > LISTED else ""
    raise InvalidInput(f"nothing was imported: {len(problems)} problem{'s' if len(problems) > 1 else ''}: "
                       f"{'; '.join(problems[:LISTED])}{more}", details=problems[:1000])


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        rows = list(csv.reader(io.StringIO(text)))
    except csv.Error as error:
        raise InvalidInput(f"the file is neither JSON nor CSV ({error}); nothing was imported") from None
    numbered = [(n, r) for n, r in enumerate(rows, start=1) if any(cell.strip() for cell in r)]
    if not numbered:
        raise InvalidInput("the file holds no CALs, not even a header row; nothing was imported")
    header = [cell.strip().lower() for cell in numbered[0][1]]
    unknown = [h for h in header if h not in COLUMNS]
    if "type" not in header or "user" not in header or unknown:
        raise InvalidInput(f"the first row names the columns: type and user (required), {', '.join(COLUMNS[2:])}"
                           f"{'; unknown: ' + ', '.join(unknown) if unknown else ''}. Nothing was imported")
    result = []
    for number, row in numbered[1:]:
        values: dict[str, Any] = {h: _unescaped(cell.strip()) or None for h, cell in zip(header, row, strict=False)}
        if len(row) > len(header):
            values["__width__"] = len(row)
        result.append((number, values))
    return result


def _unescaped(cell: str) -> str:
    return cell[1:] if cell.startswith(_FORMULA) else cell


def _json_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    try:
        content = json.loads(text)
    except (ValueError, RecursionError) as error:
        raise InvalidInput(f"the file is not readable JSON ({str(error)[:120]}); nothing was imported") from None
    if not isinstance(content, dict) or content.get("format") != FORMAT or not isinstance(content.get("cals"), list):
        raise InvalidInput(f"the JSON file is not a CAL export (format '{FORMAT}' with a list 'cals'); "
                           "nothing was imported")
    if content.get("version") != VERSION:
        raise InvalidInput(f"the file is a CAL export of version {str(content.get('version'))[:20]}; this release "
                           f"reads version {VERSION}. Nothing was imported")
    result = []
    for number, row in enumerate(content["cals"], start=1):
        result.append((number, row if isinstance(row, dict) else {"__not_an_object__": True}))
    return result


def _cal(number: int, values: dict[str, Any]) -> tuple[ImportedCal | None, list[str]]:
    """The CAL a row describes, or what is wrong with it."""
    if values.get("__not_an_object__"):
        return None, ["a CAL is a JSON object"]
    wrong: list[str] = []
    if "__width__" in values:
        wrong.append(f"it has {values.pop('__width__')} cells where the header names fewer")
    unknown = sorted(set(values) - set(COLUMNS))
    if unknown:
        wrong.append(f"unknown fields: {', '.join(map(str, unknown))[:120]}")
    texts = {c: values.get(c) for c in COLUMNS}
    not_text = [c for c, v in texts.items() if v is not None and not isinstance(v, str)]
    if not_text:
        return None, [*wrong, f"{', '.join(not_text)} must be text"]
    cal_type, kind = texts["type"] or "", texts["identity_kind"] or "user"
    name, document, source = texts["user"] or "", texts["document"], texts["source"] or "manual"
    if cal_type not in ("named", "document"):
        wrong.append(f"type is named or document, not '{cal_type[:40]}'")
    if kind not in ("user", "machine"):
        wrong.append(f"identity_kind is user or machine, not '{kind[:40]}'")
    elif kind == "machine" and cal_type == "document":
        wrong.append("a Document CAL is held by a user, not a machine")
    elif problem := (machine_problem if kind == "machine" else user_problem)(name):
        wrong.append(f"'{name[:80]}' is not a valid {kind} name: {problem}")
    if cal_type == "document" and not document:
        wrong.append("a Document CAL names its document")
    if cal_type == "named" and document:
        wrong.append("a Named CAL names no document")
    if source not in ("manual", "dynamic"):
        wrong.append(f"source is manual or dynamic, not '{source[:40]}'")
    if texts["machine"] and (problem := machine_problem(texts["machine"])):
        wrong.append(f"machine '{texts['machine'][:80]}': {problem}")
    times: dict[str, datetime | None] = {}
    for column in TIMES:
        times[column] = None
        if given := texts[column]:
            try:
                times[column] = as_utc(datetime.fromisoformat(given))
            except (ValueError, OverflowError):
                wrong.append(f"{column} '{given[:40]}' is not a time (ISO 8601, e.g. 2026-03-01T09:30:00Z)")
    if (times["removed_at"] is None) != (times["quarantined_until"] is None):
        wrong.append("a removed CAL is quarantined until a time, and only a removed one is: give both removed_at "
                     "and quarantined_until, or neither")
    if wrong:
        return None, wrong
    key = machine_key(name) if kind == "machine" else user_key(name)
    return ImportedCal(number, cal_type, Identity(name, key, kind), document, source, times["assigned_at"],
                       times["last_used"], times["removed_at"], times["quarantined_until"], texts["machine"]), []
