"""Console users: create, disable, enable and delete them, sign in and out (argon2 passwords, 8-hour
sessions with a CSRF token), and end a user's sessions.

Sign-ins are braked per user name and per address, across every worker and node (``failure_brake``).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from typing import Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from calkeeper.contract.views import ConsoleUserView
from calkeeper.core.comparison import character_problem, comparison_key, normalized, shown
from calkeeper.core.errors import InvalidInput, NotFound, Refused, SignInRefused
from calkeeper.store.console_users import ConsoleAccount
from calkeeper.store.unit_of_work import Transaction, UnitOfWork
from calkeeper.usecases.directory_sign_in import DirectorySignIn, directory_console_user, is_directory_account
from calkeeper.usecases.failure_brake import SIGN_IN_BY_ADDRESS, SIGN_IN_BY_NAME, SharedBrake, Verdict
from calkeeper.usecases.passwords import SHORTEST, password_problem

SESSION_LIFETIME = timedelta(hours=8)
RESULT_LIFETIME = timedelta(hours=1)  # long enough to reload the page that shows it
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


def _refusal(account: ConsoleAccount | None, password: str) -> str:
    """Why the password does not sign the account in ('' when it does); as long to find out for an unknown name."""
    try:
        _hasher.verify(account.password_hash if account else _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return "unknown user" if account is None else "wrong password"
    if account is None:
        return "unknown user"
    return "disabled user" if account.view.disabled else ""


def _too_many(whose: str, verdict: Verdict) -> SignInRefused:
    minutes = math.ceil(verdict.retry_after_seconds / 60)
    return SignInRefused(f"too many failed sign-ins {whose}; try again in {minutes} minute{'s' if minutes > 1 else ''}",
                         code="too_many_sign_ins", details={"retry_after_seconds": verdict.retry_after_seconds})


class ConsoleUsers:
    """Who may use the management console, and their sessions."""

    def __init__(self, *, uow: UnitOfWork, default_actor: str, directory: DirectorySignIn | None = None) -> None:
        self.uow = uow
        self.default_actor = default_actor
        self.directory = directory  # None: only local console accounts sign in
        self.by_name = SharedBrake("sign_in_user", SIGN_IN_BY_NAME)
        self.by_address = SharedBrake("sign_in_address", SIGN_IN_BY_ADDRESS)

    def create_console_user(self, *, username: str, password: str, role: str, actor: str | None = None,
                            replace: bool = False) -> ConsoleUserView:
        """Create a console user (or, with replace, set a new password and role for an existing one)."""
        name = normalized(username).strip()
        if problem := character_problem(name):
            raise InvalidInput(f"'{shown(name)}' is not a valid console user name: {problem}")
        if not name or len(name) > 100 or any(c.isspace() for c in name):
            raise InvalidInput("a console user name has 1 to 100 characters and no spaces")
        if role not in CONSOLE_ROLES:
            raise InvalidInput(f"a console user's role is admin or viewer, not '{role}'")
        if len(password) < SHORTEST:
            raise InvalidInput(f"a console password needs at least {SHORTEST} characters")
        if problem := password_problem(password, username=name):
            raise InvalidInput(problem, code="weak_password")
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
                self.by_name.forget(tx, comparison_key(name))  # a new password lets the user try again at once
            tx.history.audit(actor or self.default_actor, "console_user.saved", name, role=role)
        return ConsoleUserView(user_id, name, role, created, False)

    def sign_in(self, username: str, password: str, *, address: str = "unknown") -> tuple[str, ConsoleIdentity]:
        """Check a user name and password; return a new session's secret (for the cookie) and who it is.

        Failures are braked per user name tried and per address (slowed after a few, refused for a
        while after many; ``SignInRefused.hold_seconds`` says how long to hold the answer back), and
        each is recorded in the audit trail as ``console.sign_in_failed``. The attempt is counted as
        a failure before the password is checked, so that attempts at once on several workers cannot
        outrun the brake, and forgotten when it succeeds.
        """
        name = normalized(username).strip()[:100]
        subject = comparison_key(name)
        with self.uow.read() as tx:  # a refused caller costs a read only
            self._unless_braked(tx, name, subject, address)
        with self.uow.write() as tx:  # checked again under the write lock: other attempts may have counted meanwhile
            self._unless_braked(tx, name, subject, address)
            name_failure, name_verdict = self.by_name.fail(tx, subject)
            address_failure, address_verdict = self.by_address.fail(tx, address)
            account = tx.console_users.find(name)
        if self.directory is not None and (account is None or is_directory_account(account)):
            found, refusal, role = self.directory.check_password(name, password)
            if found is not None and not refusal:  # the directory names the user, maybe not as typed
                held = self._held_account(found.name)
                refusal = "disabled user" if held is not None and held.view.disabled else ""
        else:
            refusal, found, role = _refusal(account, password) if account else "unknown user", None, None
        if refusal:
            self._failed(name, address, refusal, name_verdict, address_verdict)
        with self.uow.write() as tx:
            tx.auth_failures.forget([name_failure, address_failure])  # the attempt was no failure
            self.by_name.forget(tx, subject)
            user = directory_console_user(tx, found, role) if found and role else account.view  # type: ignore[union-attr]
            return self._start_session(tx, user, address)

    def sso_sign_in(self, user: str, *, address: str = "unknown") -> tuple[str, ConsoleIdentity]:
        """Sign in the user a trusted reverse proxy names (single sign-on), with the role their groups give."""
        if self.directory is None:
            raise SignInRefused("single sign-on needs the site's directory for console roles")
        found, role = self.directory.vouched(user)
        if found is None or role is None:
            reason = "unknown directory user" if found is None else "in neither console group of the directory"
            with self.uow.write() as tx:
                tx.history.audit(f"address:{address}", "console.sign_in_failed", user[:200], reason=reason,
                                 via="proxy")
            raise SignInRefused(f"the proxy signed in '{user}', who may not use the console ({reason})")
        with self.uow.write() as tx:
            held = tx.console_users.find(found.name)
            if held is not None and held.view.disabled:
                raise SignInRefused(f"'{found.name}' is a disabled console user")
            return self._start_session(tx, directory_console_user(tx, found, role), address, via="proxy")

    def _held_account(self, name: str) -> ConsoleAccount | None:
        with self.uow.read() as tx:
            return tx.console_users.find(name)

    def _start_session(self, tx: Transaction, user: ConsoleUserView, address: str,
                       **how: Any) -> tuple[str, ConsoleIdentity]:
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        expires = tx.now + SESSION_LIFETIME
        tx.console_users.start_session(session_id=_session_id(secret), user_id=user.id, csrf_token=csrf,
                                       expires_at=expires)
        tx.history.audit(f"console:{user.username}", "console.signed_in", user.username, address=address, **how)
        return secret, ConsoleIdentity(user.id, user.username, user.role, csrf, expires)

    def _unless_braked(self, tx: Transaction, name: str, subject: str, address: str) -> None:
        for verdict, whose in ((self.by_name.verdict(tx, subject), f"as '{name}'"),
                               (self.by_address.verdict(tx, address), "from this address")):
            if verdict.refused:
                raise _too_many(whose, verdict)

    def _failed(self, name: str, address: str, reason: str, by_name: Verdict, by_address: Verdict) -> NoReturn:
        """Record a failed sign-in in the audit trail, then refuse it (held back as the brakes say)."""
        with self.uow.write() as tx:
            tx.history.audit(f"address:{address}", "console.sign_in_failed", name, reason=reason,
                             recent_failures=by_name.failures)
        for verdict, whose in ((by_name, f"as '{name}'"), (by_address, "from this address")):
            if verdict.refused:
                raise _too_many(whose, verdict)
        raise SignInRefused("the user name or the password is not right",
                            hold_seconds=max(by_name.hold_seconds, by_address.hold_seconds))

    def console_identity(self, secret: str) -> ConsoleIdentity | None:
        """Who a session cookie belongs to, or None when it is unknown or expired."""
        with self.uow.read() as tx:
            session = tx.console_users.session(_session_id(secret))
        if session is None:
            return None
        return ConsoleIdentity(session.user_id, session.username, session.role, session.csrf_token,
                               session.expires_at)

    def keep_result(self, secret: str, body: str) -> str | None:
        """Keep what an action did for this session to show next; its id, or None without a session."""
        result_id = secrets.token_urlsafe(18)
        with self.uow.write() as tx:
            session = tx.console_users.session(_session_id(secret))
            if session is None:
                return None
            tx.console_users.keep_result(result_id=result_id, session_id=_session_id(secret), body=body,
                                         expires_at=tx.now + RESULT_LIFETIME)
        return result_id

    def result(self, secret: str, result_id: str) -> str | None:
        """A result this session kept, while it lasts; another session's is never shown."""
        with self.uow.read() as tx:
            return tx.console_users.result(result_id=result_id, session_id=_session_id(secret))

    def sign_out(self, secret: str) -> None:
        with self.uow.write() as tx:
            tx.console_users.end_session(_session_id(secret))

    def list_console_users(self) -> list[ConsoleUserView]:
        with self.uow.read() as tx:
            return tx.console_users.all()

    def open_sessions(self) -> dict[str, int]:
        """How many console sessions each user has open, by user name."""
        with self.uow.read() as tx:
            return tx.console_users.open_sessions()

    def disable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        """Stop a console user from signing in; their sessions end at once. The last enabled admin stays."""
        with self.uow.write() as tx:
            user = _known(tx, username)
            if not user.disabled:
                _keep_an_admin(tx, user, "disabled")
                tx.console_users.set_disabled(user.id, True)
                ended = tx.console_users.end_sessions(user.id)
                tx.history.audit(actor or self.default_actor, "console_user.disabled", user.username,
                                 sessions_ended=ended)
        return replace(user, disabled=True)

    def enable_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        """Let a disabled console user sign in again (their failed sign-ins are forgotten too)."""
        with self.uow.write() as tx:
            user = _known(tx, username)
            if user.disabled:
                tx.console_users.set_disabled(user.id, False)
                tx.history.audit(actor or self.default_actor, "console_user.enabled", user.username)
            self.by_name.forget(tx, comparison_key(user.username))
        return replace(user, disabled=False)

    def delete_console_user(self, username: str, *, actor: str | None = None) -> ConsoleUserView:
        """Delete a console user, ending their sessions; the last enabled admin stays. Returns who was deleted."""
        with self.uow.write() as tx:
            user = _known(tx, username)
            _keep_an_admin(tx, user, "deleted")
            ended = tx.console_users.end_sessions(user.id)
            tx.console_users.delete(user.id)
            tx.history.audit(actor or self.default_actor, "console_user.deleted", user.username, role=user.role,
                             sessions_ended=ended)
        return user

    def end_console_sessions(self, username: str, *, actor: str | None = None) -> int:
        """Sign a console user out everywhere: end their open sessions; how many there were."""
        with self.uow.write() as tx:
            user = _known(tx, username)
            ended = tx.console_users.end_sessions(user.id)
            tx.history.audit(actor or self.default_actor, "console_user.sessions_ended", user.username,
                             sessions_ended=ended)
        return ended


def _known(tx: Transaction, username: str) -> ConsoleUserView:
    account = tx.console_users.find(username)
    if account is None:
        raise NotFound(f"there is no console user '{username.strip()}'", code="unknown_console_user")
    return account.view


def _keep_an_admin(tx: Transaction, user: ConsoleUserView, done: str) -> None:
    """Refuse to disable or delete the last enabled admin: nobody could then manage the console."""
    if user.role == "admin" and not user.disabled and tx.console_users.enabled_admins() <= 1:
        raise Refused(f"'{user.username}' is the last enabled console admin and cannot be {done}: make another "
                      "console user an admin first", code="last_console_admin")
