"""The root folder: the document files under it (and under folders mounted in it)."""

from __future__ import annotations

from pathlib import Path

from calkeeper.core.documents import is_document_file


class RootFolder:
    """Lists the documents of a folder on disk, as relative POSIX paths."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def documents(self) -> list[str]:
        """Every document under the folder, sorted; none when the folder does not exist."""
        if not self.path.is_dir():
            return []
        found = []
        for path in self.path.rglob("*"):
            if is_document_file(path.name) and path.is_file():
                found.append(path.relative_to(self.path).as_posix())
        return sorted(found)
