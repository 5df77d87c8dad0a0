"""``calkeeper doc ...``: documents of the root folder and their Document CALs."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from calkeeper.cli.cal_cmds import JSON, _removal
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import out, print_lines, reporting, show, table, when
from calkeeper.core.documents import DocumentProblem

app = typer.Typer(help="Documents and their Document CALs.", no_args_is_help=True)


@app.command("list")
def list_documents(ctx: typer.Context, as_json: bool = JSON) -> None:
    """The documents in the root folder (folders linked into it and those mounted with
    CALKEEPER_MOUNTED_FOLDERS=NAME=PATH;... are branches), their allocation and whether they went missing;
    then the files there that cannot be served (also: 'doc problems')."""
    with reporting(as_json):
        site = ctx_of(ctx).site()
        documents = site.list_documents()
        problems = [] if as_json else site.document_problems()

    def render() -> None:
        table("Documents", ["document", "CALs allocated", "assigned", "dynamic", "status"],
              [[d.path, d.cals_allocated, d.cals_assigned, "yes" if d.allow_dynamic_assignment else "no",
                f"MISSING since {d.missing_since:%Y-%m-%d %H:%M} UTC" if d.missing_since else "ok"]
               for d in documents])
        if problems:
            _problems_table(problems)

    show(documents, as_json, render)


@app.command("problems")
def problems(ctx: typer.Context, as_json: bool = JSON) -> None:
    """Document files in the root folder that cannot be served, and why: rename or remove them."""
    with reporting(as_json):
        found = ctx_of(ctx).site().document_problems()

    def render() -> None:
        if found:
            _problems_table(found)
        else:
            out.print("Every document file in the root folder can be served.")

    show(found, as_json, render)


def _problems_table(problems: list[DocumentProblem]) -> None:
    # quoted, so that blanks around a name show
    table("Cannot be served", ["file", "why"], [[f"'{p.path}'", p.reason] for p in problems])


@app.command("allocate")
def allocate(
    ctx: typer.Context,
    document: str = typer.Argument(..., help="The document, e.g. SalesFlash.qvw."),
    cals: int = typer.Argument(..., help="Number of CALs allocated to this document."),
    as_json: bool = JSON,
) -> None:
    """Set "Number of CALs allocated to this Document"."""
    with reporting(as_json):
        view = ctx_of(ctx).site().update_document(document, cals_allocated=cals)
    show(view, as_json, lambda: out.print(
        f"{view.path}: {view.cals_allocated} Document CALs allocated, {view.cals_assigned} assigned."))


@app.command("dynamic")
def dynamic(
    ctx: typer.Context,
    document: str = typer.Argument(...),
    state: str = typer.Argument(..., help="on or off"),
    as_json: bool = JSON,
) -> None:
    """Turn the document's "Allow dynamic CAL assignment" on or off."""
    if state not in {"on", "off"}:
        raise typer.BadParameter("say 'on' or 'off'", param_hint="STATE")
    with reporting(as_json):
        view = ctx_of(ctx).site().update_document(document, allow_dynamic_assignment=state == "on")
    show(view, as_json, lambda: out.print(
        f"{view.path}: dynamic CAL assignment {'on' if view.allow_dynamic_assignment else 'off'}."))


@app.command("assign")
def assign(ctx: typer.Context, document: str = typer.Argument(...),
           users: str = typer.Argument(..., help="Users separated by ';'."), as_json: bool = JSON) -> None:
    """Assign Document CALs for one document; all or nothing."""
    with reporting(as_json):
        outcomes = ctx_of(ctx).site().assign_document_cals(document, users)
    show(outcomes, as_json, lambda: print_lines(f"{o.user}: {o.outcome}" for o in outcomes))


@app.command("remove")
def remove(ctx: typer.Context, document: str = typer.Argument(...),
           users: str = typer.Argument(..., help="Users separated by ';'."), as_json: bool = JSON) -> None:
    """Remove Document CALs: freed at once, or quarantined until last used + 7 days."""
    with reporting(as_json):
        outcomes = ctx_of(ctx).site().remove_document_cals(document, users)
    show(outcomes, as_json, lambda: print_lines(_removal(o) for o in outcomes))


@app.command("restore")
def restore(ctx: typer.Context, document: str = typer.Argument(...),
            users: str = typer.Argument(..., help="Users separated by ';'."), as_json: bool = JSON) -> None:
    """Undo Document CAL removals while quarantined."""
    with reporting(as_json):
        outcomes = ctx_of(ctx).site().restore_document_cals(document, users)
    show(outcomes, as_json, lambda: print_lines(f"{o.user}: {o.outcome}" for o in outcomes))


@app.command("users")
def users(ctx: typer.Context, document: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """Users holding Document CALs for a document, with last used and quarantine."""
    with reporting(as_json):
        cals = ctx_of(ctx).site().list_document_cals(document)
    now = datetime.now(UTC)
    show(cals, as_json, lambda: table(
        f"Document CALs of {document}", ["user", "source", "last used", "quarantined until"],
        [[c.user, c.source, when(c.last_used, now=now), when(c.quarantined_until, now=now)] for c in cals]))


@app.command("release")
def release(ctx: typer.Context, document: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """Release the CALs of a document that went missing from the root folder."""
    with reporting(as_json):
        result = ctx_of(ctx).site().release_missing_document(document)
    show(result, as_json, lambda: out.print(
        f"{result.document}: released {result.cals_released} Document CALs and forgot the document."))
