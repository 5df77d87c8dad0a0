"""The demo site at a large site's size, for the console's browser tests: a template data dir to copy."""

from __future__ import annotations

from pathlib import Path

from bench.console_seed import seed_at_scale

from calkeeper.settings import Settings
from tests.e2e.browser import _open as open_local_site
from tests.e2e.browser import demo_template

NAMED, HOLDERS = 10_000, 10_000


def scale_template(folder: Path) -> Path:
    """The demo site (its console users signed in once) with 10,000 Named CALs and a document of 10,000 holders."""
    demo_template(folder)
    settings = Settings(data_dir=folder)
    with open_local_site(settings) as site:
        seed_at_scale(site, settings.authority_keys_dir, named=NAMED, holders=HOLDERS)
    return folder
