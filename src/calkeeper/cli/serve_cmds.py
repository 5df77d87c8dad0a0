"""``calkeeper serve``, ``calkeeper token ...`` and ``calkeeper admin ...``: run the HTTP server, manage its
API tokens and its console users."""

from __future__ import annotations

import copy
import getpass
import os
import secrets
import sys
import tempfile
from datetime import UTC, datetime
from typing import Any

import typer

from calkeeper.cli.cal_cmds import JSON
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import out, reporting, show, table
from calkeeper.core.errors import InvalidInput
from calkeeper.demo import set_up_demo
from calkeeper.infra.database import shown_url

# httptools, as uvicorn would choose, with a bound on the size of a request's headers (431 past it)
HTTP_PROTOCOL = "calkeeper.api.http_protocol:BoundedHeadProtocol"
tokens = typer.Typer(help="API tokens (roles: admin, viewer, gate).", no_args_is_help=True)


def serve(
    ctx: typer.Context,
    demo: bool = typer.Option(False, "--demo", help="Set up the demo site first and print a new admin token."),
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8080, "--port", min=1, max=65535),
    workers: int = typer.Option(1, "--workers", min=1, max=64),
    root_path: str = typer.Option("", "--root-path", envvar="CALKEEPER_ROOT_PATH",
                                  help="URL prefix when behind a reverse proxy, e.g. /calkeeper."),
    forwarded_allow_ips: str = typer.Option("127.0.0.1", "--forwarded-allow-ips",
                                            envvar="CALKEEPER_FORWARDED_ALLOW_IPS",
                                            help="Proxies whose X-Forwarded-For/Proto headers are trusted."),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", envvar="CALKEEPER_ACCESS_LOG",
                                    help="Log each request to standard output, in the Common Log Format."),
) -> None:
    """Run the CAL server: the access gate, the REST API and /metrics."""
    import uvicorn

    from calkeeper.api.app import SETTINGS_VARIABLE, create_app

    cli = ctx_of(ctx)
    cli.require_local(ctx)
    with reporting():
        settings = cli.settings
        if demo:
            set_up_demo(settings)
        site = cli.site()  # creates or migrates the schema once, before any worker starts
        secret = password = None
        if demo:
            _, secret = site.create_token(name=f"demo-admin-{datetime.now(UTC):%Y%m%d%H%M%S}", role="admin")
            password = secrets.token_urlsafe(9)
            site.create_console_user(username="admin", password=password, role="admin", replace=True)
        live = [t for t in site.list_tokens() if t.revoked_at is None]
        cli.close()
    settings = settings.model_copy(update={"root_path": root_path, "database_url": settings.database,
                                           "forwarded_allow_ips": forwarded_allow_ips, "access_log": access_log})
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="calkeeper-metrics-")
    url = f"http://{host}:{port}{root_path}"
    out.print(f"calkeeper serves {url}  (API docs: {url}/api/docs; database: {shown_url(settings.database)})")
    if password:
        out.print(f"Console: {url}/  sign in as admin / {password}")
    if secret:
        out.print(f"Admin API token (shown once): {secret}")
        out.print(f"Try: curl -H 'Authorization: Bearer {secret}' {url}/api/v1/cals")
    elif not live:
        out.print("No API token exists yet: create one with 'calkeeper token create --role admin --name NAME'.")
    # X-Forwarded-For is read by the app itself (create_app), after it noted the proxy's own address; the
    # app writes the access log too (api.access_log), a few times a second rather than once per request
    options = {"host": host, "port": port, "root_path": root_path, "proxy_headers": False,
               "forwarded_allow_ips": forwarded_allow_ips, "log_config": _log_config(), "log_level": None,
               "access_log": False, "http": HTTP_PROTOCOL}
    if workers == 1:
        uvicorn.run(create_app(settings), **options)  # type: ignore[arg-type]
        return
    # Worker processes start afresh: they read the settings this command resolved from one variable.
    os.environ[SETTINGS_VARIABLE] = settings.model_dump_json()
    uvicorn.run("calkeeper.api.app:app_from_environment", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def _log_config() -> dict[str, Any]:
    """uvicorn's logging: its own messages from warnings up (the app writes the access log itself)."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["uvicorn.error"]["level"] = "WARNING"
    return config


@tokens.command("create")
def create(ctx: typer.Context, role: str = typer.Option(..., "--role", help="admin, viewer or gate"),
           name: str = typer.Option(..., "--name"), as_json: bool = JSON) -> None:
    """Create a token; its secret is printed once and only its hash is kept."""
    with reporting(as_json):
        view, secret = ctx_of(ctx).site().create_token(name=name, role=role)
    show({"token": view, "secret": secret}, as_json, lambda: out.print(
        f"Token '{view.name}' ({view.role}) created. Secret, shown once:\n{secret}"))


@tokens.command("revoke")
def revoke(ctx: typer.Context, name: str = typer.Argument(..., help="The token's name (with --id, its id)."),
           by_id: bool = typer.Option(False, "--id", help="NAME is the token's id, as 'token list' shows it.")) -> None:
    """Revoke a token by its name (or, with --id, its id); it stops working on every node within a second."""
    with reporting():
        if by_id and not name.isdigit():
            raise InvalidInput(f"with --id, give the token's id (a number), not '{name}'")
        site = ctx_of(ctx).site()
        token = (site.revoke_token(token_id=int(name)) if by_id else site.revoke_token(name))[0]
    out.print(f"Revoked the token '{token.name}' (id {token.id}, role {token.role}).")


@tokens.command("list")
def list_tokens(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every token, without its secret."""
    with reporting(as_json):
        views = ctx_of(ctx).site().list_tokens()
    show(views, as_json, lambda: table(
        "API tokens", ["id", "name", "role", "created", "by", "revoked"],
        [[t.id, t.name, t.role, f"{t.created_at:%Y-%m-%d %H:%M}", t.created_by,
          f"{t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "-"] for t in views]))


admins = typer.Typer(help="Console users (roles: admin, viewer).", no_args_is_help=True)


@admins.command("create")
def create_admin(
    ctx: typer.Context,
    username: str = typer.Option(..., "--username"),
    role: str = typer.Option("admin", "--role", help="admin or viewer"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input."),
    replace: bool = typer.Option(False, "--replace", help="Set a new password for an existing user."),
) -> None:
    """Create a console user (the password is asked for, or read from standard input)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass("Password: ")
    with reporting():
        view = ctx_of(ctx).site().create_console_user(username=username, password=password, role=role,
                                                      replace=replace)
    out.print(f"Console user '{view.username}' ({view.role}) saved.")


@admins.command("list")
def list_admins(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Console users and their roles."""
    with reporting(as_json):
        views = ctx_of(ctx).site().list_console_users()
    show(views, as_json, lambda: table("Console users", ["user", "role", "created", "disabled"],
                                       [[v.username, v.role, f"{v.created_at:%Y-%m-%d}", v.disabled] for v in views]))


@admins.command("disable")
def disable_admin(ctx: typer.Context, username: str = typer.Argument(..., help="The console user."),
                  as_json: bool = JSON) -> None:
    """Stop a console user from signing in; their sessions end at once (never the last enabled admin)."""
    with reporting(as_json):
        view = ctx_of(ctx).site().disable_console_user(username)
    show(view, as_json, lambda: out.print(
        f"Console user '{view.username}' is disabled: they cannot sign in, and their sessions have ended."))


@admins.command("enable")
def enable_admin(ctx: typer.Context, username: str = typer.Argument(..., help="The console user."),
                 as_json: bool = JSON) -> None:
    """Let a disabled console user sign in again (their failed sign-ins are forgotten)."""
    with reporting(as_json):
        view = ctx_of(ctx).site().enable_console_user(username)
    show(view, as_json, lambda: out.print(f"Console user '{view.username}' can sign in again."))


@admins.command("delete")
def delete_admin(ctx: typer.Context, username: str = typer.Argument(..., help="The console user."),
                 yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
                 as_json: bool = JSON) -> None:
    """Delete a console user and end their sessions (never the last enabled admin)."""
    if not yes and not typer.confirm(f"Delete the console user '{username}'?", default=False):
        out.print("Nothing was changed.")
        raise typer.Exit(1)
    with reporting(as_json):
        view = ctx_of(ctx).site().delete_console_user(username)
    show(view, as_json, lambda: out.print(f"Console user '{view.username}' ({view.role}) deleted."))


@admins.command("end-sessions")
def end_sessions(ctx: typer.Context, username: str = typer.Argument(..., help="The console user."),
                 as_json: bool = JSON) -> None:
    """Sign a console user out everywhere: end their open sessions (they can sign in again)."""
    with reporting(as_json):
        ended = ctx_of(ctx).site().end_console_sessions(username)
    show({"username": username, "ended": ended}, as_json, lambda: out.print(
        f"Ended {ended} console session{'' if ended == 1 else 's'} of '{username}'."))
