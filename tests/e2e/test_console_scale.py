"""The console at a large site's size, in a real Chromium: 10,000 Named CALs and a document with 10,000 holders.

Bulk work reports every outcome, lists are paged, filtered and sorted on the server, and what cannot be undone
is confirmed first. The site is the demo site grown by bulk SQL (``bench.console_seed``), copied for each test.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from bench.console_seed import SCALE_DOCUMENT, Seeded, document_holder
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import (
    NARROW,
    VIEWPORT,
    Console,
    flash,
    page_overflow,
    row_of,
    shoot,
    signed_in,
    snapshot,
)
from tests.e2e.scale_site import HOLDERS, NAMED, scale_template


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return scale_template(tmp_path_factory.mktemp("console-scale"))


@pytest.fixture(scope="module")
def seeded() -> Seeded:
    return Seeded(NAMED, HOLDERS, NAMED // 100, NAMED // 5, NAMED // 3)


def post(page: Page, click: object) -> int:
    with page.expect_navigation() as landed:
        click()  # type: ignore[operator]
    response = landed.value
    assert response is not None
    return response.status


# --- bulk work reports every outcome ------------------------------------------------------------------

def test_manage_users_with_120_names_reports_the_total_first_then_every_users_outcome(
        admin: Page, console: Console) -> None:
    names = [f"ACME\\new{n:03d}" for n in range(118)] + ["ACME\\alice", "ACME\\bob"]
    typed = "\n".join(", ".join(names[i:i + 4]) for i in range(0, len(names), 4))  # lines of comma lists
    admin.goto(f"{console.url}/cals/assigned?manage=1")
    dialog = admin.get_by_role("dialog", name="Manage users")
    dialog.get_by_label("Or type users").fill(typed)
    post(admin, dialog.get_by_role("button", name="OK").click)
    report = admin.locator("main > .flash")
    expect(report.locator(".total")).to_have_text("118 assigned, 2 already assigned.")
    expect(report.locator("li")).to_have_count(120)
    expect(report.locator("li").first).to_have_text("ACME\\new000: assigned.")
    expect(report).to_contain_text("ACME\\bob: already assigned.")
    shoot(admin, "scale-manage-users-report")
    admin.reload()  # shown once, then gone
    expect(admin.locator("main > .flash")).to_have_count(0)


def test_apply_on_40_rows_reports_each_removal_after_the_total(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned?q=SCALE%5Cuser000&sort=user")
    boxes = admin.locator("input[name='remove[]']")
    for index in range(40):
        boxes.nth(index).check()
    post(admin, admin.get_by_role("button", name="Apply", exact=True).click)
    report = admin.locator("main > .flash")
    expect(report.locator(".total")).to_have_text(re.compile(r"^\d+ quarantined, \d+ freed\.$"))
    expect(report.locator("li")).to_have_count(40)
    expect(report.locator("li", has_text="freed at once")).not_to_have_count(0)
    expect(report.locator("li", has_text="quarantined until")).not_to_have_count(0)


# --- Assigned CALs at scale ---------------------------------------------------------------------------

def test_assigned_cals_filter_by_source_quarantine_and_days_unused(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned")
    expect(admin.get_by_role("navigation", name="Pages of Assigned CALs")).to_contain_text("1–50 of 10,002 CALs")
    admin.get_by_label("Source").select_option("dynamic")
    admin.get_by_label("Quarantine", exact=True).select_option("quarantined")
    admin.get_by_role("button", name="Show").click()
    expect(admin.get_by_role("navigation", name="Pages of Assigned CALs")).to_contain_text("1–50 of 100 CALs")
    admin.get_by_label("Quarantine", exact=True).select_option("")
    admin.get_by_label("Not used for (days)").fill("30")
    admin.get_by_role("button", name="Show").click()
    expect(admin.get_by_role("navigation", name="Pages of Assigned CALs")).to_contain_text("of 666 CALs")
    for cell in admin.locator("tbody tr td:nth-child(2)").all_inner_texts():
        assert cell == "dynamic"
    shoot(admin, "scale-assigned-filtered")


def test_assigned_cals_sort_by_a_column_header_and_page_by_number_or_jump(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned")
    admin.get_by_role("link", name="Last used (UTC)").click()
    expect(admin.get_by_role("columnheader", name="Last used (UTC)")).to_have_attribute("aria-sort", "ascending")
    assert "sort=last_used" in admin.url
    admin.get_by_role("link", name="Last used (UTC)").click()
    expect(admin.get_by_role("columnheader", name="Last used (UTC)")).to_have_attribute("aria-sort", "descending")
    pager = admin.get_by_role("navigation", name="Pages of Assigned CALs")
    pager.get_by_role("link", name="Page 201").click()
    expect(pager.locator("a[aria-current=page]")).to_have_text("201")
    pager = admin.get_by_role("navigation", name="Pages of Assigned CALs")
    pager.get_by_label("Page", exact=True).fill("150")
    pager.get_by_role("button", name="Go").click()
    expect(admin.get_by_role("navigation", name="Pages of Assigned CALs")).to_contain_text("7,451–7,500 of 10,002")
    assert "sort=-last_used" in admin.url
    admin.goto(f"{console.url}/cals/assigned?page=9999")  # past the end: the last page
    expect(admin.get_by_role("navigation", name="Pages of Assigned CALs")).to_contain_text("10,001–10,002 of 10,002")
    shoot(admin, "scale-assigned-last-page")


def test_apply_keeps_the_page_the_search_and_the_sort(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned?q=user0&sort=-user&page=3")
    first = admin.locator("tbody tr").first.locator("td.name").inner_text()
    admin.locator("input[name='remove[]']").first.check()
    post(admin, admin.get_by_role("button", name="Apply", exact=True).click)
    assert flash(admin).startswith(first)
    for part in ("q=user0", "sort=-user", "page=3"):
        assert part in admin.url
    expect(admin.get_by_label("Search users")).to_have_value("user0")


def test_select_all_on_the_page_and_all_matching_this_search_after_a_confirmation(
        admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned?q=user0990")
    admin.get_by_label("Select all on this page").check()
    expect(admin.locator("input[name='remove[]']:checked")).to_have_count(9)  # user09901..09909; 09900 quarantined
    admin.goto(f"{console.url}/cals/assigned?q=user099&state=active")
    admin.get_by_label(re.compile("Remove all 99 CALs matching this search")).check()
    post(admin, admin.get_by_role("button", name="Apply", exact=True).click)
    expect(admin.get_by_role("heading", name="Remove 99 Named CALs?")).to_be_visible()
    expect(admin.locator("main")).to_contain_text("matching “user099”, not in quarantine")
    shoot(admin, "scale-confirm-all-matching")
    post(admin, admin.get_by_role("button", name="Remove 99 Named CALs").click)
    expect(admin.locator("main > .flash li")).to_have_count(99)
    assert "q=user099" in admin.url
    assert console.site.app.named_cals.list_named_cals(search="user099", quarantined=False).total == 0


def test_a_pasted_list_of_2000_names_is_assigned_and_reported_whole(admin: Page, console: Console) -> None:
    names = "\n".join(f"PASTE\\user{n:04d}" for n in range(2000))
    admin.goto(f"{console.url}/cals/assigned?manage=1")
    dialog = admin.get_by_role("dialog", name="Manage users")
    dialog.get_by_label("Or type users").evaluate("(box, names) => { box.value = names; }", names)  # a paste
    post(admin, dialog.get_by_role("button", name="OK").click)
    expect(admin.locator("main > .flash .total")).to_have_text("2,000 assigned.")
    expect(admin.locator("main > .flash li")).to_have_count(2000)
    assert console.site.app.named_cals.list_named_cals(search="PASTE\\").total == 2000


def test_searching_in_manage_users_keeps_the_names_already_typed(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned")
    admin.get_by_role("link", name="Manage users…").click()
    dialog = admin.get_by_role("dialog", name="Manage users")
    dialog.get_by_label("Or type users").fill("ACME\\dave, ACME\\erin")
    dialog.get_by_label("Search for users and groups").fill("rep")
    dialog.get_by_label("Search for users and groups").press("Enter")
    dialog = admin.get_by_role("dialog", name="Manage users")
    expect(dialog.get_by_label("Or type users")).to_have_value("ACME\\dave, ACME\\erin")
    dialog.get_by_label("ACME\\rep2").check()
    post(admin, dialog.get_by_role("button", name="OK").click)
    expect(admin.locator("main > .flash .total")).to_have_text("3 assigned.")


# --- Document CALs at scale ---------------------------------------------------------------------------

def test_a_documents_10000_holders_are_paged_and_searchable(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/documents?doc={SCALE_DOCUMENT}")
    pager = admin.get_by_role("navigation", name="Pages of assigned users")
    expect(pager).to_contain_text("1–50 of 10,002 assigned users")
    expect(admin.locator("#holder-rows tr")).to_have_count(50)
    pager.get_by_role("link", name="Page 201").click()
    expect(admin.locator("#holder-rows tr")).to_have_count(2)
    admin.get_by_label("Search assigned users").fill("rep0999")
    admin.get_by_label("Search assigned users").press("Enter")
    expect(admin.locator("#holder-rows tr")).to_have_count(10)
    expect(row_of(admin, document_holder(9995))).to_be_visible()
    shoot(admin, "scale-documents-search")


def test_one_apply_takes_the_allocation_and_every_staged_change_on_the_page(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/documents?doc={SCALE_DOCUMENT}&q=rep0999&page=1")
    allocation = admin.get_by_label("Number of CALs allocated to this Document")
    allocation.fill("10100")
    for n in (9991, 9992):
        row_of(admin, document_holder(n)).get_by_label("remove").check()
    expect(admin.get_by_role("button", name="Apply", exact=True)).to_have_count(1)
    post(admin, admin.get_by_role("button", name="Apply", exact=True).click)
    message = flash(admin)
    assert message.startswith(f"{SCALE_DOCUMENT}: 10,100 Document CALs allocated.\nStaged changes: ")
    assert f"{document_holder(9991)} for {SCALE_DOCUMENT}: " in message
    assert f"{document_holder(9992)} for {SCALE_DOCUMENT}: " in message
    assert "q=rep0999" in admin.url
    view = console.site.document(SCALE_DOCUMENT)
    assert view.cals_allocated == 10_100
    page = console.site.app.document_cals.document_cal_page(SCALE_DOCUMENT, search="rep0999")
    assert {c.user for c in page.items} >= {document_holder(9993)}


def test_releasing_a_missing_documents_cals_says_what_will_happen_first(admin: Page, console: Console) -> None:
    (console.settings.documents / "AR Analytix.qvw").unlink()
    console.site.scan_documents()
    admin.goto(f"{console.url}/documents?doc=AR%20Analytix.qvw")
    post(admin, admin.get_by_role("button", name="Release its CALs…").click)
    expect(admin.get_by_role("heading", name="Release the Document CALs of AR Analytix.qvw?")).to_be_visible()
    expect(admin.locator("main")).to_contain_text("Its 1 Document CALs are released")
    expect(admin.locator("main")).to_contain_text("This cannot be undone.")
    shoot(admin, "confirm-release-missing")
    assert "AR Analytix.qvw" in {d.path for d in console.site.list_documents()}
    post(admin, admin.get_by_role("button", name="Release 1 Document CALs").click)
    assert flash(admin) == "AR Analytix.qvw: 1 Document CALs released; the document is forgotten."


# --- safety nets --------------------------------------------------------------------------------------

def test_a_lef_that_leaves_cals_in_excess_is_confirmed_with_the_counts_before_and_after(
        admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/license")
    admin.get_by_label("License Enabler File").fill(console.sign_lef(named=9_000, document=20_000))
    post(admin, admin.get_by_role("button", name="Apply license").click)
    expect(admin.get_by_role("heading", name="Apply a license that leaves CALs in excess?")).to_be_visible()
    row = admin.get_by_role("row", name="Named User CALs")
    expect(row).to_contain_text("15,000")  # in license now
    expect(row).to_contain_text("9,000")
    expect(row).to_contain_text("1,002")  # the excess after
    shoot(admin, "confirm-lef-excess")
    license = console.site.license()
    assert license is not None and license.cals["named"] == 15_000
    post(admin, admin.get_by_role("button", name="Apply the license anyway").click)
    assert flash(admin).startswith("License 4600123456789012 applied: 9000 Named")
    admin.goto(f"{console.url}/cals/assigned")
    expect(admin.get_by_role("heading", name=re.compile("Named User CALs"))).to_contain_text("1,002 excess")


def test_switching_the_identification_mode_says_how_many_cals_stay(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals")
    admin.get_by_label("Identify Named CALs by").select_option("machine")
    post(admin, admin.get_by_role("button", name="Apply").click)
    expect(admin.get_by_role("heading", name="Identify Named CALs by machine name?")).to_be_visible()
    expect(admin.locator("main")).to_contain_text("The 10,002 Named CALs assigned to user names stay assigned")
    assert console.site.cal_overview().settings.identification_mode == "user"
    post(admin, admin.get_by_role("button", name="Identify by machine name").click)
    assert "identification by machine name" in flash(admin)
    assert console.site.cal_overview().settings.identification_mode == "machine"


# --- pages that say what they hold --------------------------------------------------------------------

def test_the_dashboard_gives_counts_with_thousands_separators_and_links_to_the_whole_lists(
        admin: Page, console: Console) -> None:
    expect(admin.locator(".pool").first).to_contain_text("10,002 of 15,000")
    expect(admin.get_by_role("heading", name=re.compile("Quarantined CALs"))).to_contain_text("(20 of 100,")
    admin.get_by_role("link", name="All quarantined Named CALs").click()
    expect(admin.get_by_role("navigation", name="Pages of Assigned CALs")).to_contain_text("of 100 CALs")
    shoot(admin, "scale-dashboard-linked-list")


def test_users_are_paged_and_searchable_beyond_100(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/users?q=SCALE")
    pager = admin.get_by_role("navigation", name="Pages of users")
    expect(pager).to_contain_text("1–50 of 20,000 users")
    pager.get_by_role("link", name="Page 400").click()
    expect(admin.locator("ul.names li").last).to_have_text("SCALE\\user10000")
    admin.goto(f"{console.url}/users?name=no%20domain")
    expect(admin.get_by_label("or open one by name")).to_be_focused()
    expect(admin.get_by_label("or open one by name")).to_have_accessible_description(re.compile("."))


def test_the_audit_trail_filters_by_action_document_and_dates_and_pages(admin: Page, console: Console) -> None:
    names = ";".join(f"AUDIT\\user{n:03d}" for n in range(120))
    console.site.assign_named_cals(names, actor="console:admin")
    console.site.remove_document_cals("AR Analytix.qvw", "ACME\\carol", actor="console:admin")
    admin.goto(f"{console.url}/audit")
    admin.get_by_label("Action").select_option("named_cal.assigned")
    admin.get_by_role("button", name="Filter").click()
    pager = admin.get_by_role("navigation", name="Pages of the audit trail")
    expect(pager).to_contain_text(re.compile(r"1–50 of 1\d\d entries"))
    pager.get_by_role("link", name="Page 3").click()
    expect(admin.locator("tbody tr").first).to_contain_text("named_cal.assigned")
    admin.goto(f"{console.url}/audit?document=AR%20Analytix.qvw")
    expect(admin.locator("tbody")).to_contain_text("document_cal.freed")
    expect(admin.locator("tbody")).not_to_contain_text("None")
    expect(admin.locator("tbody time").first).to_have_attribute("title", re.compile(r"UTC$"))
    admin.goto(f"{console.url}/audit?since=2001-01-01&until=2001-12-31")
    expect(admin.locator("tbody")).to_contain_text("Nothing recorded matches the filters.")
    shoot(admin, "scale-audit-filtered")


def test_errors_are_console_pages_with_a_way_back_and_the_api_still_answers_json(
        admin: Page, console: Console) -> None:
    answer = admin.goto(f"{console.url}/no-such-page")
    assert answer is not None and answer.status == 404
    expect(admin.get_by_role("heading", name="There is no such page")).to_be_visible()
    admin.get_by_role("link", name="Go to the dashboard").click()
    expect(admin.get_by_role("heading", name="Dashboard")).to_be_visible()
    admin.goto(f"{console.url}/cals/assigned")
    admin.goto(f"{console.url}/cals/assigned?page=abc")
    expect(admin.get_by_role("heading", name="The address is not one this page understands")).to_be_visible()
    expect(admin.get_by_role("link", name="Back to the page you were on")).to_have_attribute("href", "/cals/assigned")
    shoot(admin, "error-bad-page-number")
    api = admin.request.get(f"{console.url}/api/v1/no-such-thing")
    assert api.status in (401, 404) and api.headers["content-type"].startswith("application/json")


# --- the dashboard chart on any screen ----------------------------------------------------------------

# The chart is an image (it runs nothing, and the pages' policy refuses its inline style): to measure its text, the
# same SVG the image shows is drawn in the page at the image's rendered size, and its labels measured there.
CHART_LABELS = """async (img) => {
  const box = img.getBoundingClientRect();
  const svg = new DOMParser().parseFromString(await (await fetch(img.currentSrc)).text(), 'image/svg+xml');
  const drawn = document.importNode(svg.documentElement, true);
  drawn.setAttribute('width', box.width);
  drawn.setAttribute('height', box.height);
  document.body.append(drawn);
  const labels = [...drawn.querySelectorAll('.axis text, .legends text')].filter((t) => t.textContent.trim());
  const heights = labels.map((t) => t.getBoundingClientRect().height);
  drawn.remove();
  return {width: box.width, natural: img.naturalWidth, labels: labels.length, smallest: Math.min(...heights)};
}"""


@pytest.mark.parametrize("size", [VIEWPORT, NARROW], ids=["1280x720", "390x844"])
def test_the_dashboard_charts_labels_keep_a_readable_size_on_a_phone_and_a_wide_screen(
        browser: Browser, console: Console, size: dict[str, int]) -> None:
    for user in ("ACME\\alice", "ACME\\bob"):
        console.site.open_document(user, "SalesFlash.qvw", machine="PC-1")
    context = browser.new_context(viewport=size, bypass_csp=True)  # type: ignore[arg-type]
    try:
        page = signed_in(context.new_page(), console, "admin")
        chart = page.get_by_role("img", name=re.compile("Line chart of grants per hour"))
        expect(chart).to_be_visible()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
        measured = chart.evaluate(CHART_LABELS)
        assert measured["labels"] >= 6, measured
        assert measured["smallest"] >= 11, measured  # CSS pixels: the 11 px labels are never scaled down
        assert measured["width"] <= size["width"], measured
        assert page_overflow(page) == 0  # a wide chart scrolls inside its card, never the page
        expect(page.get_by_text(re.compile(r"The numbers \(\d+ hours? with grants\)"))).to_be_visible()
        snapshot(page, "dashboard-chart")
    finally:
        context.close()


# --- a usage report's chart on any screen -------------------------------------------------------------

@pytest.mark.parametrize("by", ["type", "user"], ids=["lines-by-type", "bars-by-user"])
@pytest.mark.parametrize("size", [VIEWPORT, NARROW], ids=["1280x720", "390x844"])
def test_a_usage_reports_chart_keeps_its_labels_readable_in_half_a_wide_screen_and_on_a_phone(
        browser: Browser, console: Console, size: dict[str, int], by: str) -> None:
    for user in ("ACME\\alice", "ACME\\bob"):
        console.site.open_document(user, "SalesFlash.qvw", machine="PC-1")
    context = browser.new_context(viewport=size, bypass_csp=True)  # type: ignore[arg-type]
    try:
        page = signed_in(context.new_page(), console, "admin")
        page.goto(f"{console.url}/reports?report=usage&by={by}&days=30")
        chart = page.get_by_role("img", name=re.compile(f"Chart of the usage report by {by}"))
        expect(chart).to_be_visible()
        page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=chart.element_handle())
        measured = chart.evaluate(CHART_LABELS)
        assert measured["labels"] >= 3, measured
        assert measured["smallest"] >= 11, measured  # CSS pixels: the 11 px labels are never scaled down
        card = page.locator("section.chart").bounding_box()
        assert card is not None and measured["width"] <= card["width"], measured  # it scrolls inside its card
        assert page_overflow(page) == 0
        a_row = "ACME\\alice" if by == "user" else "named"  # the table beside the chart holds the same numbers
        expect(page.get_by_role("cell", name=a_row, exact=True).first).to_be_visible()
        snapshot(page, f"reports-chart-by-{by}")
    finally:
        context.close()
