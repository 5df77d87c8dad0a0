"""The site's directory: who its users are, which groups they are in, and whether a password is theirs.

A directory is a port (``Directory``): the built-in one keeps users in the site's database, the LDAP
one asks an LDAP server or Active Directory. The rules here need neither: the names a directory
gives, and what a sync of a group rule must do given the group's members and the CALs the rule gave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from calkeeper.core.errors import InvalidInput
from calkeeper.core.identities import user_problem

KINDS = ("user", "group")
SEARCH_LIMIT_MAX = 500  # entries one search answers; a directory of 100,000 is searched a page at a time
SEARCH_TEXT_MAX = 200


@dataclass(frozen=True)
class DirectoryEntry:
    """A user or a group found in the directory.

    ``name`` is ``DOMAIN\\user`` for a user and the group's name for a group; ``ref`` is how the directory
    finds the entry again (an LDAP distinguished name, or the built-in directory's key). ``members`` is
    a group's count of direct members (None for a user).
    """

    kind: str
    name: str
    display_name: str
    ref: str
    members: int | None = None


@dataclass(frozen=True)
class DirectoryCheck:
    """What ``calkeeper directory test`` found: which directory, and each step that passed."""

    kind: str  # "built-in", "ldap" or "active directory"
    server: str
    steps: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DirectoryAccount:
    """A user the directory vouched for (by a password it checked, or for a proxy that signed them in)."""

    name: str
    display_name: str
    groups: frozenset[str]  # the case-folded names and refs of every group the user is in, nested ones too

    def in_group(self, group: str | None) -> bool:
        """Whether the user is in the group, given by name or by ref (ignoring case)."""
        return bool(group) and group.strip().casefold() in self.groups  # type: ignore[union-attr]


class Directory(Protocol):
    """The port every directory keeps. Each method raises ``DirectoryUnavailable`` when it cannot ask."""

    kind: str

    def check(self) -> DirectoryCheck:
        """Connect, bind and search; say what passed (raise, in plain words, what did not)."""
        ...

    def search(self, text: str, *, kind: str, limit: int) -> list[DirectoryEntry]:
        """Users or groups whose name or display name contains the text, at most ``limit`` of them."""
        ...

    def members(self, group: str) -> list[DirectoryEntry]:
        """Every user in the group (by name or ref), through nested groups too; ``UnknownGroup`` if none is so named."""
        ...

    def authenticate(self, user: str, password: str) -> DirectoryAccount | None:
        """The account whose password this is, or None when the name or the password is not right."""
        ...

    def account(self, user: str) -> DirectoryAccount | None:
        """A user's account without a password (a trusted proxy signed them in), or None when unknown."""
        ...


def search_text(text: str) -> str:
    """The text of a directory search, checked: at most 200 characters, no control characters."""
    text = text.strip()
    if len(text) > SEARCH_TEXT_MAX:
        raise InvalidInput(f"a directory search is at most {SEARCH_TEXT_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise InvalidInput("a directory search cannot hold control characters")
    return text


def search_kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidInput(f"search the directory for a user or a group, not '{kind}'")
    return kind


def search_limit(limit: int) -> int:
    if not 1 <= limit <= SEARCH_LIMIT_MAX:
        raise InvalidInput(f"a directory search answers 1 to {SEARCH_LIMIT_MAX} entries")
    return limit


def login_parts(login: str) -> tuple[str, str]:
    """A sign-in name as typed, split into (domain, user): ``ACME\\alice``, ``alice@acme.example`` or ``alice``.

    The domain is '' when the name has none; a UPN's domain is the part after '@'.
    """
    login = login.strip()
    if "\\" in login:
        domain, _, user = login.partition("\\")
        return domain, user
    if "@" in login:
        user, _, domain = login.rpartition("@")
        return domain, user
    return "", login


def user_name(domain: str, login: str) -> str | None:
    """``DOMAIN\\login`` when that is a valid user name, else None (the entry is skipped)."""
    name = f"{domain}\\{login}"
    return None if user_problem(name) else name


@dataclass(frozen=True)
class SyncPlan:
    """What a sync of one group rule does: whom it gives a CAL, and whose CAL it takes back."""

    assign: list[str]
    remove: list[str]


def plan_sync(members: Iterable[str], held_by_rule: Iterable[str]) -> SyncPlan:
    """New members get a CAL; those who left the group and hold a CAL the rule gave lose it.

    Names compare case-insensitively; a CAL the rule did not give (assigned by hand) is never taken.
    """
    current = {name.casefold(): name for name in members}
    given = {name.casefold(): name for name in held_by_rule}
    return SyncPlan(assign=sorted((current[k] for k in current.keys() - given.keys()), key=str.casefold),
                    remove=sorted((given[k] for k in given.keys() - current.keys()), key=str.casefold))
