"""Sessions held by Session and Usage CALs, the Session CALs of client instances, and Usage CALs consumed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select, update

from calkeeper.core.assignments import SessionCalRecord, SessionRecord, UsageCalRecord
from calkeeper.core.cals import CalType
from calkeeper.core.identities import Identity
from calkeeper.store.claims import doc_t, session_cal_t, session_t, usage_t


class Sessions:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def get(self, session_id: str) -> SessionRecord | None:
        row = self.connection.execute(
            select(session_t.c.id, session_t.c.cal_type, session_t.c.cal_id, session_t.c.ended_at)
            .where(session_t.c.id == session_id)
        ).first()
        return SessionRecord(row.id, row.cal_type, row.cal_id, row.ended_at) if row is not None else None

    def end(self, session_id: str) -> None:
        self.connection.execute(update(session_t).where(session_t.c.id == session_id).values(ended_at=self.now))

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
            select(session_cal_t).where(func.lower(session_cal_t.c.user_name) == user.key, held)
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
