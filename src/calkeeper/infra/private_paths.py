"""Folders and files that only the server's own account may open.

A site's data folder holds its database (console password hashes, API token hashes, every user's
CALs), its backups and, for the demo and the authority, signing keys. The folders calkeeper makes are
0700 and the SQLite database with its -wal and -shm files 0600, whatever the umask of the process
that made them.
"""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

PRIVATE_FOLDER = 0o700
PRIVATE_FILE = 0o600


def private_folder(path: Path) -> Path:
    """Make the folder, and each missing parent, private (0700); a folder that exists is left as it is."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_FOLDER)
        except FileExistsError:  # another process made it meanwhile
            continue
        os.chmod(folder, PRIVATE_FOLDER)  # mkdir's mode passes through the umask
    return path


def make_private(path: Path) -> None:
    """Tighten a folder (0700) or file (0600) of calkeeper's own that earlier versions left open to every local user.

    A path that is absent, or that belongs to another account, is left as it is.
    """
    with suppress(FileNotFoundError, PermissionError):
        os.chmod(path, PRIVATE_FOLDER if path.is_dir() else PRIVATE_FILE)


def private_sqlite_files(database: Path) -> None:
    """Create the SQLite database file 0600 when it is new, and tighten it and its -wal and -shm files.

    SQLite gives the -wal and -shm files it creates the database file's mode, so a private database
    keeps them private too. A database whose folder is missing is left for SQLite to report.
    """
    if not database.parent.is_dir():
        return
    with suppress(FileExistsError):  # an empty file is a new database to SQLite
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    for path in (database, database.with_name(f"{database.name}-wal"), database.with_name(f"{database.name}-shm")):
        make_private(path)
