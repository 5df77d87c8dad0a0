"""What a console password may not be: too short, blank, one character repeated, the user name, or common.

The common passwords are a data file shipped in the package (``common-passwords.txt``), compared
ignoring case and surrounding spaces.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

SHORTEST = 10


@cache
def common_passwords() -> frozenset[str]:
    """The common passwords a console user may not choose, in lower case."""
    text = files("calkeeper.usecases").joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, username: str) -> str | None:
    """Why a console password is too easy to guess, in an admin's words (None when it is not)."""
    if not password.strip():
        return "a console password cannot be blank or only spaces"
    if len(set(password)) == 1:
        return "a console password cannot be one character repeated"
    plain = password.strip().casefold()
    if plain == username.strip().casefold():
        return "a console password cannot be the user name"
    if plain in common_passwords():
        return "that console password is one of the most common passwords, which are guessed first: choose another"
    return None
