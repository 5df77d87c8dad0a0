"""What happened: the append-only audit trail, refused opens, and grants counted per hour."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from calkeeper.contract.views import AuditView, DenialView
from calkeeper.infra.database import table_of
from calkeeper.store.activity import Activity
from calkeeper.store.schema import AuditEntry, DenialRecord, GrantCount
from calkeeper.store.tail_writes import TailWrites

audit_t = table_of(AuditEntry)
denial_t = table_of(DenialRecord)
counts_t = table_of(GrantCount)

# built once, so each call finds the compiled statement in SQLAlchemy's cache
INSERT_AUDIT = insert(audit_t)
INSERT_DENIAL = insert(denial_t)

class History:
    def __init__(self, connection: Connection, now: datetime, *, postgres: bool,
                 tail: TailWrites | None = None) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres
        # audit and denial rows are never read back by the transaction that writes them: they may wait for its
        # commit where it says so
        self.tail = tail if tail is not None else TailWrites(connection, postgres=postgres)

    def audit(self, actor: str, action: str, target: str, *, happened_at: datetime | None = None,
              **details: Any) -> None:
        """Append an entry to the audit trail, stamped now (or at the time the event happened, when given)."""
        self.tail.insert(INSERT_AUDIT, {
            "at": happened_at or self.now, "actor": actor, "action": action, "target": target,
            "details": json.dumps(details, default=str, sort_keys=True),
        })

    def audit_many(self, actor: str, action: str, targets: list[str], **details: Any) -> None:
        """Append one entry for each target, all with the same action and details, in one statement."""
        if targets:
            text = json.dumps(details, default=str, sort_keys=True)
            self.connection.execute(insert(audit_t), [
                {"at": self.now, "actor": actor, "action": action, "target": t, "details": text} for t in targets])

    def audit_entries(self, *, limit: int = 100, action: str = "", target: str = "") -> list[AuditView]:
        """The newest entries first, of one action and about one target when given."""
        query = select(audit_t).order_by(audit_t.c.id.desc()).limit(limit)
        if action:
            query = query.where(audit_t.c.action == action)
        if target:
            query = query.where(func.lower(audit_t.c.target).contains(target.casefold(), autoescape=True))
        return [AuditView(r["id"], r["at"], r["actor"], r["action"], r["target"], json.loads(r["details"]))
                for r in self.connection.execute(query).mappings()]

    def _audit_filtered(self, query: Any, *, action: str, target: str, document: str, since: datetime | None,
                        until: datetime | None) -> Any:
        if action:
            query = query.where(audit_t.c.action == action)
        if target:
            query = query.where(func.lower(audit_t.c.target).contains(target.casefold(), autoescape=True))
        if document:  # the document's own entries, and the CAL events on it (their details name it)
            named = json.dumps({"document": document})[1:-1]
            query = query.where(or_(audit_t.c.target == document,
                                    audit_t.c.details.contains(named, autoescape=True)))
        if since is not None:
            query = query.where(audit_t.c.at >= since)
        if until is not None:
            query = query.where(audit_t.c.at < until)
        return query

    def audit_page(self, *, action: str = "", target: str = "", document: str = "", since: datetime | None = None,
                   until: datetime | None = None, limit: int = 100, offset: int = 0) -> tuple[list[AuditView], int]:
        """A page of the audit trail, newest first, narrowed by action, target, document and time; and how many
        entries the narrowed trail holds."""
        narrow: dict[str, Any] = {"action": action, "target": target, "document": document, "since": since,
                                  "until": until}
        query = self._audit_filtered(select(audit_t), **narrow).order_by(audit_t.c.id.desc()).limit(limit)
        entries = [AuditView(r["id"], r["at"], r["actor"], r["action"], r["target"], json.loads(r["details"]))
                   for r in self.connection.execute(query.offset(offset)).mappings()]
        total = self.connection.execute(self._audit_filtered(select(func.count()).select_from(audit_t), **narrow))
        return entries, int(total.scalar_one())

    def audit_actions(self) -> list[str]:
        """Every action the audit trail holds, in name order."""
        query = select(audit_t.c.action).distinct().order_by(audit_t.c.action)
        return [str(a) for a in self.connection.execute(query).scalars()]

    def record_denial(self, *, user: str | None, document: str, machine: str, code: str, reason: str) -> None:
        """Record a refused open, and count it in its hour of the usage history (in the same transaction)."""
        self.tail.insert(INSERT_DENIAL, {"at": self.now, "user_name": user, "document": document,
                                                "machine": machine, "code": code, "reason": reason})
        hour = self.now.replace(minute=0, second=0, microsecond=0)
        Activity(self.connection, self.now, postgres=self.postgres).add({(hour, "denial", "", code, user, document): 1})

    def denials(self, *, limit: int = 100) -> list[DenialView]:
        rows = self.connection.execute(select(denial_t).order_by(denial_t.c.id.desc()).limit(limit)).mappings()
        return [DenialView(r["id"], r["at"], r["user_name"], r["document"], r["machine"], r["code"], r["reason"])
                for r in rows]

    def denial_count(self) -> int:
        return int(self.connection.execute(select(func.count()).select_from(denial_t)).scalar_one())

    def add_grant_counts(self, counts: Counter[tuple[datetime, str]]) -> None:
        """Add grants counted in memory, by (hour, CAL type), to the stored counts."""
        if not counts:
            return
        maker = pg_insert if self.postgres else sqlite_insert
        rows = [{"hour": hour, "cal_type": cal_type, "granted": n} for (hour, cal_type), n in counts.items()]
        stmt = maker(counts_t).values(rows)
        stmt = stmt.on_conflict_do_update(index_elements=["hour", "cal_type"],
                                          set_={"granted": counts_t.c.granted + stmt.excluded.granted})
        self.connection.execute(stmt)

    def grant_counts(self, *, since: datetime) -> dict[tuple[datetime, str], int]:
        """Stored grants by (hour, CAL type) from an hour on."""
        rows = self.connection.execute(select(counts_t).where(counts_t.c.hour >= since)).mappings()
        return {(r["hour"], r["cal_type"]): r["granted"] for r in rows}
