"""What a backup's rows may hold: the rules live input passes, checked before a restore writes a row.

A restore must not put in force what this server could never have recorded: names the validators
refuse, document paths the root folder's scan never gives, values outside their column's set, CAL data
beside no license, or a license row whose terms are not the ones its signed LEF grants. Each check
reads rows already decoded by ``backup.read_file`` (types and ranges are checked there).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from calkeeper.core.cals import ClientType, IdentificationMode
from calkeeper.core.comparison import normalized
from calkeeper.core.documents import document_key, document_path_problem, serving_problem
from calkeeper.core.errors import BackupError, InvalidUsers
from calkeeper.core.identities import machine_key, parse_machine, user_key, user_problem
from calkeeper.core.license import LicenseTerms
from calkeeper.store.activity import doc_digest
from calkeeper.store.backup import Rows
from calkeeper.store.licenses import license_values

SOURCES = ("manual", "dynamic")
IDENTITY_KINDS = ("user", "machine")
SESSION_CAL_TYPES = ("session", "usage", "named", "document")
CLIENTS = tuple(c.value for c in ClientType)
MODES = tuple(m.value for m in IdentificationMode)
_CODE = re.compile(r"[a-z][a-z_]{0,39}")
LISTED = 5  # problems named in the message; the error's details hold the first hundred

Check = Callable[[Any], "str | None"]


def _user(value: Any) -> str | None:
    return user_problem(value)


def _optional_user(value: Any) -> str | None:
    return None if value is None else user_problem(value)


def _machine(value: Any) -> str | None:
    try:
        identity = parse_machine(value)
    except InvalidUsers as error:
        return str(error.details[0]["problem"])
    return None if identity.name == value else "a machine name cannot begin or end with a space"


def _optional_machine(value: Any) -> str | None:
    return None if value is None else _machine(value)


def _one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else f"it is one of {', '.join(allowed)}"
    return check


def _code(value: Any) -> str | None:
    return None if _CODE.fullmatch(value) else "an error code is lower-case letters and '_'"


# The columns of each table that hold names or values from a set, and the rule each passes.
COLUMN_RULES: dict[str, dict[str, Check]] = {
    "site_state": {"identification_mode": _one_of(*MODES)},
    "users": {"name": _user},
    "named_cals": {"identity_kind": _one_of(*IDENTITY_KINDS), "source": _one_of(*SOURCES),
                   "machine": _optional_machine},
    "documents": {"path": lambda path: document_path_problem(path) or serving_problem(path)},
    "document_cals": {"user_name": _user, "source": _one_of(*SOURCES), "machine": _optional_machine},
    "session_cals": {"user_name": _optional_user, "machine": _machine, "client": _one_of(*CLIENTS)},
    "usage_cals": {"user_name": _optional_user, "machine": _machine},
    "sessions": {"cal_type": _one_of(*SESSION_CAL_TYPES), "user_name": _optional_user, "machine": _machine,
                 "client": _one_of(*CLIENTS)},
    "denials": {"user_name": _optional_user, "machine": _machine, "code": _code},
    "directory_users": {"name": _user},
    "group_rules": {"cal_type": _one_of("named", "document")},
    "group_rule_cals": {"user_name": _user},
    "activity_counts": {"span": _one_of("hour", "day"), "outcome": _one_of("grant", "denial"),
                        "cal_type": _one_of("", *SESSION_CAL_TYPES), "user_name": _optional_user,
                        "code": lambda code: None if code == "" else _code(code)},
    "pool_usage": {"cal_type": _one_of(*SESSION_CAL_TYPES)},
    "license_leases": {"user_name": _user, "machine": _machine,
                       "end_reason": _one_of("ended", "revoked", "cal_data_cleared")},
}


def _holder_key(user_name: str | None, machine: str) -> str:
    # as core.allocation.OpenRequest.holder_key: the user's key, or the machine's for an anonymous user
    return user_key(user_name) if user_name else f"anonymous@{machine_key(machine)}"


def _derived(table: str, row: Mapping[str, Any], documents: set[int],
             refs: Mapping[str, set[Any]] | None = None) -> list[tuple[str, str]]:
    """The columns a row's other columns decide (keys, references), with what is wrong with each."""
    wrong: list[tuple[str, str]] = []

    def must(column: str, ok: bool, problem: str) -> None:
        if not ok:
            wrong.append((column, problem))

    if table == "users":
        must("key", row["key"] == user_key(row["name"]), "it is not the name's comparison key")
    elif table == "named_cals":
        problem = (_machine if row["identity_kind"] == "machine" else _user)(row["identity_name"])
        must("identity_name", problem is None, problem or "")
        wanted = (machine_key if row["identity_kind"] == "machine" else user_key)(row["identity_name"])
        must("identity_key", row["identity_key"] == wanted, "it is not the name's comparison key")
    elif table == "documents":
        must("path_key", row["path_key"] == document_key(row["path"]), "it is not the path's comparison key")
    elif table == "document_cals":
        must("user_key", row["user_key"] == user_key(row["user_name"]), "it is not the name's comparison key")
        must("document_id", row["document_id"] in documents, "no document of the backup has this id")
    elif table == "session_cals":
        expected = f"{_holder_key(row['user_name'], row['machine'])}|{machine_key(row['machine'])}|{row['client']}"
        must("client_key", row["client_key"] == expected, "it is not the user, machine and client it names")
    elif table == "usage_cals":
        must("holder_key", row["holder_key"] == _holder_key(row["user_name"], row["machine"]),
             "it is not the user or machine it names")
        must("document_id", row["document_id"] is None or row["document_id"] in documents,
             "no document of the backup has this id")
    elif table == "sessions":
        must("document_id", row["document_id"] in documents, "no document of the backup has this id")
    elif table in {"directory_users", "directory_groups"}:
        must("key", row["key"] == row["name"].casefold(), "it is not the case-folded name")
    elif table == "directory_members":
        known = refs or {}
        must("group_key", row["group_key"] in known.get("directory_groups", set()), "no group of the backup has it")
        must("user_key", row["user_key"] in known.get("directory_users", set()), "no user of the backup has it")
    elif table == "group_rules":
        must("group_key", row["group_key"] == row["group_name"].casefold(), "it is not the case-folded name")
        must("document_id", (row["document_id"] is None) == (row["cal_type"] == "named")
             and (row["document_id"] is None or row["document_id"] in documents),
             "a Document CAL rule names a document of the backup, a Named CAL rule none")
    elif table == "group_rule_cals":
        must("user_key", row["user_key"] == row["user_name"].casefold(), "it is not the case-folded name")
        must("rule_id", row["rule_id"] in (refs or {}).get("group_rules", set()), "no group rule of the backup has it")
    elif table == "activity_counts":
        must("user_key", row["user_key"] == (user_key(row["user_name"]) if row["user_name"] else ""),
             "it is not the name's comparison key")
        must("document_key", row["document_key"] == doc_digest(row["document"]), "it is not the document's key")
    elif table == "license_leases":
        must("user_key", row["user_key"] == user_key(row["user_name"]), "it is not the name's comparison key")
        must("end_reason", (row["ended_at"] is None) == (row["end_reason"] is None), "a lease ends with a reason")
    if table in {"named_cals", "document_cals"}:
        must("quarantined_until", row["quarantined_until"] is None or row["removed_at"] is not None,
             "a CAL is quarantined only once removed")
    return wrong


def check_rows(tables: Rows) -> None:
    """Refuse (BackupError) a backup any of whose rows holds what live input could not give."""
    documents = {row["id"] for row in tables["documents"]}
    refs = {"directory_users": {row["key"] for row in tables.get("directory_users", [])},
            "directory_groups": {row["key"] for row in tables.get("directory_groups", [])},
            "group_rules": {row["id"] for row in tables.get("group_rules", [])}}
    problems: list[str] = []
    for table, rows in tables.items():
        rules = COLUMN_RULES.get(table, {})
        for number, row in enumerate(rows, start=1):
            wrong = [(c, p) for c, check in rules.items() if row[c] is not None and (p := check(row[c])) is not None]
            if not wrong:  # the derived columns are checked once the ones they derive from are valid
                wrong = _derived(table, row, documents, refs)
            problems += [f"{table} row {number}, {column} {_shown(row[column])}: {problem}"
                         for column, problem in wrong]
    if problems:
        more = f" (and {len(problems) - LISTED} more)" if len(problems) > LISTED else ""
        raise BackupError(
            "the backup holds what this server never records, so it was edited or damaged: "
            f"{'; '.join(problems[:LISTED])}{more}", details=problems[:100],
        )


def rekeyed(tables: Rows) -> Rows:
    """The rows of a backup written when names were keyed by case folding (versions 1 and 2), with names in
    NFC and keys as names compare now; refuse (BackupError) one in which two names now compare as one."""
    def nfc(value: str | None) -> str | None:
        return normalized(value) if value is not None else None

    def rows(table: str, **derive: Callable[[dict[str, Any]], Any]) -> list[dict[str, Any]]:
        result = []
        for row in tables[table]:
            row = {**row, **{c: nfc(row[c]) for c in ("name", "identity_name", "user_name") if c in row}}
            result.append({**row, **{column: make(row) for column, make in derive.items()}})
        return result

    def key_of(kind: str, name: Any) -> Any:
        return name if not isinstance(name, str) else (machine_key if kind == "machine" else user_key)(name)

    new = {**tables}
    new["users"] = rows("users", key=lambda r: key_of("user", r["name"]))
    new["named_cals"] = rows("named_cals", identity_key=lambda r: key_of(r["identity_kind"], r["identity_name"]))
    new["documents"] = rows("documents", path_key=lambda r: document_key(r["path"]) if isinstance(r["path"], str)
                            else r["path_key"])
    new["document_cals"] = rows("document_cals", user_key=lambda r: key_of("user", r["user_name"]))
    new["usage_cals"] = rows("usage_cals", holder_key=lambda r: _holder_key(r["user_name"], r["machine"]))
    new["session_cals"] = rows("session_cals", client_key=lambda r: (
        f"{_holder_key(r['user_name'], r['machine'])}|{machine_key(r['machine'])}|{r['client']}"))
    new["sessions"] = rows("sessions")
    new["denials"] = rows("denials")
    for table, unique in (("users", ("key",)), ("named_cals", ("identity_kind", "identity_key")),
                          ("documents", ("path_key",)), ("document_cals", ("document_id", "user_key"))):
        seen: dict[tuple[Any, ...], Any] = {}
        for row in new[table]:
            value = tuple(row[c] for c in unique)
            name = row.get("name") or row.get("identity_name") or row.get("user_name") or row.get("path")
            if value in seen:
                raise BackupError(
                    f"the backup was written when names compared by case folding, and {_shown(seen[value])} and "
                    f"{_shown(name)} ({table}) are one name now that names compare as Windows compares them; "
                    "restore it on the release that wrote it and upgrade the database instead, which merges them")
            seen[value] = name
    return new


# The tables of CAL data, as an admin counts them.
CAL_DATA = {"named_cals": "Named CALs", "document_cals": "Document CALs", "session_cals": "Session CALs",
            "usage_cals": "Usage CALs", "sessions": "sessions"}


def check_unlicensed(tables: Rows) -> None:
    """A backup without a license holds no CAL data: refuse one that does (a license row was removed)."""
    if tables["licenses"]:
        return
    held = [f"{len(tables[name])} {label}" for name, label in CAL_DATA.items() if tables[name]]
    allocated = sum(row["cals_allocated"] for row in tables["documents"])
    if allocated:
        held.append(f"{allocated} Document CALs allocated to documents")
    if held:
        raise BackupError(
            f"the backup has no license, yet holds {', '.join(held)}: a site without a license has no CAL data, "
            "so the file was edited or damaged"
        )


def license_row(row: Mapping[str, Any], terms: LicenseTerms) -> dict[str, Any]:
    """The license row to restore: every term from its checked LEF; refuse a row that says otherwise."""
    values = license_values(terms)
    differs = [f"{column} {_shown(row[column])} where its signed LEF says {_shown(value)}"
               for column, value in values.items() if row[column] != value]
    if differs:
        raise BackupError(
            f"the backup's license of serial {terms.serial} (applied {row['applied_at']:%Y-%m-%d}) says "
            f"{'; '.join(differs)}: the file was edited since it was written"
        )
    return {**values, "id": row["id"], "applied_at": row["applied_at"], "applied_by": row["applied_by"]}


def _shown(value: Any) -> str:
    shown = "none" if value is None else str(value)
    return f"'{shown[:60]}…'" if len(shown) > 60 else f"'{shown}'"
