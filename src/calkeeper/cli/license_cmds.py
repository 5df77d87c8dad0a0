"""``calkeeper license ...``: the server license (serial, control number, owner, LEF)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from calkeeper.cli.cal_cmds import JSON
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import fail, out, reporting, show, table
from calkeeper.core.lef import MAX_LEF_BYTES, check_size

app = typer.Typer(help="The server license.", no_args_is_help=True)


@app.command("show")
def show_license(ctx: typer.Context, as_json: bool = JSON, lef: bool = typer.Option(False, "--lef",
                 help="Also print the LEF text.")) -> None:
    """The license in force: serial, control, owner, what it grants, its status."""
    with reporting(as_json):
        view = ctx_of(ctx).site().license()
    if view is None:
        if as_json:
            show(None, True, lambda: None)
            return
        fail("no license is in force; apply one with 'calkeeper license apply'")
    assert view is not None

    def render() -> None:
        out.print(f"Serial number:   {view.serial}\nControl number:  {view.control}")
        out.print(f"Owner name:      {view.owner}\nOrganization:    {view.organization}")
        status = view.status.upper()
        if view.time_limit:
            status += f" (time limit {view.time_limit})"
        out.print(f"Status:          {status}")
        out.print(f"Maintenance:     until {view.maintenance_until or 'no end date'}")
        out.print(f"License lease:   {'allowed' if view.lease_allowed else 'not allowed (LICENSE_LEASE;NO)'}")
        out.print(f"Signed by key:   {view.key_id}; applied {view.applied_at:%Y-%m-%d %H:%M} UTC by {view.applied_by}")
        table("CALs in license", ["Named", "Document", "Session", "Usage"],
              [[view.cals["named"], view.cals["document"], view.cals["session"], view.cals["usage"]]])
        if lef:
            out.print(view.lef, markup=False, end="")

    show(view, as_json, render)


@app.command("apply")
def apply(
    ctx: typer.Context,
    serial: str = typer.Option(..., "--serial", help="Serial number (16 digits)."),
    control: str = typer.Option(..., "--control", help="Control number (5 digits)."),
    owner: str = typer.Option(..., "--owner", help="Owner name."),
    org: str = typer.Option(..., "--org", help="Organization."),
    lef: Path | None = typer.Option(None, "--lef", help="The LEF file as the vendor sent it ('-' reads standard "
                                    "input); without it, the LEF is fetched from the license authority."),
    as_json: bool = JSON,
) -> None:
    """Apply a license: checks the control number, the LEF's signature, serial, CALs and dates."""
    with reporting(as_json):
        text = None if lef is None else _lef_text(lef)
        view = ctx_of(ctx).site().apply_license(serial=serial, control=control, owner=owner,
                                                organization=org, lef=text)
    show(view, as_json, lambda: out.print(
        f"License {view.serial} applied: {view.cals['named']} Named, {view.cals['document']} Document, "
        f"{view.cals['session']} Session, {view.cals['usage']} Usage CALs."))


def _lef_text(path: Path) -> str:
    """The LEF in a file ('-': standard input). No more than one byte past MAX_LEF_BYTES is read, and a
    larger LEF gets the error the API answers for it."""
    stdin = str(path) == "-"
    try:
        if stdin:
            raw = sys.stdin.buffer.read(MAX_LEF_BYTES + 1)
        else:
            with path.open("rb") as file:
                raw = file.read(MAX_LEF_BYTES + 1)
    except OSError as error:
        fail(f"cannot read the LEF file {path}: {error}", 2)
    check_size(len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        fail(f"cannot read the LEF file {path}: {error}", 2)
    # standard input is read as text, its line endings made '\n' (as it always was)
    return text.replace("\r\n", "\n").replace("\r", "\n") if stdin else text


@app.command("update")
def update(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Update license from server: fetch the newest LEF for the serial in force and apply it."""
    with reporting(as_json):
        result = ctx_of(ctx).site().update_license(actor=ctx_of(ctx).actor)

    def render() -> None:
        cals = result.license.cals
        if not result.updated:
            out.print(f"License {result.license.serial} is up to date: the authority has nothing newer.")
            return
        changed = ", ".join(f"{k}: {v}" for k, v in result.changes.items()) or "no change in what it grants"
        out.print(f"License {result.license.serial} updated ({changed}): {cals['named']} Named, "
                  f"{cals['document']} Document, {cals['session']} Session, {cals['usage']} Usage CALs.")

    show(result, as_json, render)


@app.command("history")
def history(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Every license applied, newest first, with what changed."""
    with reporting(as_json):
        changes = ctx_of(ctx).site().license_history()
    show(changes, as_json, lambda: table(
        "License history", ["applied", "by", "serial", "changes"],
        [[f"{c.applied_at:%Y-%m-%d %H:%M} UTC", c.applied_by, c.serial,
          ", ".join(f"{k}: {v}" for k, v in c.changes.items()) or "no change"] for c in changes]))
