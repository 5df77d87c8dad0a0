"""The root folder: the document files under it, under folders linked into it, and under mounted folders.

It lists every file that looks like a document, as the file system names it; which of them can be
served is the core's rule (``calkeeper.core.documents.sort_out_documents``).

- **Symbolic links** to folders are followed, wherever they point (a link that leads out of the root
  folder is a mount made on disk). Each real folder is listed once: under its own path when it is in
  the root folder, else under the first link to it in path order; a link to a folder already listed
  (an ancestor: a loop, or a second link to one folder) is skipped. Links to files are followed too.
- **Mounted folders** (QlikView's term), configured by name, are branches of the tree: the documents
  of the folder mounted as ``Archive`` are named ``Archive/...``. A mounted folder that is missing, is
  not a folder, is already listed, or whose name is taken by an entry of the root folder is reported
  as a problem, with the reason, and its documents are not served (those already known go missing,
  their CALs kept).

Document names from app servers and admins are only ever matched against the documents found here:
no name, with '..' or absolute, reaches a file on disk.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from calkeeper.core.comparison import comparison_key
from calkeeper.core.documents import DocumentProblem, looks_like_document_file


@dataclass
class _Walk:
    found: list[str] = field(default_factory=list)
    problems: list[DocumentProblem] = field(default_factory=list)
    listed: dict[tuple[int, int], str] = field(default_factory=dict)  # (device, inode) of a folder: its path


def _identity(path: str | os.DirEntry[str]) -> tuple[int, int] | None:
    try:
        info = path.stat() if isinstance(path, os.DirEntry) else os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class RootFolder:
    """Lists the documents of a folder on disk (and of the folders mounted in it), as relative POSIX paths."""

    def __init__(self, path: Path, mounts: Mapping[str, Path] | None = None) -> None:
        self.path = path
        self.mounts = dict(mounts or {})

    def documents(self) -> list[str]:
        """Every document file under the folder (blanks around a name included), sorted; none when the folder
        does not exist. Names that are not UTF-8 come with their bytes as lone surrogates."""
        return self.scan()[0]

    def scan(self) -> tuple[list[str], list[DocumentProblem]]:
        """The document files, sorted, and the mounted folders that cannot be served, with why."""
        walk = _Walk()
        starts: list[tuple[str, str, bool]] = []  # a folder, its path in the tree, whether it is a mount
        if self.path.is_dir():
            starts.append((str(self.path), "", False))
        taken = self._root_entries()
        for name, mounted in sorted(self.mounts.items()):
            problem = self._mount_problem(name, mounted, taken)
            if problem is not None:
                walk.problems.append(DocumentProblem(f"{name}/", problem))
            else:
                starts.append((str(mounted), f"{name}/", True))
        links: list[tuple[str, str, bool]] = []
        while starts:  # the real folders first; then, round by round, the folders links lead to
            for top, prefix, is_mount in starts:
                self._walk_real(walk, top, prefix, links, mounted=is_mount)
            starts, links = sorted(links, key=lambda item: item[1]), []
        return sorted(walk.found), walk.problems

    def _root_entries(self) -> set[str]:
        try:
            with os.scandir(self.path) as entries:
                return {comparison_key(entry.name) for entry in entries}
        except OSError:
            return set()

    @staticmethod
    def _mount_problem(name: str, folder: Path, taken: set[str]) -> str | None:
        if not folder.exists():
            return f"the folder mounted as '{name}', {folder}, does not exist; its documents are not served"
        if not folder.is_dir():
            return f"the folder mounted as '{name}', {folder}, is not a folder; its documents are not served"
        if comparison_key(name) in taken:
            return (f"the root folder has an entry named '{name}', which the folder mounted under that name "
                    f"({folder}) would hide; rename one of them")
        return None

    @staticmethod
    def _walk_real(walk: _Walk, top: str, prefix: str, links: list[tuple[str, str, bool]], *, mounted: bool) -> None:
        """List a folder's documents down its real sub-folders; links to folders are queued for later, so
        that every folder is listed under its real path when it has one."""
        identity = _identity(top)
        if identity is None:
            return
        if identity in walk.listed:  # a loop, or a second way to a folder already listed
            if mounted:
                where = walk.listed[identity] or "the root folder itself"
                walk.problems.append(DocumentProblem(prefix, f"the folder mounted as '{prefix.rstrip('/')}' is "
                                                             f"already listed, as '{where}'; it is not served twice"))
            return
        walk.listed[identity] = prefix.rstrip("/")
        pending = [(top, prefix)]
        while pending:
            folder, rel = pending.pop()
            try:
                with os.scandir(folder) as scanned:
                    entries = sorted(scanned, key=lambda e: e.name)
            except OSError:
                continue  # unreadable: nothing to list in it
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        key = _identity(entry)
                        if key is not None and key not in walk.listed:
                            walk.listed[key] = rel + entry.name
                            pending.append((entry.path, f"{rel}{entry.name}/"))
                    elif entry.is_symlink() and entry.is_dir():
                        links.append((entry.path, f"{rel}{entry.name}/", False))
                    elif looks_like_document_file(entry.name) and entry.is_file():
                        walk.found.append(rel + entry.name)
                except OSError:
                    continue  # a dangling link or a file gone meanwhile
