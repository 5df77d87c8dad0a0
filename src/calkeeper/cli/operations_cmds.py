"""Operations: ``calkeeper sessions``, ``report``, ``export``, ``reclaim`` and ``alerts``."""

from __future__ import annotations

import csv
import sys
from datetime import date
from pathlib import Path

import typer

from calkeeper.cli.cal_cmds import JSON
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import out, reporting, show, table, when
from calkeeper.contract.views import ReportView
from calkeeper.core.errors import InvalidInput

sessions = typer.Typer(help="Sessions in use now, and ending one.", no_args_is_help=True)
alerts = typer.Typer(help="Alerts raised and cleared, and where they went.", no_args_is_help=True)


@sessions.command("list")
def list_sessions(
    ctx: typer.Context,
    search: str = typer.Option("", "--search", "-s", help="Only sessions of this user, machine or document."),
    cal_type: str = typer.Option("", "--type", help="Only sessions served by this CAL type: named, document, "
                                                    "session, usage."),
    node: str = typer.Option("", "--node", help="Only sessions this server node granted."),
    limit: int = typer.Option(1000, "--limit", min=1, max=100_000),
    as_json: bool = JSON,
) -> None:
    """Every session in use now: user, machine, client, document, CAL type, started, last activity, node."""
    with reporting(as_json):
        found = ctx_of(ctx).site().list_sessions(search=search, cal_type=cal_type, node=node, limit=limit)
    show(found, as_json, lambda: table(
        f"Sessions in use ({len(found)})", ["session", "user", "machine", "client", "document", "CAL", "started",
                                            "last activity", "node"],
        [[s.id, s.user or "(anonymous)", s.machine, s.client, s.document, s.cal_type, when(s.started_at),
          when(s.last_activity), s.node] for s in found]))


@sessions.command("end")
def end_session(ctx: typer.Context, session_id: str = typer.Argument(..., help="The session's id."),
                as_json: bool = JSON) -> None:
    """End a session: its app server learns it at the next heartbeat ("ended by an administrator")."""
    cli = ctx_of(ctx)
    with reporting(as_json):
        outcome = cli.site().end_session(session_id, actor=cli.actor)
    show(outcome, as_json, lambda: out.print(f"{outcome.session_id}: {outcome.outcome}"))


def _day(value: str | None, option: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} is a day, YYYY-MM-DD (got '{value}')") from None


def _print_report(view: ReportView, as_csv: bool) -> None:
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(view.columns)
        writer.writerows(view.rows)
        return
    table(f"{view.report} by {view.by}, {view.start} to {view.end} (UTC days)", view.columns, view.rows)
    if not view.rows:
        out.print("Nothing was recorded in this period.")


def report(
    ctx: typer.Context,
    kind: str = typer.Argument(..., help="usage (grants and peaks), denials, or peaks (CALs in use at most)."),
    start: str = typer.Option(None, "--from", help="The first UTC day, YYYY-MM-DD (default: 29 days before --to)."),
    end: str = typer.Option(None, "--to", help="The last UTC day, YYYY-MM-DD (default: today)."),
    by: str = typer.Option("type", "--by", help="type, day, user, document (denials: reason too)."),
    as_csv: bool = typer.Option(False, "--csv", help="Print CSV."),
    as_json: bool = JSON,
) -> None:
    """Usage history: grants and peak in use per CAL type per day, denials by reason, user or document."""
    with reporting(as_json):
        view = ctx_of(ctx).site().report(kind, start=_day(start, "--from"), end=_day(end, "--to"), by=by)
    show(view, as_json, lambda: _print_report(view, as_csv))


def export(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="named-cals, document-cals, users, sessions, denials or audit."),
    file: Path = typer.Argument(..., help="The CSV file to write (with --server: downloaded into)."),
    as_json: bool = JSON,
) -> None:
    """Write a list as CSV."""
    with reporting(as_json):
        rows = ctx_of(ctx).site().export_csv(name, file)
    show({"rows": rows, "file": str(file)}, as_json, lambda: out.print(f"{rows} rows written to {file}."))


def reclaim(
    ctx: typer.Context,
    inactive_days: int = typer.Option(..., "--inactive-days", min=1, max=36_500,
                                      help="Reclaim CALs not used for this many days (or never, and assigned "
                                           "that long ago)."),
    cal_type: str = typer.Option("", "--type", help="Only named or document CALs (default: both)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list the CALs it would reclaim."),
    as_json: bool = JSON,
) -> None:
    """Remove the Named and Document CALs of inactive users (quarantine rules hold)."""
    cli = ctx_of(ctx)
    with reporting(as_json):
        done = cli.site().reclaim(inactive_days=inactive_days, cal_type=cal_type, dry_run=dry_run, actor=cli.actor)

    def render() -> None:
        title = (f"CALs unused for {inactive_days} days (dry run: nothing changed)" if dry_run
                 else f"CALs reclaimed (unused for {inactive_days} days)")
        table(title, ["user", "CAL", "document", "assigned", "last used", "outcome", "quarantined until"],
              [[e.user, e.cal_type, e.document, when(e.assigned_at), when(e.last_used), e.outcome,
                when(e.quarantined_until) if e.quarantined_until else None] for e in done.entries])
        if not done.entries:
            out.print("No CAL has been unused that long.")

    show(done, as_json, render)


@alerts.command("list")
def list_alerts(ctx: typer.Context, limit: int = typer.Option(20, "--limit", min=1, max=1000),
                as_json: bool = JSON) -> None:
    """The alerts (raised ones first) and the newest deliveries."""
    with reporting(as_json):
        view = ctx_of(ctx).site().alerts(limit=limit)

    def render() -> None:
        table("Alerts", ["alert", "state", "message", "raised", "cleared"],
              [[a.key, "raised" if a.cleared_at is None else "cleared", a.message, when(a.raised_at),
                when(a.cleared_at) if a.cleared_at else None] for a in view.alerts])
        table("Deliveries", ["when", "alert", "event", "channel", "target", "attempts", "delivered", "error"],
              [[when(d.at), d.alert_key, d.event, d.channel, d.target, d.attempts, "yes" if d.delivered else "no",
                d.error] for d in view.deliveries])

    show(view, as_json, render)


@alerts.command("test")
def test_alerts(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Send a test alert to every webhook and mailbox configured."""
    with reporting(as_json):
        done = ctx_of(ctx).site().test_alerts()
    show(done, as_json, lambda: table(
        "Test alert", ["channel", "target", "attempts", "delivered", "error"],
        [[d.channel, d.target, d.attempts, "yes" if d.delivered else "no", d.error] for d in done]))


