"""The documents a site knows, with their settings; releasing one ends what it held."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from calkeeper.core.cals import CalType, session_cal_release
from calkeeper.core.documents import DocumentRecord, document_key
from calkeeper.store.claims import Claims, doc_t, doccal_t, session_t, usage_t
from calkeeper.store.sessions import Sessions
from calkeeper.store.site_state import bump_generation


class Documents:
    def __init__(self, connection: Connection, now: datetime, sessions: Sessions, claims: Claims) -> None:
        self.connection = connection
        self.now = now
        self.sessions = sessions
        self.claims = claims

    def all(self) -> list[DocumentRecord]:
        """Every document, in path order, with the number of Document CALs it holds now: its counter (every row)
        less the rows whose quarantine has ended but that no sweep has freed yet, found by the quarantine index."""
        ended = Counter(self.connection.execute(
            select(doccal_t.c.document_id).where(doccal_t.c.quarantined_until <= self.now)).scalars())
        rows = self.connection.execute(select(doc_t).order_by(doc_t.c.path_key)).mappings()
        return [DocumentRecord(r["id"], r["path"], r["cals_allocated"], r["used"] - ended[r["id"]],
                               bool(r["allow_dynamic_assignment"]), r["missing_since"]) for r in rows]

    def add(self, path: str) -> int:
        return int(self.connection.execute(
            insert(doc_t).values(path=path, path_key=document_key(path), cals_allocated=0,
                                 allow_dynamic_assignment=False, claims=0).returning(doc_t.c.id)
        ).scalar_one())

    def update(self, document_id: int, **values: Any) -> None:
        """Change a document's settings; every node's cache reloads it."""
        self.connection.execute(update(doc_t).where(doc_t.c.id == document_id).values(**values))
        bump_generation(self.connection)

    def delete(self, document_id: int) -> None:
        """Forget a document: its Document CALs and sessions go, Usage CALs consumed on it still return in time."""
        # The document's open sessions end with it; a Session CAL they alone held is released as if they
        # had ended now, or nothing could ever close them and the CAL would stay held for good.
        open_on_document = select(session_t.c.cal_id).where(
            session_t.c.document_id == document_id, session_t.c.cal_type == CalType.SESSION.value,
            session_t.c.ended_at.is_(None),
        )
        session_cal_ids = set(self.connection.execute(open_on_document).scalars())
        self.claims.lock_pool(CalType.DOCUMENT)
        freed = self.connection.execute(delete(doccal_t).where(doccal_t.c.document_id == document_id)).rowcount
        self.claims.adjust(CalType.DOCUMENT, -freed)
        self.connection.execute(delete(session_t).where(session_t.c.document_id == document_id))
        # Usage CALs consumed on it still come back only 28 days after their consumption.
        self.connection.execute(update(usage_t).where(usage_t.c.document_id == document_id).values(document_id=None))
        self.connection.execute(delete(doc_t).where(doc_t.c.id == document_id))
        for cal_id in session_cal_ids:
            if self.sessions.open_on(CalType.SESSION, cal_id) == 0:
                cal = self.sessions.session_cal(cal_id)
                if cal.released_at is None:
                    self.sessions.release_session_cal(cal_id, session_cal_release(cal.acquired_at, self.now))
        bump_generation(self.connection)
