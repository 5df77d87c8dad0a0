"""The built-in directory: users kept in the site's database, with argon2 password hashes and groups.

It keeps the core's ``Directory`` port, so searches, group assignment, group rules and sign-in work the
same as with LDAP. Users come from ``calkeeper users import FILE.csv`` (all or nothing, each bad row
named), with these columns (a header row names them; ``user`` is required, the others optional):

    user,display_name,password,groups
    ACME\\alice,Alice Example,correct-horse-battery,Sales;EMEA

``password`` is typed in clear and stored as an argon2 hash (or give ``password_hash``, an argon2 hash);
empty: the user cannot sign in with a password. ``groups`` are separated by ``;``.
"""

from __future__ import annotations

import csv
import io
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from calkeeper.contract.views import DirectoryImport
from calkeeper.core.directory import DirectoryAccount, DirectoryCheck, DirectoryEntry
from calkeeper.core.errors import InvalidInput, UnknownGroup
from calkeeper.core.identities import user_key, user_problem
from calkeeper.store.directory import ImportedUser
from calkeeper.store.unit_of_work import UnitOfWork
from calkeeper.usecases.passwords import SHORTEST, password_problem

COLUMNS = ("user", "display_name", "password", "password_hash", "groups")
MAX_ROWS = 100_000
LISTED = 20  # bad rows named in the message; the error's details hold them all (up to 1000)
_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to check unknown names against, so a refusal takes as long whether or not the user exists."""
    return _hasher.hash("calkeeper-no-such-directory-user")


class BuiltinDirectory:
    """The site's own directory (``Directory`` port), and importing users into it."""

    kind = "built-in"

    def __init__(self, *, uow: UnitOfWork, default_actor: str) -> None:
        self.uow = uow
        self.default_actor = default_actor

    def check(self) -> DirectoryCheck:
        with self.uow.read() as tx:
            users, groups = tx.directory.counts()
        return DirectoryCheck(self.kind, "the site's database", [
            f"the built-in directory holds {users} user{'s' if users != 1 else ''} and {groups} "
            f"group{'s' if groups != 1 else ''}"])

    def search(self, text: str, *, kind: str, limit: int) -> list[DirectoryEntry]:
        with self.uow.read() as tx:
            if kind == "group":
                return tx.directory.search_groups(text, limit=limit)
            return tx.directory.search_users(text, limit=limit)

    def members(self, group: str) -> list[DirectoryEntry]:
        with self.uow.read() as tx:
            if tx.directory.group(group) is None:
                raise UnknownGroup(f"the built-in directory has no group '{group.strip()}'")
            return tx.directory.members(group)

    def authenticate(self, user: str, password: str) -> DirectoryAccount | None:
        if not password:
            return None  # an empty password never signs anyone in
        with self.uow.read() as tx:
            found = tx.directory.find(user)
        try:
            _hasher.verify(found.password_hash if found and found.password_hash else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if found is None or not found.password_hash:
            return None
        return DirectoryAccount(found.name, found.display_name, frozenset(g.casefold() for g in found.groups))

    def account(self, user: str) -> DirectoryAccount | None:
        with self.uow.read() as tx:
            found = tx.directory.find(user)
        if found is None:
            return None
        return DirectoryAccount(found.name, found.display_name, frozenset(g.casefold() for g in found.groups))

    def import_users(self, text: str, *, actor: str | None = None) -> DirectoryImport:
        """Add (or replace) the users of a CSV text, all or nothing: every bad row is named."""
        users = parse_users_csv(text)
        with self.uow.write() as tx:
            added, replaced = tx.directory.save_users(users)
            groups = len({g.casefold() for u in users for g in u.groups})
            tx.history.audit(actor or self.default_actor, "directory.users_imported", "built-in directory",
                             added=added, replaced=replaced, groups=groups)
        return DirectoryImport(added, replaced, groups)


def parse_users_csv(text: str) -> list[ImportedUser]:
    """The users of a CSV text, passwords hashed; InvalidInput names every bad row (and nothing is imported)."""
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as error:
        raise InvalidInput(f"the file is not CSV ({error}); nothing was imported") from None
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        raise InvalidInput("the file holds no users; nothing was imported")
    header = [cell.strip().casefold() for cell in rows[0]]
    unknown = [h for h in header if h not in COLUMNS]
    if "user" not in header or unknown:
        raise InvalidInput(f"the first row names the columns: user (required), {', '.join(COLUMNS[1:])}"
                           f"{'; unknown: ' + ', '.join(unknown) if unknown else ''}. Nothing was imported")
    if len(rows) - 1 > MAX_ROWS:
        raise InvalidInput(f"a file imports at most {MAX_ROWS:,} users; split it. Nothing was imported")
    problems: list[str] = []
    users: list[ImportedUser] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        values = dict(zip(header, (cell.strip() for cell in row), strict=False))
        name = values.get("user", "")
        wrong = _row_problems(values, len(row), len(header))
        if not wrong and user_key(name) in seen:
            wrong.append(f"the same user as row {seen[user_key(name)]}")
        if wrong:
            problems += [f"row {number} ({name or 'no user'}): {w}" for w in wrong]
            continue
        seen[user_key(name)] = number
        password, stored = values.get("password", ""), values.get("password_hash", "") or None
        groups = [g.strip() for g in values.get("groups", "").split(";") if g.strip()]
        users.append(ImportedUser(name, values.get("display_name", "") or name, stored, groups))
        if password:
            users[-1] = ImportedUser(name, users[-1].display_name, _hasher.hash(password), groups)
    if problems:
        listed = "; ".join(problems[:LISTED]) + (f" (and {len(problems) - LISTED} more)" if len(problems) > LISTED
                                                  else "")
        raise InvalidInput(f"nothing was imported: {len(problems)} problem{'s' if len(problems) > 1 else ''}: "
                           f"{listed}", details=problems[:1000])
    return users


def _row_problems(values: dict[str, str], width: int, columns: int) -> list[str]:
    wrong = []
    name = values.get("user", "")
    if width > columns:
        wrong.append(f"it has {width} cells where the header names {columns}")
    if problem := user_problem(name):
        wrong.append(problem)
    display = values.get("display_name", "")
    if len(display) > 200 or any(ord(c) < 32 for c in display):
        wrong.append("a display name has at most 200 characters and no control characters")
    password, stored = values.get("password", ""), values.get("password_hash", "")
    if password and stored:
        wrong.append("give a password or a password_hash, not both")
    elif password and len(password) < SHORTEST:
        wrong.append(f"a password needs at least {SHORTEST} characters")
    elif password and (weak := password_problem(password, username=name.partition("\\")[2] or name)):
        wrong.append(weak.replace("a console password", "a password").replace("that console password",
                                                                              "that password"))
    elif len(password) > 1000:
        wrong.append("a password has at most 1000 characters")
    if stored and (not stored.startswith("$argon2") or len(stored) > 200):
        wrong.append("a password_hash is an argon2 hash ($argon2id$...)")
    for group in values.get("groups", "").split(";"):
        group = group.strip()
        if len(group) > 200 or any(ord(c) < 32 for c in group):
            wrong.append(f"the group '{group[:40]}' is longer than 200 characters or holds control characters")
    return wrong
