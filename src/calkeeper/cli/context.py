"""The CLI's wiring: settings from options and environment, and the site they point at."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path

import typer

from calkeeper.bootstrap import bootstrap
from calkeeper.cli.output import fail
from calkeeper.client import RemoteSite
from calkeeper.contract.operations import SiteOperations
from calkeeper.core.error_codes import EXIT_USAGE
from calkeeper.core.errors import InvalidInput
from calkeeper.settings import Settings, load_settings
from calkeeper.site import LocalSite


@dataclass
class CliContext:
    data_dir: Path | None = None
    database_url: str | None = None
    server: str | None = None  # run the commands against this CAL server's REST API
    token: str | None = field(default=None, repr=False)
    _settings: Settings | None = None
    _site: SiteOperations | None = field(default=None, repr=False)

    @property
    def remote(self) -> bool:
        return self.server is not None

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

    def site(self) -> SiteOperations:
        """The site the commands work on: the server given, or the local one the settings point at.

        A local site's database is created and migrated when new.
        """
        if self._site is None and self.server is not None:
            if not self.token:
                raise InvalidInput(f"--server {self.server} needs an API token: give --token or set CALKEEPER_TOKEN")
            self._site = RemoteSite(self.server, self.token)
        if self._site is None:
            self._site = LocalSite(bootstrap(self.settings, actor=self.actor))
        return self._site

    def require_local(self, ctx: typer.Context) -> None:
        """Stop a command that works on this machine only (serve, demo, authority) when pointed at a server."""
        if self.server is not None:
            words = ctx.command_path.split()[1:]  # the root's name may be 'python -m calkeeper.cli'
            fail(f"'calkeeper {' '.join(words)}' runs only against a local data dir (--data-dir or --db): it works "
                 f"on this machine, so it cannot run against --server {self.server} "
                 "(unset CALKEEPER_SERVER to run it here)", EXIT_USAGE)

    def close(self) -> None:
        if self._site is not None:
            self._site.close()
            self._site = None


def ctx_of(ctx: typer.Context) -> CliContext:
    obj = ctx.find_root().obj
    assert isinstance(obj, CliContext)
    return obj
