"""The operations pages in a real browser: in use now (ending a session), reports with their charts and
tables, exports, reclaim with its one Apply, alerts."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page

from tests.e2e.browser import (
    Console,
    demo_template,
)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_template(tmp_path_factory.mktemp("operations-demo"))


def test_an_admin_ends_a_session_from_the_in_use_page(admin: Page, console: Console) -> None:
    grant = console.site.open_document("ACME\\rep1", "SalesFlash.qvw", machine="PC-17")
    admin.goto(console.url + "/sessions")
    assert "PC-17" in admin.inner_text("table")
    with admin.expect_navigation():
        admin.click(f"button[aria-label='End session {grant.session_id}']")
    assert "No session is in use" in admin.inner_text("table")
    assert "ended by an administrator" in console.site.touch_session(grant.session_id).reason


def test_each_report_draws_a_chart_beside_its_table_even_on_an_empty_history(admin: Page, console: Console) -> None:
    for query in ("report=usage&by=type&days=30", "report=denials&by=reason&days=90", "report=peaks&days=365",
                  "report=usage&by=user&days=30"):
        admin.goto(f"{console.url}/reports?{query}")
        chart = admin.locator("img[alt^='Chart of the']")
        assert chart.evaluate("img => img.complete && img.naturalWidth > 0"), query
        assert admin.locator("#table-h").is_visible()


def test_reclaim_lists_candidates_and_applies_them_at_once(admin: Page, console: Console) -> None:
    admin.goto(console.url + "/reclaim?days=1")
    admin.goto(console.url + "/exports")
    assert admin.locator("a[href$='/exports/named-cals.csv']").count() == 1
    admin.goto(console.url + "/alerts")
    assert "No alert has been raised" in admin.inner_text("main") or "raised" in admin.inner_text("main")
