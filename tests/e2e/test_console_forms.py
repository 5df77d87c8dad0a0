"""The console's forms in a real Chromium: a refused form comes back as the admin left it, with why it was refused,
and a viewer finds no control that changes something on any page.

Each test gets its own demo site (tests/e2e/test_console.py says what it holds).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.e2e.browser import Console, console_page, demo_template, flash, row_of, signed_in

SALES = "SalesFlash.qvw"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_template(tmp_path_factory.mktemp("console-forms"))


@pytest.fixture
def viewer(browser: Browser, console: Console) -> Iterator[Page]:
    with console_page(browser) as page:
        yield signed_in(page, console, "viewer")


def submit(page: Page, click: Callable[[], None]) -> int:
    """Click something that posts a form; return the HTTP status of the page the browser lands on."""
    with page.expect_navigation() as landed:
        click()
    response = landed.value
    assert response is not None
    return response.status


# --- a refused form keeps what was typed --------------------------------------------------------------

def test_a_refused_clear_keeps_the_serial_typed_to_confirm(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/maintenance/clear")
    admin.get_by_label("Type the site's serial number").fill("4600123456789000")
    assert submit(admin, admin.get_by_role("button", name="Back up and clear all CAL data").click) == 422
    assert flash(admin) == "Nothing was cleared: type the site's serial number exactly to confirm."
    expect(admin.get_by_label("Type the site's serial number")).to_have_value("4600123456789000")
    expect(admin.get_by_label("Type the site's serial number")).to_be_focused()
    assert console.site.cal_overview().pools[0].assigned == 2


def test_a_refused_cal_settings_change_shows_what_the_admin_chose_not_what_is_stored(
        admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals")
    expect(admin.get_by_label("Allow dynamic CAL assignment")).to_be_checked()
    admin.get_by_label("Allow dynamic CAL assignment").uncheck()
    admin.get_by_label("Allow license lease").check()
    admin.get_by_label("Identify Named CALs by").evaluate(  # a value the server refuses, as a stale page may send
        "(select) => select.add(new Option('Group name', 'group'))")
    admin.get_by_label("Identify Named CALs by").select_option("group")
    assert submit(admin, admin.get_by_role("button", name="Apply").click) == 409
    assert flash(admin) == "Nothing was saved: the identification mode is 'user' or 'machine', not 'group'."
    expect(admin.get_by_label("Allow dynamic CAL assignment")).not_to_be_checked()
    expect(admin.get_by_label("Allow license lease")).to_be_checked()
    expect(admin.get_by_label("Identify Named CALs by")).to_have_value("group")
    settings = console.site.cal_overview().settings
    assert settings.allow_dynamic_assignment is True and settings.identification_mode == "user"


def test_a_refused_apply_of_assigned_cals_keeps_the_rows_marked_and_the_search(
        admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned?q=ACME&sort=-user")
    row_of(admin, "ACME\\alice").get_by_label("remove").check()
    row_of(admin, "ACME\\bob").get_by_label("remove").check()
    console.site.apply_named_changes(remove=["ACME\\bob"], restore=[], actor="console:other-admin")  # meanwhile
    assert submit(admin, admin.get_by_role("button", name="Apply", exact=True).click) == 409
    assert flash(admin).startswith("Nothing was applied: ACME\\bob holds no Named User CAL")
    expect(row_of(admin, "ACME\\alice").get_by_label("remove")).to_be_checked()
    expect(admin.get_by_label("Search users")).to_have_value("ACME")
    expect(admin.get_by_role("columnheader", name="User")).to_have_attribute("aria-sort", "descending")
    assert "ACME\\alice" in {c.user for c in console.site.list_named_cals(limit=100).items}


def test_refused_directory_forms_keep_the_group_the_cal_the_boxes_and_the_search(
        admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/directory")
    admin.get_by_label("Search for groups").fill("Sal")
    admin.get_by_label("Search for groups").press("Enter")
    expect(admin.locator("tbody").first).to_contain_text("Sales")

    give = admin.get_by_role("region", name="Give a group's members CALs")
    give.locator("#assign-group").fill("Nobody")
    give.locator("#assign-doc").select_option(SALES)
    give.get_by_label("all or nothing").check()
    assert submit(admin, give.get_by_role("button", name="Assign once").click) == 409
    assert flash(admin) == "Nothing was changed: the built-in directory has no group 'Nobody'"
    give = admin.get_by_role("region", name="Give a group's members CALs")
    expect(give.locator("#assign-group")).to_have_value("Nobody")
    expect(give.locator("#assign-group")).to_be_focused()
    expect(give.locator("#assign-doc")).to_have_value(SALES)
    expect(give.get_by_label("all or nothing")).to_be_checked()
    expect(give.locator("#rule-group")).to_have_value("Sal")  # the other form is as it was
    expect(admin.get_by_label("Search for groups")).to_have_value("Sal")

    give.locator("#rule-group").fill("Sales")
    give.locator("#rule-doc").select_option(SALES)
    submit(admin, give.get_by_role("button", name="Add group rule").click)
    assert flash(admin).startswith("Rule 1 added: the members of Sales hold a Document CAL for SalesFlash.qvw.")
    expect(admin.get_by_label("Search for groups")).to_have_value("Sal")
    give = admin.get_by_role("region", name="Give a group's members CALs")
    give.locator("#rule-group").fill("Sales")
    give.locator("#rule-doc").select_option(SALES)
    assert submit(admin, give.get_by_role("button", name="Add group rule").click) == 409
    assert "there is already a rule giving the members of 'Sales'" in flash(admin)
    give = admin.get_by_role("region", name="Give a group's members CALs")
    expect(give.locator("#rule-group")).to_have_value("Sales")
    expect(give.locator("#rule-doc")).to_have_value(SALES)
    expect(give.locator("#assign-group")).to_have_value("Sal")
    assert len(console.site.list_group_rules()) == 1


def test_ending_a_session_keeps_the_filters_of_the_in_use_list_even_when_it_had_ended(
        admin: Page, console: Console) -> None:
    grant = console.site.open_document("ACME\\rep1", SALES, machine="PC-17")
    admin.goto(f"{console.url}/sessions")
    admin.get_by_label("User, machine or document").fill("PC-17")
    admin.get_by_label("CAL type").select_option("document")
    admin.get_by_role("button", name="Filter").click()
    console.site.end_session(grant.session_id, actor="console:other-admin")  # ended elsewhere meanwhile
    submit(admin, admin.get_by_role("button", name=f"End session {grant.session_id}").click)
    assert flash(admin) == f"Session {grant.session_id}: already ended."
    expect(admin.get_by_label("User, machine or document")).to_have_value("PC-17")
    expect(admin.get_by_label("CAL type")).to_have_value("document")


# --- a viewer changes nothing -------------------------------------------------------------------------

EVERY_PAGE = ["/", "/license", "/cals", "/cals/assigned", f"/documents?doc={SALES}", "/documents?doc=AR%20Analytix.qvw",
              "/users", "/users?name=ACME%5Calice", "/directory", "/directory?group=Sales", "/audit", "/leases",
              "/sessions", "/reports", "/reclaim?days=1", "/alerts", "/exports", "/console-users",
              "/maintenance/clear"]
# A form that posts, other than signing out, is either absent or plainly disabled: it shows controls, and all of
# them are disabled. Its enabled controls are listed, or the form itself when it has none to show.
CHANGING = """() => [...document.querySelectorAll('form[method=post]')]
  .filter((form) => !form.action.endsWith('/sign-out'))
  .flatMap((form) => {
    const shown = [...form.querySelectorAll('input:not([type=hidden]), button, select, textarea')];
    const enabled = shown.filter((control) => !control.matches(':disabled')).map((control) => control.outerHTML);
    return shown.length ? enabled : [`<form action="${form.getAttribute('action')}"> with no control shown`];
  })"""


def test_a_viewer_sees_the_read_only_notice_and_no_enabled_control_that_changes_something_on_any_page(
        viewer: Page, console: Console) -> None:
    console.site.open_document("ACME\\rep1", SALES, machine="PC-17")  # a session a viewer must not end
    (console.settings.documents / "AR Analytix.qvw").unlink()  # a document a viewer must not release
    console.site.scan_documents()
    console.site.add_group_rule("Sales", actor="console:admin")  # a rule a viewer must not remove
    found: dict[str, list[str]] = {}
    for path in EVERY_PAGE:
        viewer.goto(console.url + path)
        expect(viewer.get_by_role("note").filter(has_text="Read only")).to_be_visible()
        opening = viewer.locator("main [data-open-dialog], main a.button").all_inner_texts()
        if changing := viewer.evaluate(CHANGING) + opening:
            found[path] = changing
    assert not found, found
    expect(viewer.get_by_role("button", name="Sign out viewer")).to_be_enabled()
