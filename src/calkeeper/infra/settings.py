"""What the CAL server's and the license authority's settings share: the default data dir and the
database URLs they accept."""

from __future__ import annotations

from pathlib import Path


def default_data_dir() -> Path:
    """The data dir when none is set: ``~/.local/share/calkeeper``."""
    return Path.home() / ".local" / "share" / "calkeeper"


def known_database(value: str | None) -> str | None:
    """Accept a SQLite or PostgreSQL URL (``postgresql://`` becomes ``postgresql+psycopg://``)."""
    if value is None or value.startswith(("sqlite:///", "postgresql+psycopg://", "postgresql://")):
        return value.replace("postgresql://", "postgresql+psycopg://", 1) if value else value
    raise ValueError(
        "the database URL must start with sqlite:/// or postgresql+psycopg:// (got "
        f"'{value.split('://')[0]}://...')"
    )
