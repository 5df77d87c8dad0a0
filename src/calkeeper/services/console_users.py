"""Use cases for the console's users and their signed-in sessions (argon2 password hashes)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, insert, select, update

from calkeeper.core.errors import InvalidInput, SignInRefused
from calkeeper.services.base import SiteBase
from calkeeper.store.schema import ConsoleSession, ConsoleUser

SESSION_LIFETIME = timedelta(hours=8)
CONSOLE_ROLES = ("admin", "viewer")
users_t = ConsoleUser.__table__
sessions_t = ConsoleSession.__table__
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("calkeeper-no-such-user")


@dataclass(frozen=True)
class ConsoleIdentity:
    user_id: int
    username: str
    role: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True)
class ConsoleUserView:
    id: int
    username: str
    role: str
    created_at: datetime
    disabled: bool


def _session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ConsoleUserUseCases(SiteBase):
    def create_console_user(self, *, username: str, password: str, role: str, actor: str | None = None,
                            replace: bool = False) -> ConsoleUserView:
        """Create a console user (or, with replace, set a new password and role for an existing one)."""
        name = username.strip()
        if not name or len(name) > 100 or any(c.isspace() for c in name):
            raise InvalidInput("a console user name has 1 to 100 characters and no spaces")
        if role not in CONSOLE_ROLES:
            raise InvalidInput(f"a console user's role is admin or viewer, not '{role}'")
        if len(password) < 10:
            raise InvalidInput("a console password needs at least 10 characters")
        hashed = _hasher.hash(password)
        with self.uow(write=True) as tx:
            row = tx.connection.execute(select(users_t).where(users_t.c.username_key == name.casefold())).first()
            if row is not None and not replace:
                raise InvalidInput(f"there is already a console user '{row.username}'")
            if row is None:
                user_id = tx.connection.execute(insert(users_t).values(
                    username=name, username_key=name.casefold(), password_hash=hashed, role=role,
                    created_at=tx.now).returning(users_t.c.id)).scalar_one()
                created = tx.now
            else:
                user_id, created = row.id, row.created_at
                tx.connection.execute(update(users_t).where(users_t.c.id == user_id).values(
                    password_hash=hashed, role=role, disabled_at=None))
                tx.connection.execute(delete(sessions_t).where(sessions_t.c.user_id == user_id))
            tx.records.audit(self.actor_or_default(actor), "console_user.saved", name, role=role)
        return ConsoleUserView(user_id, name, role, created, False)

    def sign_in(self, username: str, password: str) -> tuple[str, ConsoleIdentity]:
        """Check a user name and password; return a new session's secret (for the cookie) and who it is."""
        with self.uow(write=False) as tx:
            row = tx.connection.execute(
                select(users_t).where(users_t.c.username_key == username.strip().casefold(),
                                      users_t.c.disabled_at.is_(None))
            ).mappings().first()
        try:
            _hasher.verify(row["password_hash"] if row else _DUMMY_HASH, password)
            if row is None:
                raise VerificationError()
        except (VerificationError, InvalidHashError):
            raise SignInRefused("the user name or the password is not right") from None
        secret = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(24)
        with self.uow(write=True) as tx:
            tx.connection.execute(delete(sessions_t).where(sessions_t.c.expires_at < tx.now))
            expires = tx.now + SESSION_LIFETIME
            tx.connection.execute(insert(sessions_t).values(id=_session_id(secret), user_id=row["id"],
                                                            csrf_token=csrf, created_at=tx.now, expires_at=expires))
            tx.records.audit(f"console:{row['username']}", "console.signed_in", row["username"])
        return secret, ConsoleIdentity(row["id"], row["username"], row["role"], csrf, expires)

    def console_identity(self, secret: str) -> ConsoleIdentity | None:
        """Who a session cookie belongs to, or None when it is unknown or expired."""
        with self.uow(write=False) as tx:
            row = tx.connection.execute(
                select(sessions_t, users_t.c.username, users_t.c.role)
                .join(users_t, users_t.c.id == sessions_t.c.user_id)
                .where(sessions_t.c.id == _session_id(secret), sessions_t.c.expires_at > tx.now,
                       users_t.c.disabled_at.is_(None))
            ).mappings().first()
        if row is None:
            return None
        return ConsoleIdentity(row["user_id"], row["username"], row["role"], row["csrf_token"], row["expires_at"])

    def sign_out(self, secret: str) -> None:
        with self.uow(write=True) as tx:
            tx.connection.execute(delete(sessions_t).where(sessions_t.c.id == _session_id(secret)))

    def list_console_users(self) -> list[ConsoleUserView]:
        with self.uow(write=False) as tx:
            rows = tx.connection.execute(select(users_t).order_by(users_t.c.username_key)).mappings().all()
        return [ConsoleUserView(r["id"], r["username"], r["role"], r["created_at"], r["disabled_at"] is not None)
                for r in rows]
