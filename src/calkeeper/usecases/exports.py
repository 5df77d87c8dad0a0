"""Every list as CSV, streamed: rows are read in batches and written as they come, so 100,000 rows take
seconds and little memory. A cell that a spreadsheet would run as a formula is written as text."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from calkeeper.core.errors import InvalidInput
from calkeeper.store.exports import EXPORTS
from calkeeper.usecases.admin import AdminTransactions

LISTS = tuple(EXPORTS)
CHUNK_ROWS = 1000
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _safe(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value


def csv_lines(columns: list[str], rows: Iterator[list[Any]] | list[list[Any]]) -> Iterator[str]:
    """CSV text in chunks of ``CHUNK_ROWS`` rows, the header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    for number, row in enumerate(rows, start=1):
        writer.writerow([_safe(v) for v in row])
        if number % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


class Exports:
    """The lists an admin downloads as CSV."""

    def __init__(self, *, admin: AdminTransactions) -> None:
        self.admin = admin

    def check(self, name: str) -> str:
        if name not in EXPORTS:
            raise InvalidInput(f"the lists that export are {', '.join(LISTS)}, not '{name}'")
        return name

    def csv(self, name: str) -> Iterator[str]:
        """The list as CSV text, streamed inside one read transaction (a consistent list)."""
        self.check(name)
        with self.admin.read() as tx:  # "last used" as of now
            yield from csv_lines(EXPORTS[name][0], tx.exports.rows(name))
