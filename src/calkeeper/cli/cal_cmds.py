"""``calkeeper cal ...``: the CAL pools, the General settings and Named User CALs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import fail, out, print_lines, reporting, show, table, when

app = typer.Typer(help="CAL pools, settings and Named User CALs.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


@app.command("show")
def show_pools(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Pools per CAL type (in license, assigned, quarantined, free, excess) and the settings."""
    with reporting(as_json):
        overview = ctx_of(ctx).site().cal_overview()

    def render() -> None:
        if not overview.licensed:
            out.print("No license is in force: apply one with 'calkeeper license apply'.")
        table("CAL pools", ["CAL type", "in license", "assigned", "quarantined", "free", "excess", "allocated"],
              [[p.label, p.in_license, p.assigned, p.quarantined, p.free, p.excess, p.allocated]
               for p in overview.pools])
        s = overview.settings
        out.print(f"Allow dynamic CAL assignment: {'yes' if s.allow_dynamic_assignment else 'no'}")
        lease = "yes" if s.allow_license_lease else "no"
        if s.allow_license_lease and not s.lease_allowed_by_license:
            lease += " (but the license says LICENSE_LEASE;NO)"
        out.print(f"Allow license lease: {lease}")
        out.print(f"Identification: by {s.identification_mode} name")
        if s.other_kind_note:
            out.print(f"{s.other_kind_note}.")
        if s.maintenance:
            out.print("The server is in maintenance: opens are refused.")

    show(overview, as_json, render)


@app.command("settings")
def settings(
    ctx: typer.Context,
    dynamic: bool | None = typer.Option(None, "--dynamic/--no-dynamic", help="Allow dynamic CAL assignment."),
    lease: bool | None = typer.Option(None, "--lease/--no-lease", help="Allow license lease."),
    identify: str | None = typer.Option(None, "--identify", help="Identify Named CALs by 'user' or 'machine'."),
    as_json: bool = JSON,
) -> None:
    """Change the server-wide CAL settings (the General tab)."""
    if dynamic is None and lease is None and identify is None:
        fail("say what to change: --dynamic/--no-dynamic, --lease/--no-lease or --identify user|machine", 2)
    with reporting(as_json):
        result = ctx_of(ctx).site().update_cal_settings(
            allow_dynamic_assignment=dynamic, allow_license_lease=lease, identification_mode=identify
        )
    note = f" {result.other_kind_note}." if result.other_kind_note else ""
    show(result, as_json, lambda: out.print(
        f"Saved. Dynamic CAL assignment: {'on' if result.allow_dynamic_assignment else 'off'}; "
        f"license lease: {'on' if result.allow_license_lease else 'off'}; "
        f"identification by {result.identification_mode} name.{note}"
    ))


@app.command("assign")
def assign(
    ctx: typer.Context,
    users: str = typer.Argument(..., help="Users separated by ';', e.g. 'ACME\\alice;ACME\\bob'."),
    as_json: bool = JSON,
) -> None:
    """Assign Named User CALs by hand; all or nothing."""
    with reporting(as_json):
        outcomes = ctx_of(ctx).site().assign_named_cals(users)
    show(outcomes, as_json, lambda: print_lines(f"{o.user}: {o.outcome}" for o in outcomes))


@app.command("list")
def list_cals(
    ctx: typer.Context,
    search: str = typer.Option("", "--search", help="Only users whose name contains this."),
    limit: int = typer.Option(100, "--limit", min=1, max=1000, help="Rows per page."),
    after: str = typer.Option("", "--after", help="Start after this user (from the previous page)."),
    as_json: bool = JSON,
) -> None:
    """Assigned Named CALs: user, source, last used (UTC), quarantined until (UTC)."""
    with reporting(as_json):
        page = ctx_of(ctx).site().list_named_cals(after=after, limit=limit, search=search)
    now = datetime.now(UTC)

    def render() -> None:
        table(f"Assigned Named User CALs ({page.total} in all)",
              ["user", "source", "last used", "quarantined until"],
              [[c.user, c.source, when(c.last_used, now=now), when(c.quarantined_until, now=now)]
               for c in page.items])
        if page.next_after:
            out.print(f"More: calkeeper cal list --after '{page.next_after}'")

    show(page, as_json, render)


@app.command("remove")
def remove(
    ctx: typer.Context,
    users: str = typer.Argument(..., help="Users separated by ';'."),
    as_json: bool = JSON,
) -> None:
    """Remove Named CALs: freed at once, or quarantined until last used + 7 days."""
    with reporting(as_json):
        outcomes = ctx_of(ctx).site().remove_named_cals(users)
    show(outcomes, as_json, lambda: print_lines(_removal(o) for o in outcomes))


@app.command("restore")
def restore(
    ctx: typer.Context,
    users: str = typer.Argument(..., help="Users separated by ';'."),
    as_json: bool = JSON,
) -> None:
    """Undo removals while the CAL is quarantined."""
    with reporting(as_json):
        outcomes = ctx_of(ctx).site().restore_named_cals(users)
    show(outcomes, as_json, lambda: print_lines(f"{o.user}: {o.outcome}" for o in outcomes))


@app.command("export")
def export_cals(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="The file to write."),
    format: str = typer.Option("csv", "--format", help="csv or json."),
    as_json: bool = JSON,
) -> None:
    """Write every Named and Document CAL (holder, type, document, source, dates) to a file, to move them."""
    with reporting(as_json):
        count = ctx_of(ctx).site().export_cals(file, format=format)
    show({"file": str(file), "cals": count}, as_json, lambda: out.print(f"{count} CALs written to {file}."))


@app.command("import")
def import_cals(
    ctx: typer.Context,
    file: Path = typer.Argument(..., help="A CAL export (CSV or JSON)."),
    as_json: bool = JSON,
) -> None:
    """Add the CALs of an export file to this site: all or nothing, every problem named."""
    with reporting(as_json):
        outcome = ctx_of(ctx).site().import_cals(file)

    def render() -> None:
        out.print(f"Imported {outcome.named} Named CALs and {outcome.document} Document CALs from {file}.")
        for path, allocation in outcome.allocations_raised.items():
            out.print(f"{path}: allocation raised to {allocation} Document CALs to hold them.")
        if outcome.already_free:
            out.print(f"{outcome.already_free} CALs were left out: their quarantine had ended, so they are free.")

    show(outcome, as_json, render)


def _removal(outcome: object) -> str:
    user = outcome.user  # type: ignore[attr-defined]
    until = outcome.quarantined_until  # type: ignore[attr-defined]
    if until is None:
        return f"{user}: freed at once (not used in the last 7 days); it can be assigned again now"
    return (f"{user}: quarantined until {until:%Y-%m-%d %H:%M} UTC (last used + 7 days); "
            "undo with 'restore' until then")
