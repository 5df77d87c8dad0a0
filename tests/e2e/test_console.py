"""The management console in a real Chromium, through the admin workflows of the QlikView guide.

Each test gets its own demo site (Named: ACME\\alice, ACME\\bob; SalesFlash.qvw: 10 allocated, ACME\\rep1 and
ACME\\rep2; AR Analytix.qvw: 5 allocated, ACME\\carol) served on a free port, and signs in as the admin or
the viewer. Full-page screenshots of the pages visited land in artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from calkeeper.core.serials import control_number
from tests.e2e.browser import (
    Console,
    console_page,
    demo_template,
    flash,
    horizontal_overflow,
    row_of,
    running_console,
    shoot,
    sign_in,
    signed_in,
    unlabelled_inputs,
)

SALES = "SalesFlash.qvw"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_template(tmp_path_factory.mktemp("console-demo"))


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with console_page(browser) as fresh:
        yield fresh


@pytest.fixture
def admin(page: Page, console: Console) -> Page:
    return signed_in(page, console, "admin")


def named_users(console: Console) -> set[str]:
    return {c.user for c in console.site.list_named_cals(limit=100).items}


def document_users(console: Console, document: str = SALES) -> set[str]:
    return {c.user for c in console.site.list_document_cals(document)}


def submit(page: Page, click: Callable[[], None]) -> int:
    """Click something that posts a form; return the HTTP status of the page the browser lands on."""
    with page.expect_navigation() as landed:
        click()
    response = landed.value
    assert response is not None
    return response.status


# --- signing in ---------------------------------------------------------------------------------------

def test_signing_in_with_a_wrong_password_is_refused_and_the_right_one_opens_the_page_asked_for(
        page: Page, console: Console) -> None:
    page.goto(f"{console.url}/license")
    assert "/sign-in?next=/license" in page.url
    sign_in(page, console, "admin", password="not-the-password")
    expect(page.get_by_role("alert")).to_have_text("The user name or the password is not right.")
    expect(page.get_by_label("Password")).to_be_focused()
    expect(page.get_by_label("User name")).to_have_value("admin")
    shoot(page, "sign-in-refused")

    page.get_by_label("Password").fill("admin-password-1")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Server license")).to_be_visible()
    assert page.url == f"{console.url}/license"

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator(".pool").first).to_contain_text("2 of 5")
    expect(page.locator("header .who")).to_have_text("admin (admin)")
    shoot(page, "dashboard")

    page.get_by_role("button", name="Sign out admin").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto(f"{console.url}/cals")
    assert "/sign-in" in page.url
    shoot(page, "sign-in")


# --- the server license -------------------------------------------------------------------------------

def test_applying_a_newly_signed_lef_shows_the_success_message_and_the_new_counts(admin: Page,
                                                                                  console: Console) -> None:
    admin.goto(f"{console.url}/license")
    lef = console.sign_lef(named=8, document=30, session=6, usage=40)
    admin.get_by_label("License Enabler File").fill(lef)
    submit(admin, admin.get_by_role("button", name="Apply license").click)
    assert flash(admin) == ("License 4600123456789012 applied: 8 Named, 30 Document, 6 Session and 40 Usage "
                            "CALs.")
    expect(admin.locator("tr", has_text="CALs").first).to_contain_text("8 Named · 30 Document · 6 Session · 40 Usage")
    history = admin.locator("section", has_text="License history").locator("tbody tr").first
    expect(history).to_contain_text("console:admin")
    expect(history).to_contain_text("named: 5 -> 8")
    shoot(admin, "license-applied")
    license = console.site.license()
    assert license is not None and license.cals["named"] == 8 and license.lef == lef


def test_a_wrong_control_number_is_refused_by_name_and_the_license_in_force_stays(admin: Page,
                                                                                   console: Console) -> None:
    admin.goto(f"{console.url}/license")
    right = control_number(console.demo.serial)
    wrong = f"{(int(right) + 1) % 100000:05d}"
    admin.get_by_label("Control number").fill(wrong)
    admin.get_by_label("License Enabler File").fill(console.sign_lef(named=9))
    submit(admin, admin.get_by_role("button", name="Apply license").click)
    message = flash(admin)
    assert "control number does not match the serial number" in message
    assert "The license in force is unchanged." in message
    expect(admin.get_by_role("alert")).to_be_visible()
    expect(admin.locator("tr", has_text="CALs").first).to_contain_text("5 Named · 20 Document")
    expect(admin.get_by_label("Control number")).to_have_value(wrong)  # as typed, to be corrected
    expect(admin.get_by_label("License Enabler File")).not_to_have_value("")
    shoot(admin, "license-wrong-control")
    license = console.site.license()
    assert license is not None and (license.control, license.cals["named"]) == (right, 5)
    assert len(console.site.license_history()) == 1


def test_update_license_from_server_without_an_authority_says_what_is_missing(admin: Page,
                                                                              console: Console) -> None:
    admin.goto(f"{console.url}/license")
    submit(admin, admin.get_by_role("button", name="Update license from server").click)
    message = flash(admin)
    assert message.startswith("The license was not updated: no license authority is configured on this server")
    assert "paste the LEF" in message and "The license in force is unchanged." in message
    shoot(admin, "license-update-no-authority")
    license = console.site.license()
    assert license is not None and license.cals["named"] == 5


def test_update_license_from_server_applies_the_newer_lef_the_authority_signed(
        browser: Browser, tmp_path: Path, template: Path) -> None:
    with running_console(tmp_path, template=template, with_authority=True) as console, \
            console_page(browser) as page:
        assert console.authority is not None
        signed_in(page, console, "admin")
        page.goto(f"{console.url}/license")
        console.authority.cals = {"named": 7, "document": 25, "session": 5, "usage": 28}
        submit(page, page.get_by_role("button", name="Update license from server").click)
        assert flash(page) == ("License 4600123456789012 updated from the license authority: 7 Named, "
                               "25 Document, 5 Session, 28 Usage CALs.")
        expect(page.locator("tr", has_text="CALs").first).to_contain_text("7 Named · 25 Document")
        shoot(page, "license-updated")

        submit(page, page.get_by_role("button", name="Update license from server").click)
        assert "already the newest" in flash(page)
        assert console.authority.calls == 2
        assert len(console.site.license_history()) == 2


# --- Client Access Licenses: General and Assigned CALs -----------------------------------------------

def test_turning_dynamic_cal_assignment_off_on_the_general_tab(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals")
    box = admin.get_by_label("Allow dynamic CAL assignment")
    expect(box).to_be_checked()
    box.uncheck()
    submit(admin, admin.get_by_role("button", name="Apply").click)
    assert flash(admin) == ("Saved: dynamic CAL assignment off, license lease on, identification by user name.")
    expect(admin.get_by_label("Allow dynamic CAL assignment")).not_to_be_checked()
    shoot(admin, "cals-general")
    assert console.site.cal_overview().settings.allow_dynamic_assignment is False


def test_assigning_named_cals_with_a_semicolon_list_in_the_manage_users_dialog(admin: Page,
                                                                             console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned")
    admin.get_by_role("link", name="Manage users…").click()
    dialog = admin.get_by_role("dialog", name="Manage users")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Or type users").fill("ACME\\carol; ACME\\dave;;acme\\CAROL")
    shoot(admin, "cals-manage-users")
    submit(admin, dialog.get_by_role("button", name="OK").click)
    assert flash(admin) == "2 assigned.\nACME\\carol: assigned.\nACME\\dave: assigned."
    expect(row_of(admin, "ACME\\dave")).to_contain_text("manual")
    expect(admin.get_by_role("heading", name=re.compile("Named User CALs"))).to_contain_text("4 assigned of 5")
    shoot(admin, "cals-assigned")
    assert named_users(console) == {"ACME\\alice", "ACME\\bob", "ACME\\carol", "ACME\\dave"}


def test_picking_a_user_found_by_the_search_in_manage_users_assigns_a_named_cal(admin: Page,
                                                                              console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned")
    admin.get_by_role("link", name="Manage users…").click()
    dialog = admin.get_by_role("dialog", name="Manage users")
    dialog.get_by_label("Search for users and groups").fill("rep")
    submit(admin, dialog.get_by_role("button", name="Search").click)
    dialog = admin.get_by_role("dialog", name="Manage users")
    expect(dialog).to_be_visible()
    dialog.get_by_label("ACME\\rep2").check()
    submit(admin, dialog.get_by_role("button", name="OK").click)
    assert flash(admin) == "ACME\\rep2: assigned."
    assert "ACME\\rep2" in named_users(console)


def test_an_invalid_user_in_the_list_is_pointed_at_and_nothing_is_assigned(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned?manage=1")
    dialog = admin.get_by_role("dialog", name="Manage users")
    dialog.get_by_label("Or type users").fill("ACME\\dave;no domain here;ACME\\erin")
    status = submit(admin, dialog.get_by_role("button", name="OK").click)
    assert status == 422
    dialog = admin.get_by_role("dialog", name="Manage users")
    expect(dialog).to_be_visible()
    problem = dialog.get_by_role("alert")
    expect(problem).to_contain_text("Nothing was assigned:")
    expect(problem).to_contain_text("'no domain here'")
    expect(problem).not_to_contain_text("ACME\\dave")
    typed = dialog.get_by_label("Or type users")
    expect(typed).to_have_value("ACME\\dave;no domain here;ACME\\erin")
    expect(typed).to_be_focused()
    expect(typed).to_have_attribute("aria-invalid", "true")
    expect(typed).to_have_accessible_description(re.compile("'no domain here'"))
    shoot(admin, "cals-manage-users-invalid")
    assert named_users(console) == {"ACME\\alice", "ACME\\bob"}


def test_removing_a_recently_used_cal_quarantines_it_until_last_used_plus_7_days_and_restore_undoes_it(
        admin: Page, console: Console) -> None:
    assert console.site.open_document("ACME\\alice", SALES, machine="PC-ALICE").granted
    admin.goto(f"{console.url}/cals/assigned")
    row = row_of(admin, "ACME\\alice")
    expect(row).to_contain_text("just now")
    row.get_by_label("remove").check()
    expect(row).to_have_class("staged")
    submit(admin, admin.get_by_role("button", name="Apply").click)

    cal = next(c for c in console.site.list_named_cals().items if c.user == "ACME\\alice")
    assert cal.last_used is not None and cal.quarantined_until == cal.last_used + timedelta(days=7)
    until = f"{cal.quarantined_until:%Y-%m-%d %H:%M} UTC"
    assert flash(admin) == f"ACME\\alice: quarantined until {until} (last used + 7 days); restore it until then."
    row = row_of(admin, "ACME\\alice")
    expect(row.locator(".badge.q")).to_have_text(until)
    expect(row).to_contain_text("in 7 days")
    shoot(admin, "cals-assigned-quarantined")
    expect(admin.get_by_role("heading", name=re.compile("Named User CALs"))).to_contain_text("1 quarantined")

    row.get_by_label("restore").check()
    submit(admin, admin.get_by_role("button", name="Apply").click)
    assert flash(admin) == "ACME\\alice: restored (the same CAL, with its history)."
    expect(row_of(admin, "ACME\\alice").locator(".badge.q")).to_have_count(0)
    restored = next(c for c in console.site.list_named_cals().items if c.user == "ACME\\alice")
    assert restored.quarantined_until is None and restored.last_used == cal.last_used


def test_the_assigned_cals_table_is_operated_with_the_keyboard(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned")
    admin.get_by_label("Search users").focus()
    tab_until(admin, "input[name='remove[]'][value='ACME\\\\bob']")
    admin.keyboard.press("Space")
    expect(row_of(admin, "ACME\\bob").get_by_label("remove")).to_be_checked()
    tab_until(admin, "button[type=submit]:text-is('Apply')")
    shoot(admin, "cals-assigned-keyboard")
    submit(admin, lambda: admin.keyboard.press("Enter"))
    assert flash(admin) == "ACME\\bob: freed at once (not used in the last 7 days); it can be assigned again now."
    expect(row_of(admin, "ACME\\bob")).to_have_count(0)
    assert named_users(console) == {"ACME\\alice"}


def tab_until(page: Page, selector: str, *, most: int = 30) -> None:
    """Press Tab until the element matching the selector has the focus."""
    target = page.locator(selector)
    for _ in range(most):
        page.keyboard.press("Tab")
        if target.evaluate("(el) => el === document.activeElement"):
            return
    raise AssertionError(f"Tab never reached {selector}")


# --- Document CALs ------------------------------------------------------------------------------------

def test_allocating_document_cals_to_salesflash_and_assigning_users_to_it(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/documents")
    admin.get_by_role("link", name=SALES).click()
    expect(admin.get_by_role("heading", name=SALES)).to_be_visible()
    admin.get_by_label("Number of CALs allocated to this Document").fill("12")
    submit(admin, admin.get_by_role("button", name="Apply", exact=True).click)
    assert flash(admin) == f"{SALES}: 12 Document CALs allocated."
    expect(admin.get_by_label("Number of CALs allocated to this Document")).to_have_value("12")

    admin.get_by_role("link", name="Add users…").click()
    dialog = admin.get_by_role("dialog", name=f"Add users to {SALES}")
    dialog.get_by_label("Users: one a line").fill("ACME\\dana\nACME\\erin")
    shoot(admin, "documents-add-users")
    submit(admin, dialog.get_by_role("button", name="OK").click)
    assert flash(admin) == "2 assigned.\nACME\\dana: assigned.\nACME\\erin: assigned."
    for user in ("ACME\\rep1", "ACME\\rep2", "ACME\\dana", "ACME\\erin"):
        expect(row_of(admin, user)).to_be_visible()
    expect(admin.locator(".tree li", has_text=SALES)).to_contain_text("4/12")
    shoot(admin, "documents")
    assert document_users(console) == {"ACME\\rep1", "ACME\\rep2", "ACME\\dana", "ACME\\erin"}
    assert next(d for d in console.site.list_documents() if d.path == SALES).cals_allocated == 12


def test_allocating_more_document_cals_than_the_pool_has_is_refused_and_the_input_stays_as_typed(
        admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/documents?doc={SALES}")
    admin.get_by_label("Number of CALs allocated to this Document").fill("99")
    row_of(admin, "ACME\\rep1").get_by_label("remove").check()
    assert submit(admin, admin.get_by_role("button", name="Apply", exact=True).click) == 409
    expect(admin.locator("#apply-problem")).to_have_text(
        f"Nothing was changed: only 15 Document CALs can be allocated to {SALES} (20 in license, "
        "5 allocated to other documents).")
    expect(admin.get_by_label("Number of CALs allocated to this Document")).to_have_value("99")
    expect(row_of(admin, "ACME\\rep1").get_by_label("remove")).to_be_checked()
    shoot(admin, "documents-allocation-refused")
    assert next(d for d in console.site.list_documents() if d.path == SALES).cals_allocated == 10
    assert document_users(console) == {"ACME\\rep1", "ACME\\rep2"}


def test_an_invalid_user_for_a_document_is_pointed_at_in_the_dialog_and_nothing_is_assigned(
        admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/documents?doc={SALES}")
    admin.get_by_role("link", name="Add users…").click()
    dialog = admin.get_by_role("dialog", name=f"Add users to {SALES}")
    dialog.get_by_label("Users: one a line").fill("ACME\\dana;bad\\\\name")
    assert submit(admin, dialog.get_by_role("button", name="OK").click) == 422
    dialog = admin.get_by_role("dialog", name=f"Add users to {SALES}")
    expect(dialog.get_by_role("alert")).to_contain_text("'bad\\\\name'")
    assert document_users(console) == {"ACME\\rep1", "ACME\\rep2"}



def test_files_in_the_root_folder_that_cannot_be_served_are_listed_on_the_documents_page_with_why(
        admin: Page, console: Console) -> None:
    for name in (" Budget.qvw", "a\\b.qvw", "salesflash.QVW"):
        (console.settings.documents / name).write_bytes(b"QVW")
    admin.goto(f"{console.url}/documents")
    problems = admin.get_by_role("region", name="Cannot be served")
    expect(problems.get_by_role("row")).to_have_count(4)  # the header and one row a file
    expect(problems.get_by_role("row", name="Budget.qvw")).to_contain_text("begins or ends with a blank")
    expect(problems.get_by_role("row", name="a\\b.qvw")).to_contain_text("holds a backslash")
    expect(problems.get_by_role("row", name="salesflash.QVW")).to_contain_text(
        f"differs only in case or Unicode form from {SALES}, which is served")
    shoot(admin, "documents-cannot-be-served")
    admin.get_by_role("link", name=SALES).click()
    expect(admin.get_by_role("heading", name=SALES)).to_be_visible()
    assert horizontal_overflow(admin) == 0

# --- clearing CAL data --------------------------------------------------------------------------------

def test_clearing_cal_data_needs_the_serial_typed_and_its_backup_restores_everything(admin: Page,
                                                                                     console: Console) -> None:
    admin.goto(f"{console.url}/maintenance/clear")
    confirm = admin.get_by_label("Type the site's serial number")
    confirm.fill("4600123456789000")
    submit(admin, admin.get_by_role("button", name="Back up and clear all CAL data").click)
    assert flash(admin) == "Nothing was cleared: type the site's serial number exactly to confirm."
    assert named_users(console) == {"ACME\\alice", "ACME\\bob"}

    admin.get_by_label("Type the site's serial number").fill(console.demo.serial)
    submit(admin, admin.get_by_role("button", name="Back up and clear all CAL data").click)
    message = flash(admin)
    assert message.startswith("CAL data cleared (")
    backup = re.search(r"A backup was written first: (before-clear-\S+\.json)\.", message)
    assert backup is not None
    expect(admin.locator("main")).to_contain_text("Now: 0 Named and 0 Document CALs assigned")
    shoot(admin, "clear-done")
    assert named_users(console) == set() and document_users(console) == set()

    admin.get_by_role("link", name="Client Access Licenses (CALs)").click()
    admin.get_by_role("link", name="Assigned CALs").click()
    expect(admin.locator("tbody")).to_contain_text("No Named CAL is assigned.")

    admin.get_by_role("link", name="Clear CAL data").click()
    expect(admin.get_by_label("Backup", exact=True)).to_have_value(backup.group(1))
    listed = admin.locator("table.backups tbody tr", has_text=backup.group(1))
    expect(listed).to_contain_text("2 Named CALs")  # what the backup holds, as its summary says
    expect(listed).to_contain_text(" KB")
    submit(admin, admin.get_by_role("button", name="Restore this backup").click)
    expect(admin.get_by_role("heading", name=f"Restore {backup.group(1)}?")).to_be_visible()
    expect(admin.get_by_role("row", name="Named CALs 0 2")).to_be_visible()
    shoot(admin, "confirm-restore")
    submit(admin, admin.get_by_role("button", name="Back up the data now, then restore").click)
    assert flash(admin).startswith(f"Restored {backup.group(1)}: 2 Named CALs, 3 Document CALs.\n"
                                   "The CAL data as it was before was backed up first: before-restore-")
    shoot(admin, "clear-restored")
    assert named_users(console) == {"ACME\\alice", "ACME\\bob"}
    assert document_users(console) == {"ACME\\rep1", "ACME\\rep2"}


# --- who may change what ------------------------------------------------------------------------------

VIEWER_PAGES = ["/license", "/cals", "/cals/assigned", f"/documents?doc={SALES}", "/maintenance/clear"]


def test_a_viewer_sees_every_page_read_only_with_no_control_to_change_and_a_forced_post_is_refused(
        page: Page, console: Console) -> None:
    signed_in(page, console, "viewer")
    expect(page.locator("header .who")).to_have_text("viewer (viewer)")
    for path in VIEWER_PAGES:
        page.goto(console.url + path)
        expect(page.get_by_role("note").filter(has_text="Read only")).to_be_visible()
        enabled = page.locator("main form[method=post]").locator(
            "input:not([type=hidden]):enabled, button:enabled, select:enabled, textarea:enabled")
        expect(enabled).to_have_count(0)
        expect(page.get_by_role("link", name=re.compile("Manage users|Add users"))).to_have_count(0)
    page.goto(f"{console.url}/cals/assigned")
    expect(row_of(page, "ACME\\alice")).to_be_visible()
    expect(row_of(page, "ACME\\alice").get_by_label("remove")).to_have_count(0)
    shoot(page, "viewer-cals-assigned")

    page.goto(f"{console.url}/cals")
    page.evaluate("document.querySelectorAll('fieldset[disabled]').forEach((f) => { f.disabled = false; })")
    page.get_by_label("Allow dynamic CAL assignment").uncheck()
    assert submit(page, page.get_by_role("button", name="Apply").click) == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("body")).to_contain_text("Your console role is viewer")
    assert console.site.cal_overview().settings.allow_dynamic_assignment is True


def test_a_form_posted_without_this_sessions_csrf_token_is_refused(admin: Page, console: Console) -> None:
    admin.goto(f"{console.url}/cals/assigned")
    admin.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach((i) => i.remove())")
    row_of(admin, "ACME\\alice").get_by_label("remove").check()
    assert submit(admin, admin.get_by_role("button", name="Apply").click) == 403
    expect(admin.get_by_role("heading", name="The form expired")).to_be_visible()

    admin.goto(f"{console.url}/cals/assigned")
    admin.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach((i) => { i.value = 'forged'; })")
    row_of(admin, "ACME\\alice").get_by_label("remove").check()
    assert submit(admin, admin.get_by_role("button", name="Apply").click) == 403
    assert named_users(console) == {"ACME\\alice", "ACME\\bob"}


def test_an_admin_disables_the_signed_in_viewer_and_deletes_them_after_confirming(
        admin: Page, console: Console, browser: Browser) -> None:
    with console_page(browser) as viewer:
        signed_in(viewer, console, "viewer")
        admin.get_by_role("link", name="Console users").click()
        shoot(admin, "console-users")
        submit(admin, admin.get_by_role("button", name="Disable admin").click)
        assert "'admin' is the last enabled console admin" in flash(admin)
        submit(admin, admin.get_by_role("button", name="Disable viewer").click)
        assert flash(admin) == "viewer is disabled: they cannot sign in, and their sessions have ended."
        viewer.reload()
        expect(viewer.get_by_role("button", name="Sign in")).to_be_visible()
        admin.get_by_role("button", name="Delete viewer").click()
        confirm = admin.get_by_role("dialog")
        expect(confirm).to_contain_text("Delete the console user viewer?")
        submit(admin, confirm.get_by_role("button", name="Delete", exact=True).click)
        assert flash(admin) == "viewer is deleted."
        assert [u.username for u in console.site.list_console_users()] == ["admin"]


# --- every page: width, labels, screenshots -----------------------------------------------------------

PAGES = {
    "dashboard": "/",
    "license": "/license",
    "cals-general": "/cals",
    "cals-assigned": "/cals/assigned",
    "cals-manage-users-search": "/cals/assigned?manage=1&find=acme",
    "documents-salesflash": f"/documents?doc={SALES}",
    "documents-unknown": "/documents?doc=Nope.qvw",
    "users": "/users?q=acme",
    "users-alice": "/users?name=ACME%5Calice",
    "leases": "/leases",
    "clear": "/maintenance/clear",
    "audit": "/audit",
    "console-users": "/console-users",
}


def test_every_page_fits_1280_pixels_wide_and_every_input_has_a_label(admin: Page, console: Console) -> None:
    console.site.open_document("ACME\\alice", SALES, machine="PC-ALICE")
    console.site.open_document("ACME\\zed", "Contract Analytix.qvw", machine="PC-ZED")  # a denial or a session
    problems = {}
    requested: list[str] = []
    admin.on("request", lambda request: requested.append(request.url))
    for name, path in PAGES.items():
        admin.goto(console.url + path)
        expect(admin.locator("main h2")).to_be_visible()
        shoot(admin, f"page-{name}")
        overflow, unlabelled = horizontal_overflow(admin), unlabelled_inputs(admin)
        if overflow or unlabelled:
            problems[name] = (overflow, unlabelled)
    admin.goto(f"{console.url}/documents?doc={SALES}")
    admin.get_by_role("link", name="Add users…").click()
    assert horizontal_overflow(admin) == 0
    shoot(admin, "page-documents-add-users")
    admin.keyboard.press("Escape")
    admin.get_by_role("button", name="Sign out admin").click()
    assert (horizontal_overflow(admin), unlabelled_inputs(admin)) == (0, [])
    assert problems == {}
    assert [url for url in requested if not url.startswith(console.url)] == []  # no third-party script or font
