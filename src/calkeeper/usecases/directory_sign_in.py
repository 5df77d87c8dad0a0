"""Signing in with the site's directory: an alternate identity (a user id and a password the directory
checks), and single sign-on, where a trusted reverse proxy says who the user is.

Console roles come from directory groups: a member of the admins group is a console admin, a member
of the viewers group a viewer (admin wins when in both); a directory user in neither cannot sign in.
A directory user who signs in gets a console account (so sessions, disabling and the audit trail work
as for local accounts) that holds no password: only the directory can sign it in, and each sign-in
sets its role from the groups again. A local console account of the same name is checked first.

A directory that cannot be asked refuses the sign-in with its own message (never "allowed"); a wrong
password is refused as any wrong password is. An empty password never signs anyone in.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from calkeeper.contract.views import ConsoleUserView
from calkeeper.core.directory import Directory, DirectoryAccount
from calkeeper.core.errors import DirectoryUnavailable, SignInRefused
from calkeeper.store.console_users import ConsoleAccount
from calkeeper.store.unit_of_work import Transaction

DIRECTORY_ACCOUNT = "directory"  # the password hash of a console account only the directory signs in
LONGEST_HEADER_NAME = 200


def is_directory_account(account: ConsoleAccount | None) -> bool:
    return account is not None and account.password_hash == DIRECTORY_ACCOUNT


@dataclass(frozen=True)
class DirectoryRoles:
    """Which directory groups make console admins and viewers (by group name or DN)."""

    admins_group: str | None = None
    viewers_group: str | None = None

    def role_of(self, account: DirectoryAccount) -> str | None:
        if account.in_group(self.admins_group):
            return "admin"
        if account.in_group(self.viewers_group):
            return "viewer"
        return None


class DirectorySignIn:
    """Checks a directory user's password (or a proxy's word) and gives the console role their groups give."""

    def __init__(self, *, directory: Directory, roles: DirectoryRoles) -> None:
        self.directory = directory
        self.roles = roles

    def check_password(self, name: str, password: str) -> tuple[DirectoryAccount | None, str, str | None]:
        """(account, refusal, role): the refusal is '' when the password is the user's and a group gives a role.

        Raises SignInRefused (``directory_sign_in_unavailable``) when the directory cannot be asked.
        """
        try:
            found = self.directory.authenticate(name, password) if password else None
        except DirectoryUnavailable as error:
            raise _unavailable(error) from None
        if found is None:
            return None, "wrong password or unknown directory user", None
        role = self.roles.role_of(found)
        return found, "" if role else "in neither console group of the directory", role

    def vouched(self, name: str) -> tuple[DirectoryAccount | None, str | None]:
        """The account a trusted proxy names, and its role (None when the directory does not know it)."""
        try:
            found = self.directory.account(name)
        except DirectoryUnavailable as error:
            raise _unavailable(error) from None
        return found, self.roles.role_of(found) if found else None


def _unavailable(error: DirectoryUnavailable) -> SignInRefused:
    return SignInRefused(f"the directory cannot be asked now ({error.message}), so directory users cannot sign in; "
                         "try again later", code="directory_sign_in_unavailable")


def directory_console_user(tx: Transaction, account: DirectoryAccount, role: str) -> ConsoleUserView:
    """The console account of a directory user (made on first sign-in), its role set from the groups again."""
    existing = tx.console_users.find(account.name)
    if existing is None:
        user_id = tx.console_users.add(username=account.name, password_hash=DIRECTORY_ACCOUNT, role=role)
        return ConsoleUserView(user_id, account.name, role, tx.now, False)
    if existing.view.role != role:
        tx.console_users.replace(existing.view.id, password_hash=DIRECTORY_ACCOUNT, role=role)
    return ConsoleUserView(existing.view.id, existing.view.username, role, existing.view.created_at, False)


@dataclass(frozen=True)
class TrustedProxies:
    """Single sign-on behind a reverse proxy: the header that names the user, believed only from these peers."""

    header: str | None
    proxies: tuple[str, ...] = ()

    def user(self, peer: str | None, headers: dict[str, str]) -> str | None:
        """The user the proxy names, when the request came straight from a trusted proxy; else None."""
        if not self.header or not peer or not self.trusts(peer):
            return None
        value = headers.get(self.header.lower(), "").strip()
        return value if value and len(value) <= LONGEST_HEADER_NAME else None

    def trusts(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer)
        except ValueError:
            return False
        for proxy in self.proxies:
            try:
                if address in ipaddress.ip_network(proxy, strict=False):
                    return True
            except ValueError:
                continue
        return False
