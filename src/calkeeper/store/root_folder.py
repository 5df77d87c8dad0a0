"""The root folder: the document files under it (and under folders mounted in it).

It lists every file that looks like a document, as the file system names it; which of them can be
served is the core's rule (``calkeeper.core.documents.sort_out_documents``).
"""

from __future__ import annotations

from pathlib import Path

from calkeeper.core.documents import looks_like_document_file


class RootFolder:
    """Lists the documents of a folder on disk, as relative POSIX paths."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def documents(self) -> list[str]:
        """Every document file under the folder (blanks around a name included), sorted; none when the folder
        does not exist. Names that are not UTF-8 come with their bytes as lone surrogates."""
        if not self.path.is_dir():
            return []
        found = []
        for path in self.path.rglob("*"):
            if looks_like_document_file(path.name) and path.is_file():
                found.append(path.relative_to(self.path).as_posix())
        return sorted(found)
