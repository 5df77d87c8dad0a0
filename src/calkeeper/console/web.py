"""What every console page shares: templates, the signed-in identity, CSRF checks, flash messages."""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool

from calkeeper.bootstrap import Application
from calkeeper.site import LocalSite
from calkeeper.usecases.console_users import ConsoleIdentity, ConsoleUsers

SESSION_COOKIE = "calkeeper_session"
PRE_CSRF_COOKIE = "calkeeper_csrf"
FLASH_COOKIE = "calkeeper_flash"
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def ago(moment: datetime | None) -> str:
    """'3 days ago' / 'in 7 days' / 'in 5 h' beside a UTC time, rounded to the nearest unit."""
    if moment is None:
        return ""
    seconds = (datetime.now(UTC) - moment).total_seconds()
    size = abs(seconds)
    if size < 60:
        return "just now"
    for unit, step in (("day", 86400), ("h", 3600), ("min", 60)):
        if size >= step * 0.95:
            count = max(1, round(size / step))
            span = f"{count} {unit}{'s' if unit == 'day' and count != 1 else ''}"
            break
    return f"{span} ago" if seconds > 0 else f"in {span}"


def file_size(size: int) -> str:
    """A file's size as people read it: 812 bytes, 14.2 KB, 3.1 MB."""
    for unit, step in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if size >= step:
            return f"{size / step:.1f} {unit}"
    return f"{size} bytes"


def number(value: object) -> str:
    """A count with thousands separators (10,000)."""
    return f"{value:,}" if isinstance(value, int) else str(value)


def root_of(request: Request) -> str:
    """The console's root path, without the trailing slash."""
    return str(request.app.url_path_for("console_root")).rstrip("/")


def utc(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else "-"


def detail(value: object) -> str:
    """An audit detail as an admin reads it: nested changes as 'named: 0 -> 5, ...', booleans as yes/no."""
    if isinstance(value, dict):
        return ", ".join(f"{key}: {detail(item)}" for key, item in value.items()) or "none"
    if isinstance(value, list | tuple):
        return ", ".join(detail(item) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] in "T ":
        try:  # a time the audit trail stored as ISO text
            return utc(datetime.fromisoformat(value))
        except ValueError:
            return value
    return str(value)


def lead_isolated(line: str) -> Markup:
    """A report line whose leading name ("ACME\\bob: freed ...") is isolated, so that right-to-left letters in a
    name cannot reorder the words after it."""
    name, colon, rest = line.partition(": ")
    if not colon:
        return Markup("{}").format(line)
    return Markup("<bdi>{}</bdi>: {}").format(name, rest)


def when(moment: datetime | None) -> Markup:
    """A time as the admin reads it: the browser shows it in local time (console.js); UTC on hover."""
    if moment is None:
        return Markup("-")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(
        moment.isoformat(), moment.strftime("%Y-%m-%d %H:%M:%S UTC"), utc(moment))


@pass_context
def path_for(context: dict[str, Any], name: str, /, **path_params: Any) -> str:
    """A route's path under the server's prefix. Pages link by path, never by an absolute URL built from
    the request's Host header, which the caller chooses."""
    request: Request = context["request"]
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/") + str(request.app.url_path_for(name, **path_params))


templates.env.filters["ago"] = ago
templates.env.filters["n"] = number
templates.env.filters["when"] = when
templates.env.filters["lead_isolated"] = lead_isolated
templates.env.filters["detail"] = detail
templates.env.filters["utc"] = utc
templates.env.filters["file_size"] = file_size
templates.env.globals["url_for"] = path_for  # in place of Starlette's, which answers absolute URLs


class NotSignedIn(Exception):
    """The page needs a signed-in user: send them to the sign-in page."""


class ViewerCannotChange(Exception):
    """A viewer tried to change something."""


class BadCsrf(Exception):
    """A form came without this session's CSRF token."""


def site_of(request: Request) -> LocalSite:
    site: LocalSite = request.app.state.site
    return site


def application_of(request: Request) -> Application:
    """The use cases behind the site, for what the console shows beyond the site's operations."""
    application: Application = request.app.state.application
    return application


def console_users(request: Request) -> ConsoleUsers:
    users: ConsoleUsers = request.app.state.application.console_users
    return users


async def identity(request: Request) -> ConsoleIdentity:
    secret = request.cookies.get(SESSION_COOKIE)
    if not secret:
        raise NotSignedIn()
    who = await run_in_threadpool(console_users(request).console_identity, secret)
    if who is None:
        raise NotSignedIn()
    return who


async def form_of(request: Request, who: ConsoleIdentity, *, change: bool = True) -> dict[str, Any]:
    """Read a posted form after checking its CSRF token (and that the user may change things)."""
    form = await request.form()
    token = str(form.get("csrf_token", ""))
    if not hmac.compare_digest(token, who.csrf_token):
        raise BadCsrf()
    if change and who.role != "admin":
        raise ViewerCannotChange()
    data: dict[str, Any] = {}
    for key in form:
        values = form.getlist(key)
        data[key] = values if key.endswith("[]") else values[-1]
    return data


def page(request: Request, template: str, who: ConsoleIdentity | None, **context: Any) -> HTMLResponse:
    flash = read_flash(request)
    nav = context.pop("nav_as", None) or template.split(".")[0]  # the sidebar entry to mark as current
    response = templates.TemplateResponse(request, template, {"who": who, "flash": flash, "nav": nav, **context})
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


REFUSED = ("refused", "no CAL left", "skipped", "not held")  # outcomes an admin must see first


NAME_SEPARATORS = re.compile(r"[;,\r\n]+")


def typed_names(text: str) -> list[str]:
    """The names an admin typed or pasted: one a line, or separated by semicolons or commas."""
    return [name.strip() for name in NAME_SEPARATORS.split(text) if name.strip()]


def refused_first(outcomes: list[tuple[str, str]]) -> list[str]:
    """The lines of (outcome, line) pairs, the refused ones first, the rest in their order."""
    return [line for _, line in sorted(outcomes, key=lambda pair: pair[0] not in REFUSED)]


def tally(outcomes: list[tuple[str, str]]) -> list[str]:
    """A bulk action's report from (outcome, line) pairs: the total first ("118 assigned, 2 refused"), then
    every line, the refused ones first."""
    counts: dict[str, int] = {}
    for outcome, _ in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    order = sorted(counts, key=lambda o: (o not in REFUSED, -counts[o]))
    total = ", ".join(f"{counts[o]:,} {o}" for o in order)
    lines = refused_first(outcomes)
    return [f"{total}." if len(outcomes) > 1 else lines[0], *(lines if len(outcomes) > 1 else [])]


def redirect(request: Request, path: str, *, ok: list[str] | None = None, error: list[str] | None = None) -> Response:
    """See the page at ``path`` next, with what was done (or why not). The message is kept on the server for
    this session (a bulk action's report is far longer than a cookie holds); the cookie carries its id."""
    response = RedirectResponse(str(request.app.url_path_for("console_root")).rstrip("/") + path, status_code=303)
    if ok or error:
        payload = json.dumps({"kind": "error" if error else "ok", "lines": error or ok})
        secret = request.cookies.get(SESSION_COOKIE, "")
        result_id = console_users(request).keep_result(secret, payload) if secret else None
        cookie = json.dumps({"result": result_id}) if result_id else payload
        response.set_cookie(FLASH_COOKIE, base64.urlsafe_b64encode(cookie.encode()).decode(),
                            httponly=True, samesite="strict", path="/", max_age=3600)
    return response


def read_flash(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
        most = 50  # a message in the cookie itself is short (signed out: no session keeps one)
        if isinstance(data.get("result"), str):
            kept = console_users(request).result(request.cookies.get(SESSION_COOKIE, ""), data["result"])
            if kept is None:
                return None
            data, most = json.loads(kept), 1_000_000
        if data.get("kind") in {"ok", "error"} and isinstance(data.get("lines"), list):
            return {"kind": data["kind"], "lines": [str(line) for line in data["lines"]][:most]}
    except (ValueError, TypeError, AttributeError):
        return None
    return None


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    root = str(request.app.url_path_for("console_root")).rstrip("/")
    return RedirectResponse(f"{root}/sign-in?next={quote(target)}", status_code=303)


def new_csrf() -> str:
    return secrets.token_urlsafe(24)
