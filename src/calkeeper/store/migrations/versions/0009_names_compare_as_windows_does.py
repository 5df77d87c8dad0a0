"""Names compare as Windows compares them: every stored key recomputed (NFC, simple upper-casing)

Keys were the case-folded name; they become the NFC name upper-cased character by character with
Unicode's simple mapping, as Windows compares logon and file names (``calkeeper.core.comparison``).
The names shown (users, Named and Document CAL holders, sessions, denials) are brought to NFC; document
paths stay as the file system spells them, only their keys change.

Names that were distinct before and are one now (``café`` stored precomposed and decomposed, or
``ian`` with a dotless i and with a dotted one) are merged, keeping the earliest and writing each merge to the audit trail (and to
the log): one users row; one Named CAL (the held one, else the earliest, with the latest "last used");
one Document CAL per document; one held Session CAL per client instance (the others are released now
and their sessions moved to it); one document (its allocations added up, its CALs, Usage CALs and
sessions moved); one console user (the earliest; the later ones are deleted). Names that were one
before stay one: their row is kept, with its key recomputed from its displayed name.

The rule is written out here, not imported, so that this migration does what it did when it was
written whatever later releases change.

Revision ID: 0009
Revises: 0008
"""

import json
import logging
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_log = logging.getLogger("calkeeper.store")
_TS = sa.DateTime(timezone=True)


def _upper(ch: str) -> str:
    if ord(ch) > 0xFFFF:
        return ch
    upper = ch.upper()
    if len(upper) == 1:
        return upper
    title = ch.title()
    return title if len(title) == 1 else ch


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def key(name: str) -> str:
    """The new comparison key: NFC, then Unicode's simple upper-case mapping per BMP character."""
    return "".join(_upper(ch) for ch in _nfc(name))


def _old_key(name: str) -> str:
    return name.casefold()


def document_key(path: str) -> str:
    return key(path.strip().replace("\\", "/"))


def holder_key(user_name: str | None, machine: str) -> str:
    return key(user_name) if user_name else f"anonymous@{key(machine)}"


def _table(name: str, *columns: tuple[str, Any]) -> sa.TableClause:
    return sa.table(name, *(sa.column(c, t) for c, t in columns))


users = _table("users", ("key", sa.String), ("name", sa.String), ("first_seen", _TS))
named = _table("named_cals", ("id", sa.Integer), ("identity_kind", sa.String), ("identity_key", sa.String),
               ("identity_name", sa.String), ("assigned_at", _TS), ("last_used", _TS), ("removed_at", _TS))
documents = _table("documents", ("id", sa.Integer), ("path", sa.String), ("path_key", sa.String),
                   ("cals_allocated", sa.Integer), ("missing_since", _TS))
doccals = _table("document_cals", ("id", sa.Integer), ("document_id", sa.Integer), ("user_key", sa.String),
                 ("user_name", sa.String), ("assigned_at", _TS), ("last_used", _TS), ("removed_at", _TS))
session_cals = _table("session_cals", ("id", sa.Integer), ("client_key", sa.String), ("user_name", sa.String),
                      ("machine", sa.String), ("client", sa.String), ("acquired_at", _TS), ("released_at", _TS))
usage_cals = _table("usage_cals", ("id", sa.Integer), ("holder_key", sa.String), ("user_name", sa.String),
                    ("machine", sa.String), ("document_id", sa.Integer))
sessions = _table("sessions", ("id", sa.String), ("cal_type", sa.String), ("cal_id", sa.Integer),
                  ("user_name", sa.String), ("document_id", sa.Integer))
denials = _table("denials", ("id", sa.Integer), ("user_name", sa.String))
console_users = _table("console_users", ("id", sa.Integer), ("username", sa.String), ("username_key", sa.String),
                       ("created_at", _TS))
console_sessions = _table("console_sessions", ("user_id", sa.Integer))
auth_failures = _table("auth_failures", ("id", sa.Integer), ("kind", sa.String), ("subject", sa.String))
audit = _table("audit_log", ("at", _TS), ("actor", sa.String), ("action", sa.String), ("target", sa.String),
               ("details", sa.Text))

WHY = "names now compare as Windows compares them (Unicode NFC, simple upper-casing), and these are one name"


class _Migration:
    def __init__(self, bind: sa.Connection) -> None:
        self.bind = bind
        now = datetime.now(UTC)
        self.now = now.replace(tzinfo=None) if bind.dialect.name == "sqlite" else now  # SQLite keeps naive UTC

    def rows(self, table: sa.TableClause, *where: Any) -> list[Any]:
        return list(self.bind.execute(sa.select(table).where(*where)).mappings())

    def merged(self, action: str, target: str, **details: Any) -> None:
        self.bind.execute(sa.insert(audit).values(
            at=self.now, actor="calkeeper", action=action, target=target,
            details=json.dumps({**details, "why": WHY}, sort_keys=True, default=str)))
        _log.warning("%s %s: %s (%s)", action, target, json.dumps(details, default=str), WHY)

    def rekey(self, table: sa.TableClause, column: str, values: dict[Any, dict[str, Any]]) -> None:
        """Set new values by id in two steps, so that no unique index sees a key twice on the way."""
        changed = {i: v for i, v in values.items() if v}
        if not changed:
            return
        ident = table.c.id
        if column:
            self.bind.execute(sa.update(table).where(ident == sa.bindparam("i")).values({column: sa.bindparam("t")}),
                              [{"i": i, "t": f"\x01{i}"} for i in changed])
        for i, v in changed.items():
            self.bind.execute(sa.update(table).where(ident == i).values(**v))

    def upgrade(self) -> None:
        self.documents()
        self.users()
        self.named_cals()
        self.document_cals()
        self.session_cals()
        self.usage_cals()
        for table in (sessions, denials):
            self.rekey(table, "", {r["id"]: {"user_name": _nfc(r["user_name"])} for r in self.rows(table)
                                   if r["user_name"] is not None and r["user_name"] != _nfc(r["user_name"])})
        self.console_users()
        for r in self.rows(auth_failures, auth_failures.c.kind == "sign_in_user"):
            # the subject was already case-folded; the brake's window is minutes, so this is close enough
            self.bind.execute(sa.update(auth_failures).where(auth_failures.c.id == r["id"])
                              .values(subject=key(r["subject"])))

    def documents(self) -> None:
        groups = _groups(self.rows(documents), lambda r: document_key(r["path"]),
                         lambda r: (r["missing_since"] is not None, r["id"]))
        values = {}
        for new_key, kept, others in groups:
            for other in others:
                i, o = kept["id"], other["id"]
                self.bind.execute(sa.update(usage_cals).where(usage_cals.c.document_id == o).values(document_id=i))
                self.bind.execute(sa.update(sessions).where(sessions.c.document_id == o).values(document_id=i))
                self.bind.execute(sa.update(doccals).where(doccals.c.document_id == o).values(document_id=i))
                self.bind.execute(sa.delete(documents).where(documents.c.id == o))
                self.merged("document.merged", kept["path"], merged=other["path"],
                            cals_allocated=other["cals_allocated"])
            allocated = sum(r["cals_allocated"] for r in (kept, *others))
            values[kept["id"]] = _changes(kept, path_key=new_key, cals_allocated=allocated)
        self.rekey(documents, "path_key", values)

    def users(self) -> None:
        rows = self.rows(users)
        groups = _groups(rows, lambda r: key(r["name"]), lambda r: (r["first_seen"], r["key"]))
        if all(not others and kept["key"] == k and kept["name"] == _nfc(kept["name"]) for k, kept, others in groups):
            return
        self.bind.execute(sa.delete(users))
        self.bind.execute(sa.insert(users), [
            {"key": k, "name": _nfc(kept["name"]), "first_seen": kept["first_seen"]} for k, kept, _ in groups])
        for _, kept, others in groups:
            for other in others:
                _log.warning("the users %r and %r are one user now: %s", kept["name"], other["name"], WHY)

    def _cals(self, table: sa.TableClause, name: str, key_column: str, scope: Callable[[Any], Any],
              what: str) -> None:
        def identity(r: Any) -> str:
            return key(r[name])
        held_first = lambda r: (r["removed_at"] is not None, r["assigned_at"], r["id"])  # noqa: E731
        groups = _groups(self.rows(table), lambda r: (scope(r), identity(r)), held_first)
        values = {}
        for (_, new_key), kept, others in groups:
            used = [r["last_used"] for r in (kept, *others) if r["last_used"] is not None]
            for other in others:
                self.bind.execute(sa.delete(table).where(table.c.id == other["id"]))
                self.merged("cal.merged", _nfc(kept[name]), cal_type=what, released=other[name],
                            **({"document_id": other["document_id"]} if what == "document" else {}))
            values[kept["id"]] = _changes(kept, **{key_column: new_key, name: _nfc(kept[name]),
                                                   "last_used": max(used) if used else None})
        self.rekey(table, key_column, values)

    def named_cals(self) -> None:
        self._cals(named, "identity_name", "identity_key", lambda r: r["identity_kind"], "named")

    def document_cals(self) -> None:
        self._cals(doccals, "user_name", "user_key", lambda r: r["document_id"], "document")

    def session_cals(self) -> None:
        rows = self.rows(session_cals)

        def client_key(r: Any) -> str:
            return f"{holder_key(r['user_name'], r['machine'])}|{key(r['machine'])}|{r['client']}"
        held = [r for r in rows if r["released_at"] is None]
        values = {r["id"]: _changes(r, client_key=client_key(r), user_name=_nfc(r["user_name"]) if r["user_name"]
                                    else None) for r in rows}
        for new_key, kept, others in _groups(held, client_key, lambda r: (r["acquired_at"], r["id"])):
            for other in others:
                self.bind.execute(sa.update(sessions).where(sessions.c.cal_type == "session",
                                                            sessions.c.cal_id == other["id"]).values(cal_id=kept["id"]))
                values[other["id"]] = {**values[other["id"]], "released_at": self.now}
                self.merged("cal.merged", new_key, cal_type="session", released=other["client_key"],
                            kept=kept["client_key"])
        self.rekey(session_cals, "client_key", values)

    def usage_cals(self) -> None:
        self.rekey(usage_cals, "", {r["id"]: _changes(r, holder_key=holder_key(r["user_name"], r["machine"]),
                                                      user_name=_nfc(r["user_name"]) if r["user_name"] else None)
                                    for r in self.rows(usage_cals)})

    def console_users(self) -> None:
        groups = _groups(self.rows(console_users), lambda r: key(r["username"].strip()),
                         lambda r: (r["created_at"], r["id"]))
        values = {}
        for new_key, kept, others in groups:
            for other in others:
                self.bind.execute(sa.delete(console_sessions).where(console_sessions.c.user_id == other["id"]))
                self.bind.execute(sa.delete(console_users).where(console_users.c.id == other["id"]))
                self.merged("console_user.deleted", other["username"], kept=kept["username"])
            values[kept["id"]] = _changes(kept, username_key=new_key)
        self.rekey(console_users, "username_key", values)


def _groups(rows: Iterable[Any], by: Callable[[Any], Any],
            rank: Callable[[Any], Any]) -> list[tuple[Any, Any, list[Any]]]:
    """Rows with one new key together: the key, the row kept (first by rank) and the others."""
    grouped: dict[Any, list[Any]] = {}
    for row in rows:
        grouped.setdefault(by(row), []).append(row)
    result = []
    for group_key, members in grouped.items():
        ordered = sorted(members, key=lambda r: _sortable(rank(r)))
        result.append((group_key, dict(ordered[0]), ordered[1:]))
    return result


def _sortable(values: Sequence[Any]) -> tuple[Any, ...]:
    # None sorts last; times may come back with or without a zone
    return tuple((v is None, v.replace(tzinfo=None) if isinstance(v, datetime) else v) for v in values)


def _changes(row: Any, **values: Any) -> dict[str, Any]:
    """The values that differ from the row's."""
    return {c: v for c, v in values.items() if row[c] != v}


def upgrade() -> None:
    _Migration(op.get_bind()).upgrade()


def downgrade() -> None:
    """Back to case-folded keys. Merged rows stay merged; two names that are now distinct but case-fold
    alike (``Straße`` and ``STRASSE``) cannot both be kept, so the downgrade refuses when there are any."""
    bind = op.get_bind()
    for table, column, name in ((users, "key", "name"), (named, "identity_key", "identity_name"),
                                (doccals, "user_key", "user_name")):
        rows = list(bind.execute(sa.select(table)).mappings())
        scope = (lambda r: r["document_id"]) if table is doccals else (
            lambda r: r["identity_kind"]) if table is named else (lambda r: None)
        seen: dict[Any, str] = {}
        for r in rows:
            old = (scope(r), _old_key(r[name]))
            if old in seen:
                raise RuntimeError(f"cannot go back to case-folded names: '{seen[old]}' and '{r[name]}' would be one")
            seen[old] = r[name]
        if table is users:
            bind.execute(sa.delete(users))
            if rows:
                bind.execute(sa.insert(users), [{**dict(r), "key": _old_key(r["name"])} for r in rows])
        else:
            for r in rows:
                bind.execute(sa.update(table).where(table.c.id == r["id"]).values({column: _old_key(r[name])}))
    for r in bind.execute(sa.select(documents)).mappings().all():
        bind.execute(sa.update(documents).where(documents.c.id == r["id"])
                     .values(path_key=r["path"].strip().replace("\\", "/").casefold()))
    for r in bind.execute(sa.select(session_cals)).mappings().all():
        holder = _old_key(r["user_name"]) if r["user_name"] else f"anonymous@{_old_key(r['machine'])}"
        bind.execute(sa.update(session_cals).where(session_cals.c.id == r["id"])
                     .values(client_key=f"{holder}|{_old_key(r['machine'])}|{r['client']}"))
    for r in bind.execute(sa.select(usage_cals)).mappings().all():
        holder = _old_key(r["user_name"]) if r["user_name"] else f"anonymous@{_old_key(r['machine'])}"
        bind.execute(sa.update(usage_cals).where(usage_cals.c.id == r["id"]).values(holder_key=holder))
    for r in bind.execute(sa.select(console_users)).mappings().all():
        bind.execute(sa.update(console_users).where(console_users.c.id == r["id"])
                     .values(username_key=r["username"].casefold()))
