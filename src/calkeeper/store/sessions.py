"""Sessions (every granted open), the Session CALs of client instances, and Usage CALs consumed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from calkeeper.contract.views import LiveSessionView
from calkeeper.core.assignments import SessionCalRecord, SessionRecord, UsageCalRecord
from calkeeper.core.cals import CalType
from calkeeper.core.comparison import comparison_key
from calkeeper.core.identities import Identity
from calkeeper.store.claims import doc_t, session_cal_t, session_t, usage_t


class Sessions:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def get(self, session_id: str) -> SessionRecord | None:
        row = self.connection.execute(
            select(session_t, doc_t.c.path).join(doc_t, doc_t.c.id == session_t.c.document_id)
            .where(session_t.c.id == session_id)
        ).mappings().first()
        return _session(row) if row is not None else None

    def expired(self, *, idle_since: datetime, started_before: datetime) -> list[SessionRecord]:
        """Open sessions with no activity since ``idle_since`` or started before ``started_before``."""
        last = func.coalesce(session_t.c.last_activity, session_t.c.started_at)
        rows = self.connection.execute(
            select(session_t, doc_t.c.path).join(doc_t, doc_t.c.id == session_t.c.document_id)
            .where(session_t.c.ended_at.is_(None), or_(last <= idle_since, session_t.c.started_at <= started_before))
            .order_by(session_t.c.started_at)
        ).mappings()
        return [_session(r) for r in rows]

    def end(self, session_id: str, *, at: datetime | None = None, reason: str | None = None) -> None:
        values: dict[str, Any] = {"ended_at": at or self.now}
        if reason is not None:
            values["end_reason"] = reason[:200]
        self.connection.execute(update(session_t).where(session_t.c.id == session_id).values(**values))

    def live(self, *, active_since: datetime, started_since: datetime, search: str = "", cal_type: str = "",
             node: str = "", limit: int = 1000) -> list[LiveSessionView]:
        """Sessions in use now (neither ended nor idle nor past their maximum length), the newest first.

        ``search`` matches the user, the machine or the document as names compare (NFC, upper-cased).
        """
        last = func.coalesce(session_t.c.last_activity, session_t.c.started_at)
        query = (select(session_t, doc_t.c.path).join(doc_t, doc_t.c.id == session_t.c.document_id)
                 .where(session_t.c.ended_at.is_(None), last > active_since, session_t.c.started_at > started_since)
                 .order_by(session_t.c.started_at.desc(), session_t.c.id))
        needle = comparison_key(search.strip())
        if not needle:
            query = query.limit(limit)
        if cal_type:
            query = query.where(session_t.c.cal_type == cal_type)
        if node:
            query = query.where(session_t.c.node == node)
        rows = self.connection.execute(query).mappings()
        views = [LiveSessionView(r["id"], r["user_name"], r["machine"], r["client"], r["path"], r["cal_type"],
                                 r["started_at"], r["last_activity"] or r["started_at"], r["node"]) for r in rows]
        if not needle:
            return views
        return [v for v in views
                if any(needle in comparison_key(text) for text in (v.user or "", v.machine, v.document))][:limit]

    def touch(self, session_id: str, *, cal_id: int | None = None) -> None:
        """Record activity now (and, for a Usage CAL session that consumed another, the CAL it holds now)."""
        values: dict[str, Any] = {"last_activity": self.now}
        if cal_id is not None:
            values["cal_id"] = cal_id
        self.connection.execute(update(session_t).where(session_t.c.id == session_id).values(**values))

    def usage_expires_at(self, cal_id: int) -> datetime:
        """When a Usage CAL's hour ends."""
        query = select(usage_t.c.expires_at).where(usage_t.c.id == cal_id)
        expires: datetime = self.connection.execute(query).scalar_one()
        return expires

    def open_on(self, cal_type: CalType, cal_id: int) -> int:
        """How many sessions still run on a CAL."""
        return int(self.connection.execute(
            select(func.count()).select_from(session_t).where(
                session_t.c.cal_type == cal_type.value, session_t.c.cal_id == cal_id, session_t.c.ended_at.is_(None)
            )
        ).scalar_one())

    def session_cal(self, cal_id: int) -> SessionCalRecord:
        row = self.connection.execute(select(session_cal_t).where(session_cal_t.c.id == cal_id)).mappings().one()
        return _session_cal(row)

    def release_session_cal(self, cal_id: int, at: datetime) -> None:
        self.connection.execute(update(session_cal_t).where(session_cal_t.c.id == cal_id).values(released_at=at))

    def session_cals_of(self, user: Identity) -> list[SessionCalRecord]:
        """The Session CALs a user's client instances hold now."""
        held = or_(session_cal_t.c.released_at.is_(None), session_cal_t.c.released_at > self.now)
        rows = self.connection.execute(
            select(session_cal_t).where(session_cal_t.c.client_key.startswith(f"{user.key}|", autoescape=True), held)
        ).mappings()
        return [_session_cal(r) for r in rows]

    def usage_cals_of(self, user: Identity) -> list[UsageCalRecord]:
        """The Usage CALs a user consumed that have not come back yet."""
        rows = self.connection.execute(
            select(usage_t, doc_t.c.path).outerjoin(doc_t, doc_t.c.id == usage_t.c.document_id)
            .where(usage_t.c.holder_key == user.key, usage_t.c.returns_at > self.now).order_by(usage_t.c.consumed_at)
        ).mappings()
        return [UsageCalRecord(r["id"], r["path"], r["machine"], r["consumed_at"], r["expires_at"], r["returns_at"])
                for r in rows]


def _session_cal(r: Any) -> SessionCalRecord:
    return SessionCalRecord(r["id"], r["user_name"], r["machine"], r["client"], r["acquired_at"], r["released_at"])


def _session(r: Any) -> SessionRecord:
    return SessionRecord(r["id"], r["cal_type"], r["cal_id"], r["ended_at"], r["user_name"], r["machine"], r["client"],
                         r["document_id"], r["path"], r["started_at"], r["last_activity"] or r["started_at"],
                         r["end_reason"])
