"""Sessions: ending one, and every CAL a user holds (QlikView's GetCALInfoForUser)."""

from __future__ import annotations

from calkeeper.contract.views import SessionEnd, UserCals
from calkeeper.core.cals import CalType, is_held_cal_grant, session_cal_release
from calkeeper.core.errors import UnknownSession
from calkeeper.core.identities import parse_user
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.named_cals import assigned_view


class Sessions:
    """What the app server tells the CAL server when a session ends, and what a user holds."""

    def __init__(self, *, admin: AdminTransactions) -> None:
        self.admin = admin

    def close_session(self, session_id: str) -> SessionEnd:
        """End a session: a Session CAL is freed once its last session ends and 15 minutes have passed."""
        session_id = session_id.strip()
        if is_held_cal_grant(session_id):
            return SessionEnd(session_id, "nothing to release: Named and Document CALs are held until removed")
        with self.admin.uow.write() as tx:
            session = tx.sessions.get(session_id)
            if session is None:
                raise UnknownSession(f"there is no session '{session_id}'")
            if session.ended_at is not None:
                return SessionEnd(session_id, "already ended")
            tx.sessions.end(session_id)
            if session.cal_type == CalType.USAGE.value:
                return SessionEnd(session_id, "ended; the Usage CAL comes back 28 days after it was consumed")
            if tx.sessions.open_on(CalType.SESSION, session.cal_id) > 0:
                return SessionEnd(session_id, "ended; the client's other sessions still hold its Session CAL")
            cal = tx.sessions.session_cal(session.cal_id)
            released = session_cal_release(cal.acquired_at, tx.now)
            tx.sessions.release_session_cal(session.cal_id, released)
            return SessionEnd(session_id, "ended; the Session CAL is free from the time given", released)

    def user_cals(self, user: str) -> UserCals:
        """Every CAL a user holds, of every type."""
        who = parse_user(user)
        with self.admin.read() as tx:
            named = tx.assignments.named(who)
            documents = tx.assignments.documents_of(who)
            sessions = tx.sessions.session_cals_of(who)
            usage = tx.sessions.usage_cals_of(who)
            display = tx.users.shown_name(who)
            now = tx.now
        return UserCals(
            user=display,
            named_cal=assigned_view(named) if named is not None and named.occupying(now) else None,
            document_cals=[assigned_view(c) for c in documents],
            session_cals=[{"machine": s.machine, "client": s.client, "acquired_at": s.acquired_at,
                           "released_at": s.released_at} for s in sessions],
            usage_cals=[{"document": u.document or "(a released document)", "machine": u.machine,
                         "consumed_at": u.consumed_at, "expires_at": u.expires_at, "returns_at": u.returns_at}
                        for u in usage],
        )
