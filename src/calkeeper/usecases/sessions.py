"""Every CAL a user holds (QlikView's GetCALInfoForUser)."""

from __future__ import annotations

from calkeeper.contract.views import UserCals
from calkeeper.core.identities import parse_user
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.named_cals import assigned_view


class Sessions:
    """What a user holds, of every CAL type."""

    def __init__(self, *, admin: AdminTransactions) -> None:
        self.admin = admin

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
