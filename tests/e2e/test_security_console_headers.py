"""In a real Chromium: the console and the API's docs page work under their Content-Security-Policy, and
load nothing from anywhere but the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import (
    Console,
    console_page,
    demo_template,
    shoot,
    signed_in,
)

PAGES = ["/license", "/cals", "/cals/assigned", "/leases", "/documents", "/users", "/audit", "/maintenance/clear",
         "/console-users"]
WATCH = """() => {
  window.violations = [];
  document.addEventListener("securitypolicyviolation",
    (event) => window.violations.push(`${event.violatedDirective} ${event.blockedURI}`));
}"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_template(tmp_path_factory.mktemp("console-demo"))


@pytest.fixture
def page(browser: Browser, console: Console) -> Iterator[Page]:
    with console_page(browser) as opened:
        opened.add_init_script(f"({WATCH})()")
        elsewhere: list[str] = []
        origin = urlsplit(console.url).netloc
        opened.on("request", lambda request: elsewhere.append(request.url)
                  if urlsplit(request.url).netloc not in (origin, "") else None)
        opened.elsewhere = elsewhere  # type: ignore[attr-defined]
        yield opened


def violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("window.violations")
    return found


def test_every_console_page_works_under_its_policy_and_loads_only_from_the_server(page: Page, console: Console) -> None:
    signed_in(page, console, "admin")
    chart = page.get_by_role("img", name="Line chart of grants per hour")
    expect(chart).to_be_visible()
    assert page.evaluate("document.querySelector('main img').naturalWidth") > 0, "the chart did not load"
    named_bar = page.locator(".pool .bar span").first
    assert named_bar.bounding_box()["width"] > 0, "the pool bar is not filled"  # type: ignore[index]
    shoot(page, "dashboard-under-csp")
    assert violations(page) == []
    for path in PAGES:
        page.goto(console.url + path)
        assert violations(page) == [], path
    assert page.elsewhere == []  # type: ignore[attr-defined]


def test_the_api_docs_page_renders_swagger_ui_from_the_server_for_a_signed_in_user(
    page: Page, console: Console,
) -> None:
    signed_in(page, console, "viewer")
    page.goto(console.url + "/api/docs")
    access = page.get_by_text("/api/v1/access", exact=True).first
    expect(access).to_be_visible(timeout=15000)
    access.click()  # the operation opens: its parameters, body schema and example answers
    expect(page.get_by_text("Example Value").first).to_be_visible()
    page.get_by_role("button", name="Authorize").first.click()
    expect(page.get_by_text("Available authorizations")).to_be_visible()
    shoot(page, "api-docs-under-csp")
    assert violations(page) == []
    assert page.elsewhere == []  # type: ignore[attr-defined]
