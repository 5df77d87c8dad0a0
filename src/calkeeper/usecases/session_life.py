"""A session's life after its open: heartbeats, Usage CALs consumed hour by hour, ending by itself.

A session starts when the access gate grants an open, whichever CAL serves it. The app server touches it
(a heartbeat) while the user works and ends it when the user leaves. A Usage CAL serves one
document for 60 minutes: a session still going at the end of its hour consumes another, counted at
each heartbeat and at the end; when none is left for the next hour, the heartbeat answers that the
session must end, and the refusal is recorded like a denied open. A session with no sign of
activity for the idle timeout, or older than the maximum length, ends by itself (the server's
upkeep ends it, stamped at the time it expired); its Session CAL is then free at
max(start + 15 minutes, that time). A Named or Document CAL serves the machine of its live sessions
only (``core.allocation.held_cal``): once they have ended, another machine may use it.
"""

from __future__ import annotations

from datetime import datetime

from calkeeper.contract.views import SessionEnd, SessionTouch
from calkeeper.core.allocation import OpenRequest
from calkeeper.core.assignments import SessionRecord
from calkeeper.core.cals import (
    CalType,
    ClientType,
    SessionLimits,
    session_cal_release,
    usage_hours_to_consume,
)
from calkeeper.core.documents import DocumentInfo
from calkeeper.core.errors import UnknownSession
from calkeeper.core.identities import Identity, machine_key, user_key
from calkeeper.store.unit_of_work import Transaction, UnitOfWork
from calkeeper.usecases.admin import writing_pending
from calkeeper.usecases.decision_cache import LastUsedWrites

UPKEEP_ACTOR = "calkeeper"


def holder_of(session: SessionRecord) -> str:
    """Who a session is, as the audit trail and denials name them."""
    return session.user_name or f"an anonymous user on {session.machine}"


def _request(session: SessionRecord) -> OpenRequest:
    """The open a session was granted for, as the claims need it."""
    user = Identity(session.user_name, user_key(session.user_name), "user") if session.user_name else None
    machine = Identity(session.machine, machine_key(session.machine), "machine")
    document = DocumentInfo(session.document_id, session.document, False, 0, False)
    return OpenRequest(user, machine, ClientType(session.client), document)


def consume_usage_hours(tx: Transaction, session: SessionRecord, *, until: datetime) -> bool:
    """Consume a Usage CAL for each further hour a Usage CAL session ran until ``until``.

    False (and a recorded denial) when none was left for an hour; the CALs consumed before stay consumed.
    """
    if session.cal_type != CalType.USAGE.value:
        return True
    starts = usage_hours_to_consume(tx.sessions.usage_expires_at(session.cal_id), until)
    if not starts:
        return True
    terms = tx.licenses.terms()
    in_license = terms.in_license(CalType.USAGE) if terms else 0
    cal_id = session.cal_id
    for start in starts:
        claimed = tx.claims.consume_next_usage_cal(_request(session), at=start, in_license=in_license)
        if claimed is None:
            tx.sessions.touch(session.id, cal_id=cal_id)
            reason = (f"no Usage CAL is left for the next hour of {holder_of(session)}'s session on "
                      f"{session.document}; the session must end")
            tx.history.record_denial(user=session.user_name, document=session.document, machine=session.machine,
                                     code="no_cal_available", reason=reason)
            return False
        cal_id = claimed
    tx.sessions.touch(session.id, cal_id=cal_id)
    return True


def end_session(tx: Transaction, session: SessionRecord, *, at: datetime) -> datetime | None:
    """End a session at a time; a Session CAL its last session held is freed, at least 15 minutes after its start.

    Returns when the Session CAL is free, or None when another session still holds it (or it is a Usage CAL).
    """
    tx.sessions.end(session.id, at=at)
    if session.cal_type != CalType.SESSION.value or tx.sessions.open_on(CalType.SESSION, session.cal_id) > 0:
        return None
    cal = tx.sessions.session_cal(session.cal_id)
    released = session_cal_release(cal.acquired_at, at)
    tx.sessions.release_session_cal(session.cal_id, released)
    return released


class SessionLife:
    """Heartbeats, and ending the sessions nobody ended."""

    def __init__(self, *, uow: UnitOfWork, limits: SessionLimits, writes: LastUsedWrites | None = None) -> None:
        self.uow = uow
        self.limits = limits
        self.writes = writes or LastUsedWrites()

    def _session(self, tx: Transaction, session_id: str) -> SessionRecord:
        """The session, including one this node granted from memory (the transaction wrote those first)."""
        session = tx.sessions.get(session_id)
        if session is None:
            raise UnknownSession(f"there is no session '{session_id}'")
        return session

    def touch_session(self, session_id: str) -> SessionTouch:
        """A heartbeat: the session goes on (consuming a Usage CAL for each new hour), or it must end, and why."""
        session_id = session_id.strip()
        with writing_pending(self.uow, self.writes) as tx:
            session = self._session(tx, session_id)
            if session.ended_at is not None:
                why = f" ({session.end_reason})" if session.end_reason else ""
                return SessionTouch(session_id, False, f"the session has ended{why}; open the document again")
            assert session.started_at is not None and session.last_activity is not None
            expires, why = self.limits.expiry(session.started_at, session.last_activity)
            if expires <= tx.now:
                self._expire(tx, session, expires, why)
                return SessionTouch(session_id, False, _expired_reason(why, self.limits))
            if not consume_usage_hours(tx, session, until=tx.now):
                end_session(tx, session, at=tx.now)
                return SessionTouch(session_id, False, f"no Usage CAL is left for the next hour of this session on "
                                                       f"{session.document}; the session must end")
            tx.sessions.touch(session_id)
            return SessionTouch(session_id, True, "the session goes on")

    def close_session(self, session_id: str) -> SessionEnd:
        """End a session: a Session CAL is freed once its last session ends and 15 minutes have passed.

        A session that had already expired (no upkeep ran since) ends at its expiry, not now.
        """
        session_id = session_id.strip()
        with writing_pending(self.uow, self.writes) as tx:
            session = self._session(tx, session_id)
            if session.ended_at is not None:
                return SessionEnd(session_id, "already ended")
            assert session.started_at is not None and session.last_activity is not None
            at = min(tx.now, self.limits.expiry(session.started_at, session.last_activity)[0])
            consume_usage_hours(tx, session, until=at)  # the hours it ran since the last heartbeat
            released = end_session(tx, session, at=at)
            if session.cal_type == CalType.USAGE.value:
                return SessionEnd(session_id, "ended; the Usage CAL comes back 28 days after it was consumed")
            if session.cal_type in (CalType.NAMED.value, CalType.DOCUMENT.value):
                kind = "Named User" if session.cal_type == CalType.NAMED.value else "Document"
                return SessionEnd(session_id, f"ended; the {kind} CAL stays assigned, and once no session of it runs "
                                              f"on {session.machine} it may serve another machine")
            if released is None:
                return SessionEnd(session_id, "ended; the client's other sessions still hold its Session CAL")
            return SessionEnd(session_id, "ended; the Session CAL is free from the time given", released)

    def end_expired_sessions(self) -> int:
        """End every session past its idle timeout or maximum length (the upkeep's work); how many."""
        with self.uow.read() as tx:  # most ticks find none: no write lock taken for nothing
            if not tx.sessions.expired(idle_since=tx.now - self.limits.idle_timeout,
                                       started_before=tx.now - self.limits.maximum):
                return 0
        with self.uow.write() as tx:
            expired = tx.sessions.expired(idle_since=tx.now - self.limits.idle_timeout,
                                          started_before=tx.now - self.limits.maximum)
            for session in expired:
                assert session.started_at is not None and session.last_activity is not None
                expires, why = self.limits.expiry(session.started_at, session.last_activity)
                self._expire(tx, session, min(expires, tx.now), why)
            return len(expired)

    def _expire(self, tx: Transaction, session: SessionRecord, at: datetime, why: str) -> None:
        consume_usage_hours(tx, session, until=at)
        released = end_session(tx, session, at=at)
        tx.history.audit(UPKEEP_ACTOR, "session.expired", holder_of(session), happened_at=at,
                         document=session.document, machine=session.machine, cal=session.cal_type, why=why,
                         session_cal_free_at=released)


def _expired_reason(why: str, limits: SessionLimits) -> str:
    if why == "idle":
        return (f"the session ended after {limits.idle_timeout.total_seconds() / 60:g} minutes without activity; "
                "open the document again")
    return (f"the session reached its maximum length of {limits.maximum.total_seconds() / 3600:g} hours; "
            "open the document again")
