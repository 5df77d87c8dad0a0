"""How the CLI shows results (tables or ``--json``) and turns errors into exit codes.

Exit codes: 0 done, 1 refused by a rule (with the reason), 2 bad usage or bad input; the code of
each error is in ``calkeeper.core.error_codes``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from calkeeper.contract.views import to_json
from calkeeper.core.error_codes import EXIT_REFUSED, exit_code_of
from calkeeper.core.errors import CalkeeperError

PIPED_WIDTH = 10_000
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def emit_json(value: Any) -> None:
    sys.stdout.write(json.dumps(to_json(value), indent=2, sort_keys=False) + "\n")


def when(moment: datetime | None, *, now: datetime | None = None) -> str:
    """A UTC time with how long ago (or from now) it is."""
    if moment is None:
        return "-"
    now = now or datetime.now(UTC)
    text = moment.strftime("%Y-%m-%d %H:%M UTC")
    delta = now - moment
    seconds = abs(delta.total_seconds())
    if seconds < 60:
        span = "just now"
        return f"{text} ({span})"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            span = f"{int(seconds // size)} {unit}"
            break
    return f"{text} ({span} ago)" if delta.total_seconds() > 0 else f"{text} (in {span})"


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    grid = Table(title=title, title_justify="left", header_style="bold")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("-" if v is None else escape(str(v)) for v in row))
    # On a terminal a table fits its width; into a file or a pipe it is never cut, whatever COLUMNS says.
    (out if out.is_terminal else Console(highlight=False, soft_wrap=True, width=PIPED_WIDTH)).print(grid)


def fail(message: str, code: int = EXIT_REFUSED) -> None:
    err.print(f"[bold red]error:[/] {escape(message)}", markup=True)
    raise typer.Exit(code)


@contextmanager
def reporting(as_json: bool = False) -> Iterator[None]:
    """Turn calkeeper errors into a message on stderr (or JSON on stdout) and an exit code."""
    try:
        yield
    except CalkeeperError as error:
        if as_json:
            emit_json({"error": {"code": error.code, "message": error.message, "details": error.details}})
        else:
            err.print(f"[bold red]error[/] ({error.code}): {escape(error.message)}", markup=True, highlight=False)
        raise typer.Exit(exit_code_of(error)) from None


def print_lines(lines: Iterable[str]) -> None:
    """Print one line each."""
    for line in lines:
        out.print(line)


def show(value: Any, as_json: bool, render: Callable[[], object]) -> None:
    if as_json:
        emit_json(value)
    else:
        render()
