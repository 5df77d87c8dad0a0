"""User and machine names, and the ';' lists admins type into "Manage users".

A user is ``DOMAIN\\user`` (Windows style) or ``CUSTOM\\user`` (header or ticket login). Names compare
case-insensitively; the key of a name is its case-folded form, the first spelling seen is displayed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calkeeper.core.errors import InvalidUsers

# Domain: a NetBIOS or DNS-style name. User: anything Windows allows in a logon name, which excludes
# these characters: " / \ [ ] : ; | = , + * ? < > (and control characters).
_USER = re.compile(r"""([A-Za-z0-9][A-Za-z0-9._-]{0,63})\\([^"/\\\[\]:;|=,+*?<>\x00-\x1f]{1,104})""")
_MACHINE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True, slots=True)
class Identity:
    """A user or machine name as displayed, with its comparison key."""

    name: str
    key: str
    kind: str  # "user" or "machine"


def user_problem(text: str) -> str | None:
    """Say what is wrong with a user name, or return None when it is valid."""
    if "\\" not in text:
        return "a user name is DOMAIN\\user (for example ACME\\alice)"
    match = _USER.fullmatch(text)
    if match is None:
        domain, _, user = text.partition("\\")
        if not domain:
            return "the domain before the backslash is missing"
        if not user:
            return "the user name after the backslash is missing"
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", domain):
            return f"'{domain}' is not a valid domain name"
        return f"'{user}' contains a character a user name cannot have"
    if match.group(2) != match.group(2).strip():
        return "a user name cannot begin or end with a space"
    return None


def parse_user(text: str) -> Identity:
    """Parse one user name; raise InvalidUsers naming it when it is not valid."""
    name = text.strip()
    problem = user_problem(name)
    if problem is not None:
        raise InvalidUsers(
            f"'{name}' is not a valid user name: {problem}",
            details=[{"entry": name, "problem": problem}],
        )
    return Identity(name=name, key=name.casefold(), kind="user")


def parse_machine(text: str) -> Identity:
    """Parse a machine name (for identification by machine); raise InvalidUsers when invalid."""
    name = text.strip()
    if not _MACHINE.fullmatch(name):
        problem = "a machine name has letters, digits, '.', '-' and '_' only"
        raise InvalidUsers(
            f"'{name}' is not a valid machine name: {problem}",
            details=[{"entry": name, "problem": problem}],
        )
    return Identity(name=name, key=name.casefold(), kind="machine")


def parse_identity(text: str, *, kind: str) -> Identity:
    """Parse a user or a machine name, as the identification mode wants."""
    return parse_machine(text) if kind == "machine" else parse_user(text)


def parse_identity_list(entries: str | list[str], *, kind: str = "user") -> list[Identity]:
    """Parse a ``;`` list (or a list of strings) into distinct identities, all or nothing.

    Blanks and duplicates (case-insensitive) are ignored. When any entry is invalid, InvalidUsers
    names every invalid entry and nothing is returned.
    """
    raw = entries.split(";") if isinstance(entries, str) else [e for item in entries for e in item.split(";")]
    seen: dict[str, Identity] = {}
    problems: list[dict[str, str]] = []
    for entry in raw:
        name = entry.strip()
        if not name:
            continue
        try:
            identity = parse_identity(name, kind=kind)
        except InvalidUsers as error:
            problems.extend(error.details)
            continue
        seen.setdefault(identity.key, identity)
    if problems:
        names = ", ".join(f"'{p['entry']}' ({p['problem']})" for p in problems)
        noun = "entry is" if len(problems) == 1 else "entries are"
        raise InvalidUsers(
            f"nothing was applied: {len(problems)} {noun} not valid: {names}", details=problems
        )
    if not seen:
        raise InvalidUsers("nothing was applied: the list has no names", details=[])
    return list(seen.values())
