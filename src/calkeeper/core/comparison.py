"""How names compare: as Windows compares them, after Unicode NFC; and the characters no name may hold.

Every name calkeeper keeps (a user, a machine, a document's path, a console user) is first normalised to
Unicode NFC, so that ``café`` typed precomposed and ``café`` typed as ``e`` + a combining acute are one
name. Its comparison key is then its *simple* upper-case form, character by character, as Windows'
``RtlUpcaseUnicodeString`` makes it for logon names (the SAM and Active Directory match ``DOMAIN\\user``
at sign-in this way) and NTFS for file names:

- each character becomes its one-character upper-case form, or stays as it is when Unicode has none:
  'ß' stays 'ß' (full case mapping would make it 'SS'), so ``Straße`` and ``STRASSE`` are two names;
  U+0131 (dotless i) and U+017F (long s) become 'I' and 'S'; 'İ' stays 'İ'; 'ﬀ' stays 'ﬀ';
- a key has as many characters as its NFC name;
- Windows upper-cases UTF-16 code units, so letters beyond the Basic Multilingual Plane (Deseret,
  Osage, Adlam...) keep their case: they compare case-sensitively, as on Windows.

This is not full case folding (``str.casefold``), which merges names Windows keeps apart, and not
Active Directory's locale collation for LDAP searches (which also ignores width and kana type): names
are matched as the logon does.

``character_problem`` names the first character no name may hold: a control or format character
(Unicode categories Cc, Cf: C0, DEL, C1, bidi embeddings, overrides and isolates, zero-width
characters, the byte order mark), a line or paragraph separator (Zl, Zp), a lone surrogate (Cs: bytes
that were not UTF-8) or a code point Unicode has not assigned (Cn: its case could change with a later
Unicode version, and with it the key). Private-use characters (Co) have no case and are kept.
"""

from __future__ import annotations

import unicodedata

REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Cn"})

# Control characters have no Unicode name, only aliases: these are the ones people know them by.
_C0 = ("NULL", "START OF HEADING", "START OF TEXT", "END OF TEXT", "END OF TRANSMISSION", "ENQUIRY",
       "ACKNOWLEDGE", "BELL", "BACKSPACE", "CHARACTER TABULATION", "LINE FEED", "LINE TABULATION",
       "FORM FEED", "CARRIAGE RETURN", "SHIFT OUT", "SHIFT IN", "DATA LINK ESCAPE", "DEVICE CONTROL ONE",
       "DEVICE CONTROL TWO", "DEVICE CONTROL THREE", "DEVICE CONTROL FOUR", "NEGATIVE ACKNOWLEDGE",
       "SYNCHRONOUS IDLE", "END OF TRANSMISSION BLOCK", "CANCEL", "END OF MEDIUM", "SUBSTITUTE", "ESCAPE",
       "FILE SEPARATOR", "GROUP SEPARATOR", "RECORD SEPARATOR", "UNIT SEPARATOR")
_CONTROL_NAMES = {**{chr(i): name for i, name in enumerate(_C0)}, "\x7f": "DELETE", "\x85": "NEXT LINE"}
_KINDS = {"Cc": "a control character", "Cf": "an invisible format character", "Zl": "a line separator",
          "Zp": "a paragraph separator", "Cs": "a lone surrogate (a byte that is not UTF-8)",
          "Cn": "a code point Unicode has not assigned"}


def normalized(text: str) -> str:
    """The text in Unicode NFC, the form every name is kept and compared in."""
    return unicodedata.normalize("NFC", text)


def _simple_upper(ch: str) -> str:
    if ord(ch) > 0xFFFF:  # Windows upper-cases UTF-16 code units; a surrogate pair keeps its case
        return ch
    upper = ch.upper()
    if len(upper) == 1:
        return upper
    # Full mapping gave several characters ('ß' -> 'SS', 'ᾳ' -> alpha + iota); Unicode's simple mapping is then
    # the one-character title case where there is one ('ᾳ' -> 'ᾼ'), else the character itself.
    title = ch.title()
    return title if len(title) == 1 else ch


def comparison_key(name: str) -> str:
    """The key by which a name compares: NFC, then simple upper-casing per character, as Windows does."""
    text = normalized(name)
    if text.isascii():
        return text.upper()
    return "".join(_simple_upper(ch) for ch in text)


def character_name(ch: str) -> str:
    """A character as a message names it: ``U+202E RIGHT-TO-LEFT OVERRIDE``."""
    name = _CONTROL_NAMES.get(ch) or unicodedata.name(ch, "")
    return f"U+{ord(ch):04X} {name}".rstrip()


def refused_character(text: str) -> str | None:
    """The first character no name may hold (see the module's docstring), or None."""
    for ch in text:
        if unicodedata.category(ch) in REFUSED_CATEGORIES:
            return ch
    return None


def character_problem(text: str) -> str | None:
    """Say which character of a name no name may hold, naming it, or return None."""
    ch = refused_character(text)
    if ch is None:
        return None
    return f"it holds {character_name(ch)}, {_KINDS[unicodedata.category(ch)]}, which a name cannot have"


def shown(text: str) -> str:
    """A name as a message can quote it: refused characters as \\uXXXX, so that none can reorder or hide it."""
    return "".join(ch if unicodedata.category(ch) not in REFUSED_CATEGORIES
                   else f"\\u{ord(ch):04x}" if ord(ch) <= 0xFFFF else f"\\U{ord(ch):08x}" for ch in text)
