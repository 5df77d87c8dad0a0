"""``calkeeper open`` / ``close`` / ``user``: the access gate from the command line."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from calkeeper.cli.cal_cmds import JSON
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import emit_json, err, out, reporting, show, table, when
from calkeeper.contract.views import to_json
from calkeeper.core.cals import CalType
from calkeeper.core.error_codes import EXIT_REFUSED


def open_document(
    ctx: typer.Context,
    user: str = typer.Argument(..., help="DOMAIN\\user, or '' for an anonymous user."),
    document: str = typer.Argument(..., help="The document, e.g. SalesFlash.qvw."),
    machine: str | None = typer.Option(None, "--machine", help="The client's machine name."),
    client: str = typer.Option("ajax", "--client", help="ajax, desktop, plugin, mobile or api."),
    as_json: bool = JSON,
) -> None:
    """Ask the CAL server whether a user may open a document, as an app server would."""
    with reporting(as_json):
        decision = ctx_of(ctx).site().open_document(user or None, document, machine=machine, client=client)
    if as_json:
        emit_json({"granted": decision.granted, **to_json(decision)})
    elif decision.granted:
        label = CalType(decision.cal_type).label  # type: ignore[union-attr]
        out.print(f"GRANTED with a {label}: {decision.reason}.")
        out.print(f"Session: {decision.session_id}")  # type: ignore[union-attr]
    else:
        err.print(f"DENIED: {decision.reason}.", highlight=False)
    if not decision.granted:
        raise typer.Exit(EXIT_REFUSED)


def close_session(ctx: typer.Context, session_id: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """End a session (a Session CAL is held at least 15 minutes)."""
    with reporting(as_json):
        result = ctx_of(ctx).site().close_session(session_id)
    show(result, as_json, lambda: out.print(
        f"Session {result.session_id}: {result.outcome}"
        + (f" ({result.released_at:%Y-%m-%d %H:%M} UTC)." if result.released_at else ".")))


def touch_session(ctx: typer.Context, session_id: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """A session's heartbeat (what an app server sends while the user works); exits 1 when it must end."""
    with reporting(as_json):
        result = ctx_of(ctx).site().touch_session(session_id)
    show(result, as_json, lambda: out.print(f"Session {result.session_id}: {result.reason}."))
    if not result.active:
        raise typer.Exit(EXIT_REFUSED)


def user_cals(ctx: typer.Context, user: str = typer.Argument(...), as_json: bool = JSON) -> None:
    """Every CAL a user holds, of every type."""
    with reporting(as_json):
        info = ctx_of(ctx).site().user_cals(user)
    now = datetime.now(UTC)

    def render() -> None:
        rows = []
        if info.named_cal:
            c = info.named_cal
            rows.append(["Named User CAL", "all documents", c.source, when(c.last_used, now=now),
                         when(c.quarantined_until, now=now)])
        for c in info.document_cals:
            rows.append(["Document CAL", c.document or "-", c.source, when(c.last_used, now=now),
                         when(c.quarantined_until, now=now)])
        for s in info.session_cals:
            rows.append(["Session CAL", f"{s['machine']} / {s['client']}", "session",
                         when(s["acquired_at"], now=now), "-"])
        for u in info.usage_cals:
            rows.append(["Usage CAL", u["document"], "usage", when(u["consumed_at"], now=now),
                         f"returns {u['returns_at']:%Y-%m-%d}"])
        if not rows:
            out.print(f"{info.user} holds no CAL.")
            return
        table(f"CALs of {info.user}", ["CAL", "for", "source", "last used", "quarantined until"], rows)

    show(info, as_json, render)
