"""User and machine names, and the ';' lists admins type into "Manage users".

A user is ``DOMAIN\\user`` (Windows style) or ``CUSTOM\\user`` (header or ticket login). A name is first
normalised to Unicode NFC (``café`` typed two ways is one user), then compared as Windows and Active
Directory compare logon names: case-insensitively by *simple* upper-casing, one character for one
(``calkeeper.core.comparison``), not by full case folding. So ``ACME\\Straße`` and ``ACME\\STRASSE`` are
two accounts, as they are in Active Directory, while ``ACME\\ian`` with a dotless i (U+0131) is
``ACME\\IAN``. The key of a name is that upper-cased form; the first spelling seen is the one
displayed. Machine names are ASCII, so their key is their upper-case form.

A name holding a control or format character (C0, DEL, C1, U+2028/2029, bidi embeddings, overrides and
isolates, zero-width characters, the byte order mark), a lone surrogate or an unassigned code point is
refused, and the message names the character ("U+202E RIGHT-TO-LEFT OVERRIDE").

Every name this module accepts fits the store's columns, as displayed and as its key (simple
upper-casing keeps the length, so the key is as long as the NFC name; it is measured all the same). The
limits are stated here, and a test holds them to the column lengths of ``calkeeper.store.schema``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from calkeeper.core.comparison import character_problem, comparison_key, normalized, shown
from calkeeper.core.errors import InvalidUsers

DOMAIN_MAX = 64  # characters before the backslash: a DNS-style domain label, longer than NetBIOS's 15
USER_PART_MAX = 104  # characters after it: Windows' limit on a logon name
USER_NAME_MAX = DOMAIN_MAX + 1 + USER_PART_MAX  # a whole user name as displayed
USER_KEY_MAX = 200  # a user name's comparison key, by which it is stored and compared
MACHINE_MAX = 63  # a machine (host) name; ASCII only, so its key is as long as it is

# Domain: a NetBIOS or DNS-style name. User: anything Windows allows in a logon name, which excludes
# these characters: " / \ [ ] : ; | = , + * ? < > (control and format characters, lone surrogates and
# unassigned code points are refused before, naming the character).
_DOMAIN = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{DOMAIN_MAX - 1}}}")
_USER_PART = re.compile(r"""[^"/\\\[\]:;|=,+*?<>]+""")
_MACHINE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{MACHINE_MAX - 1}}}")


@dataclass(frozen=True, slots=True)
class Identity:
    """A user or machine name as displayed, with its comparison key."""

    name: str
    key: str
    kind: str  # "user" or "machine"


def user_key(name: str) -> str:
    """The key by which a user name is stored and compared (NFC, simple upper-casing)."""
    return comparison_key(name)


def machine_key(name: str) -> str:
    """The key by which a machine name is stored and compared."""
    return comparison_key(name)


def user_problem(text: str) -> str | None:
    """Say what is wrong with a user name (taken as it is, in NFC), or return None when it is valid."""
    if problem := character_problem(text):
        return problem
    if text != normalized(text):
        return "it is not in Unicode NFC form"
    if "\\" not in text:
        return "a user name is DOMAIN\\user (for example ACME\\alice)"
    domain, _, user = text.partition("\\")
    if not domain:
        return "the domain before the backslash is missing"
    if not user:
        return "the user name after the backslash is missing"
    if len(domain) > DOMAIN_MAX:
        return f"the domain before the backslash has {len(domain)} characters; at most {DOMAIN_MAX} are allowed"
    if not _DOMAIN.fullmatch(domain):
        return f"'{domain}' is not a valid domain name"
    if not _USER_PART.fullmatch(user):
        return f"'{user}' contains a character a user name cannot have"
    if user != user.strip():
        return "a user name cannot begin or end with a space"
    if len(user) > USER_PART_MAX:
        return f"the user name after the backslash has {len(user)} characters; at most {USER_PART_MAX} are allowed"
    key = len(user_key(text))
    if key > USER_KEY_MAX:
        return f"compared case-insensitively it has {key} characters; at most {USER_KEY_MAX} are allowed"
    return None


def parse_user(text: str) -> Identity:
    """Parse one user name; raise InvalidUsers naming it when it is not valid."""
    name = normalized(text).strip()
    problem = user_problem(name)
    if problem is not None:
        raise InvalidUsers(
            f"'{shown(name)}' is not a valid user name: {problem}",
            details=[{"entry": shown(name), "problem": problem}],
        )
    return Identity(name=name, key=user_key(name), kind="user")


def machine_problem(text: str) -> str | None:
    """Say what is wrong with a machine name, or return None when it is valid."""
    if problem := character_problem(text):
        return problem
    if len(text) > MACHINE_MAX:
        return f"a machine name has at most {MACHINE_MAX} characters (this one has {len(text)})"
    if not _MACHINE.fullmatch(text):
        return "a machine name has letters, digits, '.', '-' and '_' only"
    return None


def parse_machine(text: str) -> Identity:
    """Parse a machine name (for identification by machine); raise InvalidUsers when invalid."""
    name = normalized(text).strip()
    problem = machine_problem(name)
    if problem is not None:
        raise InvalidUsers(
            f"'{shown(name)}' is not a valid machine name: {problem}",
            details=[{"entry": shown(name), "problem": problem}],
        )
    return Identity(name=name, key=machine_key(name), kind="machine")


def parse_identity(text: str, *, kind: str) -> Identity:
    """Parse a user or a machine name, as the identification mode wants.

    ``kind="user+machine"`` (or ``"machine+user"``): a name of either kind, the first preferred (to
    remove or restore a Named CAL of either kind whatever the mode is now); a name valid as neither
    is refused with the preferred kind's reason.
    """
    first, _, other = kind.partition("+")
    try:
        return parse_machine(text) if first == "machine" else parse_user(text)
    except InvalidUsers:
        if not other:
            raise
        try:
            return parse_machine(text) if other == "machine" else parse_user(text)
        except InvalidUsers:
            pass
        raise


def parse_identity_list(entries: str | list[str], *, kind: str = "user") -> list[Identity]:
    """Parse a ``;`` list (or a list of strings) into distinct identities, all or nothing.

    Blanks and duplicates (as names compare) are ignored. When any entry is invalid, InvalidUsers
    names every invalid entry and nothing is returned.
    """
    raw = entries.split(";") if isinstance(entries, str) else [e for item in entries for e in item.split(";")]
    seen: dict[str, Identity] = {}
    problems: list[dict[str, str]] = []
    for entry in raw:
        name = normalized(entry).strip()
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
