"""The ``calkeeper`` command: a site's admin tasks from the shell.

Exit codes: 0 done, 1 refused by a rule (the reason is printed), 2 bad usage or bad input.
"""

from __future__ import annotations

from pathlib import Path

import typer

from calkeeper.cli import (
    access_cmds,
    authority_cmds,
    cal_cmds,
    desktop_cmds,
    directory_cmds,
    doc_cmds,
    lease_cmds,
    license_cmds,
    maintenance_cmds,
    operations_cmds,
    serve_cmds,
)
from calkeeper.cli.context import CliContext, ctx_of
from calkeeper.cli.output import fail, out, reporting
from calkeeper.core.error_codes import EXIT_USAGE
from calkeeper.demo import set_up_demo
from calkeeper.infra.database import shown_url

app = typer.Typer(
    name="calkeeper",
    help="calkeeper: a Client Access License server in the QlikView mould.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def main(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(None, "--data-dir", envvar="CALKEEPER_DATA_DIR",
                                         help="The site's data dir (default ~/.local/share/calkeeper)."),
    db: str | None = typer.Option(None, "--db", envvar="CALKEEPER_DATABASE_URL",
                                  help="Database URL: sqlite:///FILE (default: in the data dir) or "
                                       "postgresql+psycopg://USER@HOST/DB."),
    server: str | None = typer.Option(None, "--server", envvar="CALKEEPER_SERVER",
                                      help="Run the command against this CAL server's REST API, e.g. "
                                           "http://cal.acme.local:8080, instead of a local data dir."),
    token: str | None = typer.Option(None, "--token", envvar="CALKEEPER_TOKEN",
                                     help="The API token for --server (role admin; viewer for read-only commands). "
                                          "Prefer CALKEEPER_TOKEN: options show in the process list."),
) -> None:
    if server:
        _check_remote(ctx)
    cli = CliContext(data_dir=data_dir, database_url=db, server=server or None, token=token)
    ctx.obj = cli
    ctx.call_on_close(cli.close)


def _check_remote(ctx: typer.Context) -> None:
    # Typer bundles its own click: compare the parameter source by name.
    local = [f"--{name.replace('_', '-')}" for name in ("data_dir", "db")
             if getattr(ctx.get_parameter_source(name), "name", "") == "COMMANDLINE"]
    if local:
        fail(f"give either --server or {' and '.join(local)}: a command runs against one site", EXIT_USAGE)


@app.command()
def demo(ctx: typer.Context) -> None:
    """Set up a demo site: authority key, signed license, the four Analytix documents, demo users."""
    cli = ctx_of(ctx)
    cli.require_local(ctx)
    with reporting():
        result = set_up_demo(cli.settings)
    if result.created:
        out.print(f"Demo site ready in {result.data_dir}")
    else:
        out.print(f"The demo site in {result.data_dir} was already set up; left as it is.")
    out.print(f"Database: {shown_url(result.database)}")
    out.print(f"License: serial {result.serial}, control {result.control}; LEF in {result.lef_file}")
    out.print("Try: calkeeper cal show | calkeeper cal list | calkeeper doc list | "
              "calkeeper open 'ACME\\rep1' SalesFlash.qvw --machine PC-17")


app.add_typer(license_cmds.app, name="license")
app.add_typer(cal_cmds.app, name="cal")
app.add_typer(doc_cmds.app, name="doc")
app.add_typer(authority_cmds.app, name="authority")
app.add_typer(directory_cmds.app, name="directory")
app.add_typer(directory_cmds.users, name="users")
app.add_typer(lease_cmds.app, name="lease")
app.add_typer(desktop_cmds.app, name="desktop")
app.add_typer(serve_cmds.tokens, name="token")
app.add_typer(serve_cmds.admins, name="admin")
app.command("serve")(serve_cmds.serve)
app.command("open")(access_cmds.open_document)
app.command("close")(access_cmds.close_session)
app.command("touch")(access_cmds.touch_session)
app.command("user")(access_cmds.user_cals)
app.command("clear-cal-data")(maintenance_cmds.clear_cal_data)
app.command("backup")(maintenance_cmds.backup)
app.command("restore")(maintenance_cmds.restore)
app.command("migrate-to")(maintenance_cmds.migrate_to)
app.command("audit")(maintenance_cmds.audit)
app.command("denials")(maintenance_cmds.denials)
app.add_typer(operations_cmds.sessions, name="sessions")
app.add_typer(operations_cmds.alerts, name="alerts")
app.command("report")(operations_cmds.report)
app.command("export")(operations_cmds.export)
app.command("reclaim")(operations_cmds.reclaim)


def run() -> None:
    """Entry point of the console script."""
    app()
