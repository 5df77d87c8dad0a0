"""Console users (with their password hashes) and their signed-in sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from calkeeper.contract.views import ConsoleUserView
from calkeeper.core.comparison import comparison_key
from calkeeper.infra.database import table_of
from calkeeper.store.schema import ConsoleResult, ConsoleSession, ConsoleUser

users_t = table_of(ConsoleUser)
sessions_t = table_of(ConsoleSession)
results_t = table_of(ConsoleResult)


@dataclass(frozen=True)
class ConsoleAccount:
    """A console user as stored: the view and the password hash to check a sign-in against."""

    view: ConsoleUserView
    password_hash: str


@dataclass(frozen=True)
class ConsoleSessionRecord:
    user_id: int
    username: str
    role: str
    csrf_token: str
    expires_at: datetime


def _account(r: Any) -> ConsoleAccount:
    view = ConsoleUserView(r["id"], r["username"], r["role"], r["created_at"], r["disabled_at"] is not None)
    return ConsoleAccount(view, r["password_hash"])


class ConsoleUsers:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def find(self, username: str, *, enabled_only: bool = False) -> ConsoleAccount | None:
        query = select(users_t).where(users_t.c.username_key == comparison_key(username.strip()))
        if enabled_only:
            query = query.where(users_t.c.disabled_at.is_(None))
        row = self.connection.execute(query).mappings().first()
        return _account(row) if row is not None else None

    def add(self, *, username: str, password_hash: str, role: str) -> int:
        return int(self.connection.execute(insert(users_t).values(
            username=username, username_key=comparison_key(username.strip()), password_hash=password_hash, role=role,
            created_at=self.now).returning(users_t.c.id)).scalar_one())

    def replace(self, user_id: int, *, password_hash: str, role: str) -> None:
        """A new password and role; the user's sessions end."""
        self.connection.execute(update(users_t).where(users_t.c.id == user_id).values(
            password_hash=password_hash, role=role, disabled_at=None))
        self.connection.execute(delete(sessions_t).where(sessions_t.c.user_id == user_id))

    def set_disabled(self, user_id: int, disabled: bool) -> None:
        """Disable a user (who can no longer sign in) or enable one again."""
        self.connection.execute(update(users_t).where(users_t.c.id == user_id).values(
            disabled_at=self.now if disabled else None))

    def delete(self, user_id: int) -> None:
        """Delete a user and their sessions."""
        self.end_sessions(user_id)
        self.connection.execute(delete(users_t).where(users_t.c.id == user_id))

    def end_sessions(self, user_id: int) -> int:
        """End a user's sessions; how many were still open."""
        open_ones = self.connection.execute(select(func.count()).select_from(sessions_t).where(
            sessions_t.c.user_id == user_id, sessions_t.c.expires_at > self.now)).scalar_one()
        self.connection.execute(delete(sessions_t).where(sessions_t.c.user_id == user_id))
        return int(open_ones)

    def enabled_admins(self) -> int:
        return int(self.connection.execute(select(func.count()).select_from(users_t).where(
            users_t.c.role == "admin", users_t.c.disabled_at.is_(None))).scalar_one())

    def open_sessions(self) -> dict[str, int]:
        """How many sessions each user has open, by user name (users with none are left out)."""
        rows = self.connection.execute(
            select(users_t.c.username, func.count()).join(sessions_t, sessions_t.c.user_id == users_t.c.id)
            .where(sessions_t.c.expires_at > self.now).group_by(users_t.c.username))
        return {str(name): int(count) for name, count in rows}

    def all(self) -> list[ConsoleUserView]:
        rows = self.connection.execute(select(users_t).order_by(users_t.c.username_key)).mappings()
        return [_account(r).view for r in rows]

    def start_session(self, *, session_id: str, user_id: int, csrf_token: str, expires_at: datetime) -> None:
        self.connection.execute(delete(sessions_t).where(sessions_t.c.expires_at < self.now))
        self.connection.execute(insert(sessions_t).values(id=session_id, user_id=user_id, csrf_token=csrf_token,
                                                          created_at=self.now, expires_at=expires_at))

    def session(self, session_id: str) -> ConsoleSessionRecord | None:
        row = self.connection.execute(
            select(sessions_t, users_t.c.username, users_t.c.role)
            .join(users_t, users_t.c.id == sessions_t.c.user_id)
            .where(sessions_t.c.id == session_id, sessions_t.c.expires_at > self.now, users_t.c.disabled_at.is_(None))
        ).mappings().first()
        if row is None:
            return None
        return ConsoleSessionRecord(row["user_id"], row["username"], row["role"], row["csrf_token"], row["expires_at"])

    def end_session(self, session_id: str) -> None:
        self.connection.execute(delete(sessions_t).where(sessions_t.c.id == session_id))

    def keep_result(self, *, result_id: str, session_id: str, body: str, expires_at: datetime) -> None:
        """Keep what an action did for the session that asked (results past their time are dropped here)."""
        self.connection.execute(delete(results_t).where(results_t.c.expires_at < self.now))
        self.connection.execute(insert(results_t).values(id=result_id, session_id=session_id, body=body,
                                                         created_at=self.now, expires_at=expires_at))

    def result(self, *, result_id: str, session_id: str) -> str | None:
        """A result this session kept and has not outlived, or None."""
        found = self.connection.execute(select(results_t.c.body).where(
            results_t.c.id == result_id, results_t.c.session_id == session_id,
            results_t.c.expires_at > self.now)).scalar_one_or_none()
        return str(found) if found is not None else None
