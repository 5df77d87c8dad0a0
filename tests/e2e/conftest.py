"""Fixtures the browser tests share: one Chromium per test module, and a console on each module's ``template``
site (a module that needs another console or admin page defines its own)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.browser import CHROMIUM, Console, console_page, launch_chromium, running_console, signed_in


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; a missing one fails under CI and skips elsewhere."""
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail(f"the console tests need Debian's Chromium at {CHROMIUM} (make system-packages)")
        pytest.skip(f"no Chromium at {CHROMIUM} (make system-packages); skipping the console tests")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def console(tmp_path: Path, template: Path) -> Iterator[Console]:
    """The console served on a copy of the module's ``template`` site."""
    with running_console(tmp_path, template=template) as running:
        yield running


@pytest.fixture
def admin(browser: Browser, console: Console) -> Iterator[Page]:
    """A page of its own, signed in as the console's admin."""
    with console_page(browser) as page:
        yield signed_in(page, console, "admin")
