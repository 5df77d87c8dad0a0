"""Backup, restore, moving the site to another database, clearing CAL data, the audit trail and denials."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from calkeeper.cli.cal_cmds import JSON
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import fail, out, reporting, show, table
from calkeeper.site import LocalSite


def clear_cal_data(
    ctx: typer.Context,
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    backup: Path | None = typer.Option(None, "--backup", help="Where to write the backup first."),
    as_json: bool = JSON,
) -> None:
    """Remove every CAL assignment, allocation, quarantine, session and usage record (backup first).

    The license, documents, their other settings, users and configuration stay.
    """
    cli = ctx_of(ctx)
    if cli.remote and backup:
        fail("--backup names a file on this machine: a server writes its backup in its own backups folder", 2)
    # A server picks the backup file itself; locally it goes where --backup says, or to the backups folder.
    target = None if cli.remote else (
        backup or cli.settings.backups_dir / f"before-clear-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}.json")
    if not yes:
        out.print("This removes every CAL assignment, document allocation, quarantine, session and usage "
                  "record. The license, documents, users and settings stay.")
        out.print(f"A backup is written first to {target or 'the backups folder of ' + str(cli.server)}.")
        if not typer.confirm("Clear all CAL data?", default=False):
            out.print("Nothing was changed.")
            raise typer.Exit(1)
    with reporting(as_json):
        outcome = cli.site().clear_cal_data(backup_to=target)
    show(outcome, as_json, lambda: out.print(
        f"CAL data cleared ({', '.join(f'{k}: {v}' for k, v in outcome.removed.items())}).\n"
        f"Backup: {outcome.backup}; undo with 'calkeeper restore {outcome.backup}' on the site's host."))


def backup(ctx: typer.Context, file: Path = typer.Argument(..., help="The backup file to write."),
           as_json: bool = JSON) -> None:
    """Write the site's data (settings, license, documents, CALs) to a file (with --server: download it)."""
    with reporting(as_json):
        counts = ctx_of(ctx).site().backup(file)
    show(counts, as_json, lambda: out.print(
        f"Backup written to {file} ({sum(counts.values())} rows)."))


def restore(ctx: typer.Context, file: Path = typer.Argument(..., help="A backup file."),
            as_json: bool = JSON) -> None:
    """Replace the site's data with a backup (with --server: uploaded); the audit trail is kept and notes it."""
    with reporting(as_json):
        counts = ctx_of(ctx).site().restore(file)
    show(counts, as_json, lambda: out.print(f"Restored {file} ({sum(counts.values())} rows)."))


def audit(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    action: str = typer.Option("", "--action", help="Only this action, e.g. named_cal.assigned."),
    target: str = typer.Option("", "--target", help="Only entries about this user or document."),
    as_json: bool = JSON,
) -> None:
    """Who changed what, when (newest first)."""
    with reporting(as_json):
        entries = ctx_of(ctx).site().audit(limit=limit, action=action, target=target)
    show(entries, as_json, lambda: table(
        "Audit trail", ["when (UTC)", "who", "action", "target", "details"],
        [[f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target,
          ", ".join(f"{k}={v}" for k, v in e.details.items())] for e in entries]))


def denials(ctx: typer.Context, limit: int = typer.Option(50, "--limit", min=1, max=10000),
            as_json: bool = JSON) -> None:
    """Opens that were refused: who, when, which document, why."""
    with reporting(as_json):
        rows = ctx_of(ctx).site().denials(limit=limit)
    show(rows, as_json, lambda: table(
        "Denials", ["when (UTC)", "user", "document", "machine", "reason"],
        [[f"{r.at:%Y-%m-%d %H:%M:%S}", r.user_name or "(anonymous)", r.document, r.machine, r.reason]
         for r in rows]))


def migrate_to(
    ctx: typer.Context,
    url: str = typer.Argument(..., help="The empty target database, e.g. postgresql+psycopg://cal@db/cal."),
    as_json: bool = JSON,
) -> None:
    """Move this site's data whole into an empty database (schema migrated first), then compare both sides.

    Stop the server first: what changes after the snapshot is not moved.
    """
    cli = ctx_of(ctx)
    cli.require_local(ctx)
    site = cli.site()
    assert isinstance(site, LocalSite)
    with reporting(as_json):
        report = site.migrate_to(url)

    def render() -> None:
        table(f"Moved to {report.target}", ["table", "rows here", "rows there"],
              [[name, here, there] for name, (here, there) in report.tables.items()])
        table("Pool counters", ["counter", "here", "there"],
              [[name, here, there] for name, (here, there) in report.counters.items()])
        if report.consistent:
            out.print("Every table's rows and every pool counter match (the target's audit trail holds one entry "
                      "more: the move). Point CALKEEPER_DATABASE_URL at the new database and start the server.")
        else:
            fail("the copy does not match: " + "; ".join(report.differences))

    show(report, as_json, render)
