"""Fixtures the end-to-end tests share: a demo site made once per module (``template``), the API on a copy of
it for each test (``api``), one Chromium per test module and a console on the module's ``template`` site. A
module that needs another site, API, console or admin page defines its own."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.api_site import Api, demo_template, running_api
from tests.e2e.browser import CHROMIUM, Console, console_page, launch_chromium, running_console, signed_in


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo site, set up once per module."""
    return demo_template(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def api(tmp_path: Path, template: Path) -> Iterator[Api]:
    """The API on a copy of the module's ``template`` site, with a token of each role."""
    with running_api(tmp_path, template=template) as running:
        yield running


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
