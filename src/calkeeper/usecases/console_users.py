"""Console users: create them, sign in and out (argon2 passwords, 8-hour sessions with a CSRF token)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from calkeeper.contract.views import ConsoleUserView
from calkeeper.core.errors import InvalidInput, SignInRefused
from calkeeper.store.unit_of_work import UnitOfWork

SESSION_LIFETIME = timedelta(hours=8)
CONSOLE_ROLES = ("admin", "viewer")
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to check unknown names against, so a sign-in takes as long whether or not the name exists."""
    return _hasher.hash("calkeeper-no-such-user")


@dataclass(frozen=True)
class ConsoleIdentity:
    user_id: int
    username: str
    role: str
    csrf_token: str
    expires_at: datetime


def _session_id(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ConsoleUsers:
    """Who may use the management console, and their sessions."""

    def __init__(self, *, uow: UnitOfWork, default_actor: str) -> None:
        self.uow = uow
        self.default_actor = default_actor

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
        with self.uow.write() as tx:
            existing = tx.console_users.find(name)
            if existing is not None and not replace:
                raise InvalidInput(f"there is already a console user '{existing.view.username}'")
            if existing is None:
                user_id, created = tx.console_users.add(username=name, password_hash=hashed, role=role), tx.now
            else:
                user_id, created = existing.view.id, existing.view.created_at
                tx.console_users.replace(user_id, password_hash=hashed, role=role)
            tx.history.audit(actor or self.default_actor, "console_user.saved", name, role=role)
        return ConsoleUserView(user_id, name, role, created, False)

    def sign_in(self, username: str, password: str) -> tuple[str, ConsoleIdentity]:
        """Check a user name and password; return a new session's secret (for the cookie) and who it is."""
        with self.uow.read() as tx:
            account = tx.console_users.find(username, enabled_only=True)
        try:
            _hasher.verify(account.password_hash if account else _dummy_hash(), password)
            if account is None:
                raise VerificationError()
        except (VerificationError, InvalidHashError):
            raise SignInRefused("the user name or the password is not right") from None
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        user = account.view
        with self.uow.write() as tx:
            expires = tx.now + SESSION_LIFETIME
            tx.console_users.start_session(session_id=_session_id(secret), user_id=user.id, csrf_token=csrf,
                                           expires_at=expires)
            tx.history.audit(f"console:{user.username}", "console.signed_in", user.username)
        return secret, ConsoleIdentity(user.id, user.username, user.role, csrf, expires)

    def console_identity(self, secret: str) -> ConsoleIdentity | None:
        """Who a session cookie belongs to, or None when it is unknown or expired."""
        with self.uow.read() as tx:
            session = tx.console_users.session(_session_id(secret))
        if session is None:
            return None
        return ConsoleIdentity(session.user_id, session.username, session.role, session.csrf_token,
                               session.expires_at)

    def sign_out(self, secret: str) -> None:
        with self.uow.write() as tx:
            tx.console_users.end_session(_session_id(secret))

    def list_console_users(self) -> list[ConsoleUserView]:
        with self.uow.read() as tx:
            return tx.console_users.all()
