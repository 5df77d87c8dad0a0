"""Every console page, wide (1280x720) and on a phone (390x844), on the site grown to 10,000 CALs: axe-core finds
nothing against WCAG 2.2 AA, nothing scrolls sideways, and long or right-to-left names stay in their place.
Screenshots land in build/screenshots/<width>x<height>/.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.e2e.browser import (
    AXE,
    CHROMIUM,
    NARROW,
    VIEWPORT,
    Console,
    axe_violations,
    launch_chromium,
    page_overflow,
    running_console,
    signed_in,
    snapshot,
)
from tests.e2e.scale_site import scale_template

LONG = "ACME\\" + "x" * 100  # no place to break
RTL = "ACME\\\u05d0\u05d1\u05d2\u05d3"  # a right-to-left name

PAGES = {
    "dashboard": "/",
    "license": "/license",
    "cals-general": "/cals",
    "cals-assigned": "/cals/assigned",
    "cals-assigned-filtered": "/cals/assigned?source=dynamic&state=quarantined&sort=-last_used",
    "cals-manage-users": "/cals/assigned?manage=1&find=acme",
    "documents": "/documents?doc=SalesFlash.qvw",
    "documents-page-90": "/documents?doc=SalesFlash.qvw&page=90",
    "users": "/users?q=SCALE",
    "users-alice": "/users?name=ACME%5Calice",
    "leases": "/leases",
    "directory": "/directory",
    "clear": "/maintenance/clear",
    "audit": "/audit",
    "console-users": "/console-users",
    "not-found": "/no-such-page",
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scale_template(tmp_path_factory.mktemp("console-screens"))


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists() or not AXE.exists():
        if os.environ.get("CI"):
            pytest.fail(f"the console checks need Chromium at {CHROMIUM} and axe-core at {AXE} (make system-packages)")
        pytest.skip("no Chromium or no axe-core (make system-packages); skipping the console's screen checks")
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory, template: Path) -> Iterator[Console]:
    with running_console(tmp_path_factory.mktemp("screens-site"), template=template) as running:
        running.site.assign_named_cals([LONG, RTL], actor="console:admin")
        running.site.open_document("ACME\\zed", "Contract Analytix.qvw", machine="PC-ZED")  # a denial
        yield running


def opened(browser: Browser, console: Console, size: dict[str, int], role: str = "admin") -> Page:
    context = browser.new_context(viewport=size)  # type: ignore[arg-type]
    context.set_default_timeout(15000)  # a bound on waiting (see browser.console_page)
    return signed_in(context.new_page(), console, role)


@pytest.mark.parametrize("size", [VIEWPORT, NARROW], ids=["1280x720", "390x844"])
def test_every_page_passes_axe_at_wcag_22_aa_and_never_scrolls_sideways(
        browser: Browser, console: Console, size: dict[str, int]) -> None:
    page = opened(browser, console, size)
    problems: dict[str, object] = {}
    try:
        for name, path in PAGES.items():
            page.goto(console.url + path)
            expect(page.locator("main h2")).to_be_visible()
            snapshot(page, name)
            found, overflow = axe_violations(page), page_overflow(page)
            if found or overflow:
                problems[name] = {"axe": found, "overflow": overflow}
        page.goto(f"{console.url}/cals")
        page.get_by_label("Identify Named CALs by").select_option("machine")
        page.get_by_role("button", name="Apply").click()
        expect(page.get_by_role("heading", name="Identify Named CALs by machine name?")).to_be_visible()
        snapshot(page, "confirm-mode-switch")
        if (found := axe_violations(page)) or page_overflow(page):
            problems["confirm"] = {"axe": found, "overflow": page_overflow(page)}
        page.context.clear_cookies()
        page.goto(f"{console.url}/sign-in")
        expect(page.get_by_role("heading", level=1, name="Sign in to calkeeper")).to_be_visible()
        snapshot(page, "sign-in")
        if (found := axe_violations(page)) or page_overflow(page):
            problems["sign-in"] = {"axe": found, "overflow": page_overflow(page)}
    finally:
        page.context.close()
    assert not problems, json.dumps(problems, indent=1)


def test_on_a_phone_the_sidebar_folds_into_a_menu_and_tables_scroll_inside_themselves(
        browser: Browser, console: Console) -> None:
    page = opened(browser, console, NARROW)
    try:
        page.goto(f"{console.url}/cals/assigned")
        menu = page.get_by_role("button", name="Menu")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(page.get_by_role("link", name="Server license")).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        page.get_by_role("link", name="Server license").click()
        expect(page.get_by_role("heading", name="Server license")).to_be_visible()
        page.goto(f"{console.url}/cals/assigned?q=xxxxxxxxxx")
        name = page.locator("td.name", has_text="xxxxxxxx")
        box = name.bounding_box()
        assert box is not None and box["x"] + box["width"] <= NARROW["width"] * 3  # inside the table's own scroll
        assert page_overflow(page) == 0
        snapshot(page, "cals-assigned-long-name")
    finally:
        page.context.close()


def test_a_right_to_left_name_is_isolated_from_the_text_after_it(browser: Browser, console: Console) -> None:
    page = opened(browser, console, VIEWPORT)
    try:
        page.goto(f"{console.url}/cals/assigned?q=%D7%90")
        cell = page.locator("td.name bdi").first
        expect(cell).to_have_text(RTL)
        assert cell.evaluate("(el) => getComputedStyle(el).unicodeBidi") == "isolate"
    finally:
        page.context.close()


def test_a_viewer_sees_the_read_only_notice_and_no_controls_to_change(browser: Browser, console: Console) -> None:
    page = opened(browser, console, NARROW, role="viewer")
    try:
        for path in ("/cals/assigned", "/documents?doc=SalesFlash.qvw"):
            page.goto(console.url + path)
            expect(page.get_by_role("note").filter(has_text="Read only")).to_be_visible()
            expect(page.get_by_role("button", name="Apply")).to_have_count(0)
            expect(page.get_by_role("checkbox")).to_have_count(0)
        snapshot(page, "viewer-documents")
        assert axe_violations(page) == []
    finally:
        page.context.close()
