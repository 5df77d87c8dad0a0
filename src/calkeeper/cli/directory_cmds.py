"""``calkeeper directory ...`` and ``calkeeper users import``: the site's directory, groups and group rules."""

from __future__ import annotations

from pathlib import Path

import typer

from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import fail, out, print_lines, reporting, show, table
from calkeeper.contract.views import MemberOutcome, SyncReport
from calkeeper.core.error_codes import EXIT_USAGE

app = typer.Typer(help="The site's directory: test it, search it, assign to groups, group rules and sync.",
                  no_args_is_help=True)
users = typer.Typer(help="Users of the built-in directory.", no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")
DOCUMENT = typer.Option(None, "--document", "-d", help="Document CALs for this document (default: Named CALs).")
MAX_IMPORT_BYTES = 64 * 2**20


@app.command("test")
def test_directory(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Connect, bind and search the directory; say in plain words what is wrong."""
    with reporting(as_json):
        check = ctx_of(ctx).site().directory_test()
    show(check, as_json, lambda: print_lines([f"The {check.kind} directory ({check.server}) works:",
                                              *(f"  ok: {step}" for step in check.steps)]))


@app.command("search")
def search(ctx: typer.Context, text: str = typer.Argument("", help="Part of a name."),
           groups: bool = typer.Option(False, "--groups", "-g", help="Search groups instead of users."),
           limit: int = typer.Option(50, "--limit", min=1, max=500), as_json: bool = JSON) -> None:
    """Users (or groups, with member counts) whose name contains TEXT."""
    kind = "group" if groups else "user"
    with reporting(as_json):
        found = ctx_of(ctx).site().search_directory(text, kind=kind, limit=limit)

    def render() -> None:
        if kind == "group":
            table(f"Groups matching '{text}'", ["group", "members", "DN"], [[e.name, e.members, e.ref] for e in found])
        else:
            table(f"Users matching '{text}'", ["user", "display name"], [[e.name, e.display_name] for e in found])
        if len(found) == limit:
            out.print(f"The first {limit} found; type more of the name to narrow the search.")

    show(found, as_json, render)


def _outcome_rows(outcomes: list[MemberOutcome]) -> list[list[str]]:
    return [[o.user, o.outcome, o.detail or (f"until {o.quarantined_until:%Y-%m-%d %H:%M} UTC"
                                             if o.quarantined_until else "")] for o in outcomes]


@app.command("assign")
def assign(ctx: typer.Context, group: str = typer.Argument(..., help="The group's name or DN."),
           document: str | None = DOCUMENT,
           all_or_nothing: bool = typer.Option(False, "--all-or-nothing", help="Assign nobody unless all get one."),
           as_json: bool = JSON) -> None:
    """Give every current member of GROUP a Named CAL (or a Document CAL), once, as far as CALs last."""
    with reporting(as_json):
        done = ctx_of(ctx).site().assign_group(group, document=document, all_or_nothing=all_or_nothing)

    def render() -> None:
        table(f"{done.group}: {done.members} members", ["member", "outcome", ""], _outcome_rows(done.outcomes))
        out.print(f"{done.assigned} CAL{'s' if done.assigned != 1 else ''} assigned.")

    show(done, as_json, render)


@app.command("rules")
def rules(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The group rules."""
    with reporting(as_json):
        found = ctx_of(ctx).site().list_group_rules()
    show(found, as_json, lambda: table("Group rules", ["id", "group", "CAL", "document", "holders", "added by"], [
        [r.id, r.group, r.cal_type, r.document or "", r.holders, r.created_by] for r in found]))


@app.command("rule-add")
def rule_add(ctx: typer.Context, group: str = typer.Argument(..., help="The group's name or DN."),
             document: str | None = DOCUMENT, as_json: bool = JSON) -> None:
    """Add a rule: the members of GROUP hold a Named CAL (or a Document CAL); 'directory sync' applies it."""
    with reporting(as_json):
        rule = ctx_of(ctx).site().add_group_rule(group, document=document)
    what = f"a Document CAL for {rule.document}" if rule.document else "a Named CAL"
    show(rule, as_json, lambda: out.print(f"Rule {rule.id}: the members of {rule.group} hold {what}. "
                                          "Run 'calkeeper directory sync' (--dry-run first) to apply it."))


@app.command("rule-remove")
def rule_remove(ctx: typer.Context, rule_id: int = typer.Argument(..., min=1), as_json: bool = JSON) -> None:
    """Remove a group rule; the CALs it gave stay with their holders."""
    with reporting(as_json):
        rule = ctx_of(ctx).site().remove_group_rule(rule_id)
    show(rule, as_json, lambda: out.print(f"Rule {rule.id} ({rule.group}) removed; its {rule.holders} CALs stay."))


def render_sync(report: SyncReport) -> None:
    if report.waiting:
        out.print(f"The sync waits: {report.waiting}.")
        return
    title = "What the sync would do" if report.dry_run else "What the sync did"
    for part in report.rules:
        rule = part.rule
        what = f"Document CALs for {rule.document}" if rule.document else "Named CALs"
        out.print(f"Rule {rule.id}: {rule.group} ({part.members} members), {what}")
        if part.problem:
            out.print(f"  {part.problem}")
        rows = _outcome_rows(part.assign) + _outcome_rows(part.remove)
        if rows:
            table(title, ["member", "outcome", ""], rows)
        elif not part.problem:
            out.print("  in step: nothing to do")
    if not report.rules:
        out.print("There is no group rule: add one with 'calkeeper directory rule-add GROUP'.")
    if report.dry_run:
        out.print("Dry run: nothing was changed.")


@app.command("sync")
def sync(ctx: typer.Context, dry_run: bool = typer.Option(False, "--dry-run", help="Only say what it would do."),
         as_json: bool = JSON) -> None:
    """Bring the CALs of every group rule in step with its group's members (nested groups count)."""
    with reporting(as_json):
        report = ctx_of(ctx).site().sync_directory(dry_run=dry_run)
    show(report, as_json, lambda: render_sync(report))
    if report.waiting:
        raise typer.Exit(1)


@users.command("import")
def import_users(ctx: typer.Context, file: Path = typer.Argument(..., help="A CSV file: user,display_name,"
                                                                           "password,groups"),
                 as_json: bool = JSON) -> None:
    """Add or replace built-in directory users from a CSV file; all or nothing, each bad row named."""
    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_IMPORT_BYTES + 1)
    except OSError as error:
        fail(f"cannot read {file}: {error.strerror or error}", EXIT_USAGE)
    if len(data) > MAX_IMPORT_BYTES:
        fail(f"{file} is larger than {MAX_IMPORT_BYTES // 2**20} MB; split it", EXIT_USAGE)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        fail(f"{file} is not UTF-8 text", EXIT_USAGE)
    with reporting(as_json):
        done = ctx_of(ctx).site().import_directory_users(text)
    show(done, as_json, lambda: out.print(f"Imported: {done.added} new users, {done.replaced} replaced, "
                                          f"in {done.groups} groups."))
