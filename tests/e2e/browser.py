"""The management console in a real Chromium: the demo site served by uvicorn on a free port, and helpers.

    with running_console(tmp_path, template=template) as console, console_page(browser, console) as page:
        sign_in(page, console, "admin")

Debian's Chromium (/usr/bin/chromium) is driven by Python Playwright; no browser is downloaded.
Screenshots go to ``artifacts/console/<name>.png`` under the repository root.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from playwright.sync_api import Browser, BrowserContext, Page, Playwright

from calkeeper.api.app import create_app
from calkeeper.authority.signing import load_signing_key, make_lef, sign_lef
from calkeeper.console.web import SESSION_COOKIE
from calkeeper.core.keys import load_public_keys
from calkeeper.demo import DEMO_ORGANIZATION, DEMO_OWNER, DemoSite, set_up_demo
from calkeeper.settings import Settings
from calkeeper.site import LocalSite, open_site
from tests.e2e.servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 720}
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "console"
PASSWORDS = {"admin": "admin-password-1", "viewer": "viewer-password-1"}
SESSIONS_FILE = "e2e-console-sessions.json"


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


class SigningAuthority:
    """An in-memory license authority: it signs, with the demo authority's key, a LEF with the CALs set here."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir
        self.cals = {"named": 5, "document": 20, "session": 5, "usage": 28}
        self.calls = 0

    def fetch_lef(self, *, serial: str, control: str, owner: str, organization: str,
                  lease_key: Ed25519PublicKey | None = None) -> str:
        self.calls += 1
        return signed_lef(self.keys_dir, serial=serial, **self.cals)


def signed_lef(keys_dir: Path, *, serial: str, named: int, document: int = 0, session: int = 0,
               usage: int = 0) -> str:
    """A LEF for the demo site signed with the demo authority's key."""
    return sign_lef(make_lef(serial=serial, owner=DEMO_OWNER, organization=DEMO_ORGANIZATION, named=named,
                             document=document, session=session, usage=usage,
                             maintenance_until=date(2027, 12, 31)), load_signing_key(keys_dir))


@dataclass
class Console:
    url: str
    site: LocalSite
    settings: Settings
    demo: DemoSite
    authority: SigningAuthority | None
    sessions: dict[str, str]  # role -> a signed-in session's cookie, when the site was copied from a template

    def sign_lef(self, **cals: int) -> str:
        return signed_lef(self.settings.authority_keys_dir, serial=self.demo.serial, **cals)


def demo_template(folder: Path) -> Path:
    """A demo data dir to copy, with the console users each signed in once (checking a password takes a second).

    Setting the demo up takes far longer than copying it.
    """
    settings = Settings(data_dir=folder)
    set_up_demo(settings)
    with _open(settings) as site:
        _add_console_users(site)
        sessions = {role: site.app.console_users.sign_in(role, password)[0] for role, password in PASSWORDS.items()}
    (folder / SESSIONS_FILE).write_text(json.dumps(sessions))
    return folder


def _open(settings: Settings, authority: SigningAuthority | None = None) -> LocalSite:
    return open_site(settings.database, trusted_keys=load_public_keys([settings.trusted_keys_dir]),
                     root_folder=settings.documents, actor="console-e2e", authority=authority)


def _add_console_users(site: LocalSite) -> None:
    for role, password in PASSWORDS.items():
        site.create_console_user(username=role, password=password, role=role)


@contextmanager
def running_console(folder: Path, *, template: Path | None = None, with_authority: bool = False) -> Iterator[Console]:
    """The demo site with an admin and a viewer console user, served by uvicorn in a thread until the end."""
    settings = Settings(data_dir=folder / "site")
    if template is not None:
        shutil.copytree(template, settings.data_dir)
    demo = set_up_demo(settings)
    authority = SigningAuthority(settings.authority_keys_dir) if with_authority else None
    site = _open(settings, authority)
    if template is None:
        _add_console_users(site)
    saved = settings.data_dir / SESSIONS_FILE
    sessions: dict[str, str] = json.loads(saved.read_text()) if saved.exists() else {}
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, site=site), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the console did not start on port {port}")
            time.sleep(0.02)
        yield Console(f"http://127.0.0.1:{port}", site, settings, demo, authority, sessions)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        site.close()


@contextmanager
def console_page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no cookies) at 1280x720 and its one page."""
    context: BrowserContext = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    # a bound on waiting, not a measure: with the suite's two workers and a server on two cores, a page's
    # script can take seconds to answer a click
    context.set_default_timeout(15000)
    try:
        yield context.new_page()
    finally:
        context.close()


def sign_in(page: Page, console: Console, role: str = "admin", *, password: str | None = None) -> None:
    """Sign in on the sign-in page (the one already shown, say after a redirect, or a new one)."""
    if "/sign-in" not in page.url:
        page.goto(f"{console.url}/sign-in")
    page.get_by_label("User name").fill(role)
    page.get_by_label("Password").fill(password or PASSWORDS[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def signed_in(page: Page, console: Console, role: str = "admin") -> Page:
    """Give the page's browser the cookie of a session the template signed in, and open the dashboard."""
    if role not in console.sessions:
        sign_in(page, console, role)
        return page
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": console.sessions[role], "url": console.url}])
    page.goto(console.url + "/")
    return page


def flash(page: Page) -> str:
    """The text of the page's flash message (ok or error), a line for each line shown."""
    return "\n".join(line for line in page.locator("main > .flash").inner_text().splitlines() if line.strip())


def shoot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as artifacts/console/<name>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the viewport (0 when there is no horizontal scrolling)."""
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return max(0, width - VIEWPORT["width"])


UNLABELLED = """() => {
  const named = (el) => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
    if (el.closest('label')) return true;
    return !!(el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`));
  };
  return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter((el) => !named(el)).map((el) => el.outerHTML);
}"""


def unlabelled_inputs(page: Page) -> list[str]:
    """The inputs, selects and textareas (hidden inputs aside) that no label names."""
    found: list[str] = page.evaluate(UNLABELLED)
    return found


def row_of(page: Page, user: str) -> Any:
    """The Assigned CALs / Assigned users table row of one user."""
    return page.locator("tbody tr").filter(has=page.locator("td", has_text=user)).first


# --- accessibility and narrow screens ----------------------------------------------------------------------

AXE = Path(__file__).resolve().parents[2] / "build" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"
NARROW = {"width": 390, "height": 844}
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_RUN = """async (tags) => {
  const found = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return found.violations.map((v) => ({id: v.id, help: v.help,
                                       targets: v.nodes.map((n) => n.target.join(' ')).slice(0, 5)}));
}"""


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """What axe-core (npm, run in the page) finds against WCAG 2.2 AA: each rule broken, with its nodes' targets.

    The script is evaluated through the browser's debugging protocol, which the pages' policy does not govern.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(AXE_RUN, WCAG_22_AA)
    return found


def snapshot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as build/screenshots/<width>x<height>/<name>.png."""
    size = page.viewport_size or VIEWPORT
    folder = SCREENSHOTS / f"{size['width']}x{size['height']}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def page_overflow(page: Page) -> int:
    """How many pixels the page is wider than its own viewport."""
    width: int = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    return max(0, width)
