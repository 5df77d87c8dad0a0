"""Documents as the rules see them, and how a name an admin or an app server gives finds one.

A document is named by its path under the root folder, with '/' between folders. Names compare
case-insensitively, '\\' counts as '/', and surrounding blanks are ignored: ``document_key`` is the one
function that makes that comparison key, for the store, the decision cache and every lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from calkeeper.core.errors import UnknownDocument

DOCUMENT_SUFFIXES = frozenset({".qvw", ".qvf"})


def document_key(name: str) -> str:
    """The comparison key of a document name: trimmed, '/' between folders, case-folded."""
    return name.strip().replace("\\", "/").casefold()


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
    names: set[str] = {wanted, *(wanted + suffix for suffix in DOCUMENT_SUFFIXES)}
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


def documents_changed(on_disk: Iterable[str], known: Sequence[DocumentRecord]) -> bool:
    """True when the root folder and the documents the site knows disagree (added, gone or returned)."""
    keys = {document_key(p) for p in on_disk}
    return keys != {d.key for d in known} or any((d.missing_since is None) != (d.key in keys) for d in known)
