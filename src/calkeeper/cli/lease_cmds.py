"""``calkeeper lease list|end|revoke``: the license leases of the desktop client, as an admin sees them."""

from __future__ import annotations

import typer

from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import out, reporting, show, table, when
from calkeeper.contract.views import LeaseView

app = typer.Typer(help="License leases of the desktop client: history, end one, revoke a user's.",
                  no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON instead of a table.")


def _rows(leases: list[LeaseView]) -> list[list[object]]:
    return [[lease.lease_id, lease.user, lease.machine, lease.fingerprint[:12], when(lease.leased_at),
             when(lease.renewed_at), when(lease.expires_at),
             lease.state + (f" by {lease.ended_by} {lease.ended_at:%Y-%m-%d %H:%M}" if lease.ended_at else "")]
            for lease in leases]


COLUMNS = ["lease", "user", "machine", "fingerprint", "leased at", "renewed at", "expires at", "state"]


@app.command("list")
def list_leases(ctx: typer.Context, user: str = typer.Option("", "--user", help="Only this user's (DOMAIN\\user)."),
                machine: str = typer.Option("", "--machine", help="Only this machine's."),
                live: bool = typer.Option(False, "--live", help="Only leases neither ended nor run out."),
                ended: bool = typer.Option(False, "--ended", help="Only leases ended or run out."),
                limit: int = typer.Option(100, "--limit", min=1, max=1000), as_json: bool = JSON) -> None:
    """The lease history, newest first."""
    state = "live" if live and not ended else "ended" if ended and not live else "all"
    with reporting(as_json):
        leases = ctx_of(ctx).site().list_leases(user=user, machine=machine, state=state, limit=limit)

    def render() -> None:
        if not leases:
            out.print("No license has been leased." if state == "all" and not user and not machine
                      else "No lease matches.")
            return
        table("License leases", COLUMNS, _rows(leases))

    show(leases, as_json, render)


@app.command("end")
def end_lease(ctx: typer.Context, lease_id: str = typer.Argument(..., help="The lease's id (calkeeper lease list)."),
              as_json: bool = JSON) -> None:
    """End one machine's lease, freeing its place; the client's next connection gets a new one if allowed."""
    with reporting(as_json):
        lease = ctx_of(ctx).site().end_lease(lease_id)
    show(lease, as_json, lambda: out.print(f"The lease of {lease.user} on {lease.machine} is {lease.state}."))


@app.command("revoke")
def revoke(ctx: typer.Context, user: str = typer.Argument(..., help="DOMAIN\\user whose leases are revoked."),
           as_json: bool = JSON) -> None:
    """Revoke a user's leases: the client is refused at its next connection, and reports it revoked."""
    with reporting(as_json):
        leases = ctx_of(ctx).site().revoke_leases(user)

    def render() -> None:
        machines = ", ".join(lease.machine for lease in leases)
        out.print(f"Revoked {len(leases)} lease{'s' if len(leases) != 1 else ''} of {user}"
                  + (f" ({machines})." if leases else "."))

    show(leases, as_json, render)
