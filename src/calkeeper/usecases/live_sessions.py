"""Sessions in use now, as ``lmstat`` lists licenses in use, and ending one, as ``lmremove`` does.

An administrator's end takes effect at the session's next heartbeat: the app server is answered that
the session has ended ("ended by an administrator") and closes it. A Session CAL its last session
held is freed as when the client ends it (at least 15 minutes after its start).
"""

from __future__ import annotations

from calkeeper.contract.views import LiveSessionView, SessionEnd
from calkeeper.core.cals import CalType, SessionLimits
from calkeeper.core.errors import InvalidInput, UnknownSession
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.session_life import end_session, holder_of

ENDED_BY_ADMIN = "ended by an administrator"
CAL_TYPES = tuple(t.value for t in CalType)


class LiveSessions:
    """Who is using what now, and ending a session."""

    def __init__(self, *, admin: AdminTransactions, limits: SessionLimits) -> None:
        self.admin = admin
        self.limits = limits

    def list_sessions(self, *, search: str = "", cal_type: str = "", node: str = "",
                      limit: int = 1000) -> list[LiveSessionView]:
        """Live sessions, the newest first; ``search`` finds a user, machine or document, ``cal_type`` and
        ``node`` filter."""
        if cal_type and cal_type not in CAL_TYPES:
            raise InvalidInput(f"a CAL type is one of {', '.join(CAL_TYPES)}, not '{cal_type}'")
        if not 1 <= limit <= 100_000:
            raise InvalidInput("list 1 to 100000 sessions")
        with self.admin.read() as tx:  # sessions granted from memory are written first
            return tx.sessions.live(active_since=tx.now - self.limits.idle_timeout,
                                    started_since=tx.now - self.limits.maximum, search=search,
                                    cal_type=cal_type, node=node.strip(), limit=limit)

    def end_session(self, session_id: str, *, actor: str | None = None) -> SessionEnd:
        """End a session now; its app server learns it at the next heartbeat."""
        session_id = session_id.strip()
        actor = self.admin.actor(actor)
        with self.admin.change() as tx:
            session = tx.sessions.get(session_id)
            if session is None:
                raise UnknownSession(f"there is no session '{session_id}'")
            if session.ended_at is not None:
                return SessionEnd(session_id, "already ended")
            tx.sessions.end(session_id, reason=ENDED_BY_ADMIN)
            released = end_session(tx, session, at=tx.now)
            tx.history.audit(actor, "session.ended", holder_of(session), document=session.document,
                             machine=session.machine, cal=session.cal_type, session=session_id,
                             session_cal_free_at=released)
            tx.site_state.bump()  # cached machine checks see the session gone
            return SessionEnd(session_id, "ended; the app server is told at the session's next heartbeat",
                              released)
