"""The CLI's wiring: settings from options and environment, and the site they point at."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path

import typer

from calkeeper.authority.signing import load_public_keys
from calkeeper.settings import Settings, load_settings
from calkeeper.site import Site, open_site


@dataclass
class CliContext:
    data_dir: Path | None = None
    database_url: str | None = None
    _settings: Settings | None = None
    _site: Site | None = field(default=None, repr=False)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(data_dir=self.data_dir, database_url=self.database_url)
        return self._settings

    @property
    def actor(self) -> str:
        try:
            return f"cli:{getpass.getuser()}"
        except (KeyError, OSError):
            return "cli"

    def site(self) -> Site:
        """Open the site the settings point at (creating and migrating its database if new)."""
        if self._site is None:
            settings = self.settings
            if settings.database.startswith("sqlite:///"):
                Path(settings.database.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            keys_dir = settings.trusted_keys_dir
            keys = load_public_keys([keys_dir]) if keys_dir.exists() else {}
            self._site = open_site(
                settings.database, trusted_keys=keys, root_folder=settings.documents, actor=self.actor,
                cache_refresh_seconds=settings.cache_refresh_seconds,
            )
        return self._site

    def close(self) -> None:
        if self._site is not None:
            self._site.close()
            self._site = None


def ctx_of(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
