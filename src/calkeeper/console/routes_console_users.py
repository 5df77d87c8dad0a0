"""Console users, for admins: who may sign in, and disabling, enabling and deleting them or ending their sessions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from calkeeper.console.web import console_users, form_of, identity, page, redirect, site_of
from calkeeper.core.errors import CalkeeperError
from calkeeper.site import LocalSite
from calkeeper.usecases.console_users import ConsoleIdentity

router = APIRouter(include_in_schema=False)
Who = Annotated[ConsoleIdentity, Depends(identity)]
PAGE = "/console-users"


@router.get(PAGE, response_class=HTMLResponse)
def console_users_page(request: Request, who: Who) -> Response:
    if who.role != "admin":  # as over the REST API: console users are the admins' business
        response = page(request, "console_users.html", who, users=None, sessions={})
        response.status_code = 403
        return response
    return page(request, "console_users.html", who, users=site_of(request).list_console_users(),
                sessions=console_users(request).open_sessions())


@router.post(f"{PAGE}/disable")
async def disable(request: Request, who: Who) -> Response:
    return await _change(request, who, lambda site, name, actor: site.disable_console_user(name, actor=actor),
                         "{username} is disabled: they cannot sign in, and their sessions have ended.")


@router.post(f"{PAGE}/enable")
async def enable(request: Request, who: Who) -> Response:
    return await _change(request, who, lambda site, name, actor: site.enable_console_user(name, actor=actor),
                         "{username} can sign in again.")


@router.post(f"{PAGE}/end-sessions")
async def end_sessions(request: Request, who: Who) -> Response:
    return await _change(request, who, lambda site, name, actor: site.end_console_sessions(name, actor=actor),
                         "Ended {result} session(s) of {username}: they must sign in again.")


@router.post(f"{PAGE}/delete")
async def delete(request: Request, who: Who) -> Response:
    return await _change(request, who, lambda site, name, actor: site.delete_console_user(name, actor=actor),
                         "{username} is deleted.")


async def _change(request: Request, who: ConsoleIdentity, change: Callable[[LocalSite, str, str], object],
                  done: str) -> Response:
    """Change one console user as the form says, then show the list again with what was done, or why not."""
    form = await form_of(request, who)
    username = str(form.get("username", ""))[:100]
    try:
        result = await run_in_threadpool(change, site_of(request), username, f"console:{who.username}")
    except CalkeeperError as error:
        return redirect(request, PAGE, error=[f"{error.message[:1].upper()}{error.message[1:]}."])
    return redirect(request, PAGE, ok=[done.format(username=username, result=result)])
