"""Documents as the rules see them, and how a name an admin or an app server gives finds one.

A document is named by its path under the root folder, with '/' between folders. Names compare
case-insensitively as Windows compares file names (Unicode NFC, then simple upper-casing, so that
``Straße.qvw`` and ``STRASSE.qvw`` are two documents), '\\' counts as '/', and surrounding blanks are
ignored: ``document_key`` is the one function that makes that comparison key, for the store, the
decision cache and every lookup.

A file in the root folder is served only when that name finds it and nothing else, and when it fits
the store: ``sort_out_documents`` sets aside, with the reason, every document file that cannot be.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from calkeeper.core.comparison import character_problem, comparison_key
from calkeeper.core.errors import UnknownDocument

DOCUMENT_SUFFIXES = frozenset({".qvw", ".qvf"})
DOCUMENT_PATH_MAX = 1000  # characters of a document's path, and of its comparison key


def document_key(name: str) -> str:
    """The comparison key of a document name: trimmed, '/' between folders, compared as Windows (NTFS)
    compares file names: NFC, then simple upper-casing (``calkeeper.core.comparison``)."""
    return comparison_key(name.strip().replace("\\", "/"))


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What the allocation order needs to know about a document."""

    id: int
    path: str
    allow_dynamic_assignment: bool
    cals_allocated: int
    missing: bool


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """A document the site knows, with its settings and how many Document CALs it holds now."""

    id: int
    path: str
    cals_allocated: int
    cals_assigned: int
    allow_dynamic_assignment: bool
    missing_since: datetime | None

    @property
    def key(self) -> str:
        return document_key(self.path)

    @property
    def info(self) -> DocumentInfo:
        """The part of the record the allocation order uses."""
        return DocumentInfo(self.id, self.path, self.allow_dynamic_assignment, self.cals_allocated,
                            self.missing_since is not None)


D = TypeVar("D", DocumentInfo, DocumentRecord)


def match_document(documents: Sequence[D], name: str, *, list_known: bool = True) -> D:
    """Find a document by its path; the extension and the folders may be left out when that is unambiguous.

    Raises UnknownDocument when nothing matches, or when several documents do; the message names the
    documents only for an admin's eyes (``list_known=False`` for the access gate).
    """
    wanted: str = document_key(name)
    names: set[str] = {wanted, *(wanted + comparison_key(suffix) for suffix in DOCUMENT_SUFFIXES)}
    keyed = [(document_key(d.path), d) for d in documents]
    # the full path; then the path without its extension; then the file name alone, with or without it
    for hits in (
        [d for k, d in keyed if k == wanted],
        [d for k, d in keyed if k.rsplit(".", 1)[0] == wanted],
        [d for k, d in keyed if k.rsplit("/", 1)[-1] in names],
    ):
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            which = f" ({', '.join(d.path for d in hits)})" if list_known else ""
            raise UnknownDocument(f"'{name.strip()}' matches several documents{which}; give the full path")
    unknown = f"unknown document '{name.strip()}': it is not in the root folder"
    if not list_known:
        raise UnknownDocument(unknown)
    raise UnknownDocument(f"{unknown} (documents: {', '.join(d.path for d in documents) or 'none'})")


def is_document_file(name: str) -> bool:
    """True for a file name the server offers as a document (.qvw, .qvf; hidden files are not)."""
    lowered = name.casefold()
    return not name.startswith(".") and any(lowered.endswith(s) for s in DOCUMENT_SUFFIXES)


def document_path_problem(path: str) -> str | None:
    """Say why a path is not one the root folder's scan gives, or return None when it is.

    The scan names a document by its path under the root folder: relative, '/' between folders, no
    '.' or '..' folder, no control characters, ending in a document file's name.
    """
    if not path.strip():
        return "the path is empty"
    if path.startswith("/") or (path[:1].isalpha() and path[1:3] == ":/"):  # /srv/x.qvw, C:/x.qvw
        return "it is an absolute path; a document is named by its path under the root folder"
    if "\\" in path:
        return "it holds a '\\'; folders in a document's path are separated by '/'"
    if any(ch < " " or ch == "\x7f" for ch in path):
        return "it holds control characters"
    parts = path.split("/")
    if any(part in {"", ".", ".."} for part in parts):
        return "it has an empty, '.' or '..' folder; a document's path stays under the root folder"
    if not is_document_file(parts[-1]):
        return "it does not name a document file (.qvw or .qvf, not hidden)"
    return None


def mount_name_problem(name: str) -> str | None:
    """Say why a name cannot name a mounted folder (a branch of the document tree), or return None."""
    if not name or name != name.strip():
        return "a mounted folder's name is not empty and has no blanks around it"
    if name in {".", ".."} or any(ch in name for ch in "/\\:;="):
        return "a mounted folder's name is one folder name: no '/', '\\', ':', ';' or '=', and not '.' or '..'"
    if problem := character_problem(name):
        return problem
    return None


def documents_changed(on_disk: Iterable[str], known: Sequence[DocumentRecord]) -> bool:
    """True when the root folder and the documents the site knows disagree (added, gone or returned)."""
    keys = {document_key(p) for p in on_disk}
    return keys != {d.key for d in known} or any((d.missing_since is None) != (d.key in keys) for d in known)


@dataclass(frozen=True, slots=True)
class DocumentProblem:
    """A document file in the root folder that cannot be served, and why, in the admin's words.

    ``path`` is as it can be shown: bytes that are not UTF-8 and control characters are escaped.
    """

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class RootFolderContents:
    """The document files of the root folder: those served, and those set aside with the reason."""

    served: list[str]
    problems: list[DocumentProblem]


# Undecodable bytes of a file name come as lone surrogates; line breaks and other control characters
# cannot be typed, shown or stored safely.
_UNSHOWABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


def looks_like_document_file(name: str) -> bool:
    """True for a file name that is, or would be but for blanks around it, a document's."""
    return is_document_file(name.strip())


def shown_path(path: str) -> str:
    """A path as it can be shown and stored: undecodable bytes as \\xNN, control characters as \\xNN or \\uNNNN."""
    shown = []
    for ch in path:
        if unicodedata.category(ch) not in _UNSHOWABLE:
            shown.append(ch)
        elif "\udc80" <= ch <= "\udcff":  # a byte that is not UTF-8, as the file system gave it
            shown.append(f"\\x{ord(ch) - 0xDC00:02x}")
        else:
            shown.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    return "".join(shown)


def serving_problem(path: str) -> str | None:
    """Why a document file the scan found (its path under the root folder) cannot be served, or None."""
    if any("\ud800" <= ch <= "\udfff" for ch in path):
        return "its name is not valid UTF-8 text (the bytes that are not are shown as \\xNN); rename it"
    if any(unicodedata.category(ch) in _UNSHOWABLE for ch in path):
        return "its name holds a control character or a line break (shown as \\xNN); rename it"
    if "\\" in path:
        return "its name holds a backslash, which calkeeper reads as a folder separator; rename it"
    if any(part != part.strip() for part in path.split("/")):
        return "a folder or file name in its path begins or ends with a blank, which typed names lose; rename it"
    longest = max(len(path), len(document_key(path)))
    if longest > DOCUMENT_PATH_MAX:
        return f"its path has {longest} characters; at most {DOCUMENT_PATH_MAX} are allowed"
    return None


def sort_out_documents(on_disk: Iterable[str], *, known: Iterable[str] = ()) -> RootFolderContents:
    """Split the root folder's document files into those served and those that cannot be, with why.

    Files whose paths differ only in case (or in Unicode form, NFC or not) share one comparison key: the
    one the site already knows is served (else the first in path order), and the others are reported,
    so that opening it never changes which file it is.
    """
    known_paths = set(known)
    problems: list[DocumentProblem] = []
    by_key: dict[str, list[str]] = {}
    for path in sorted(set(on_disk)):
        problem = serving_problem(path)
        if problem is not None:
            problems.append(DocumentProblem(shown_path(path), problem))
        else:
            by_key.setdefault(document_key(path), []).append(path)
    served = []
    for paths in by_key.values():
        chosen = next((p for p in paths if p in known_paths), paths[0])
        served.append(chosen)
        problems.extend(
            DocumentProblem(p, f"it differs only in case or Unicode form from {chosen}, which is served; "
                               "rename or remove one of them")
            for p in paths if p != chosen
        )
    return RootFolderContents(sorted(served), sorted(problems, key=lambda p: p.path))
