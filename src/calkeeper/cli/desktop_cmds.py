"""``calkeeper desktop ...``: the desktop client's "Open in Server", a real client of a CAL server's API.

The lease is kept in the user's config folder (``CALKEEPER_DESKTOP_DIR`` overrides it); ``status`` checks
it offline. ``client_factory`` builds the client each command uses (tests give it another machine or clock).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from calkeeper.cli.output import emit_json, out, print_lines, reporting, show
from calkeeper.client.desktop import DesktopClient, desktop_folder

app = typer.Typer(help="The desktop client: trust the vendor's key, Open in Server, the lease's status.",
                  no_args_is_help=True)

JSON = typer.Option(False, "--json", help="Print JSON.")
IDENTITY = typer.Option(None, "--alternate-identity", "-u",
                        help="Connect as this user id (DOMAIN\\user), checked by the site's directory; "
                             "default: your NT identity, through the site's single sign-on proxy.")
PASSWORD_STDIN = typer.Option(False, "--password-stdin", help="Read the alternate identity's password from stdin.")

client_factory: Callable[[], DesktopClient] = lambda: DesktopClient(desktop_folder())  # noqa: E731


def _password(user: str | None, from_stdin: bool) -> str | None:
    if user is None:
        return None
    return sys.stdin.readline().rstrip("\n") if from_stdin else getpass.getpass(f"Password for {user}: ")


@app.command("trust")
def trust(key_file: Path = typer.Argument(..., help="The vendor's public key (.pub, PEM).", exists=True,
                                          dir_okay=False)) -> None:
    """Trust the vendor's public key: the only thing a lease is checked against."""
    with reporting():
        key_id = client_factory().trust(key_file)
    out.print(f"Trusted the vendor's key {key_id}.")


@app.command("documents")
def documents(url: str = typer.Argument(..., help="The CAL server, e.g. https://cal.acme.example"),
              user: str | None = IDENTITY, password_stdin: bool = PASSWORD_STDIN, as_json: bool = JSON) -> None:
    """Connect and show the folders and documents the server offers."""
    password = _password(user, password_stdin)
    with reporting(as_json):
        found = client_factory().documents(url, user=user, password=password)
    show(found, as_json, lambda: print_lines([f"Connected to {url} as {found.user}.",
                                              *(f"  [folder] {f}" for f in found.folders),
                                              *(f"  {d}" for d in found.documents)]))


@app.command("open-in-server")
def open_in_server(url: str = typer.Argument(..., help="The CAL server, e.g. https://cal.acme.example"),
                   user: str | None = IDENTITY, password_stdin: bool = PASSWORD_STDIN,
                   document: str | None = typer.Option(None, "--open", help="Open this document in the server."),
                   as_json: bool = JSON) -> None:
    """Connect, open a document if one is named, and receive (or renew) this machine's 30-day lease."""
    password = _password(user, password_stdin)
    client = client_factory()
    with reporting(as_json):
        got = client.open_in_server(url, user=user, password=password, document=document)
    status = client.status()
    if as_json:
        emit_json({"user": got.user, "opened": got.opened, "renewed": got.renewed, "status": status.as_json()})
        return
    lines = [f"Connected to {url} as {got.user}."]
    if got.opened is not None:
        lines.append(f"Opened {got.opened['document']} ({got.opened['cal_type']} CAL)." if got.opened["granted"]
                     else f"Not opened: {got.opened['reason']}")
    lines.append(f"Lease {'renewed' if got.renewed else 'received'} for {got.lease.machine}.")
    lines.append(status.message)
    print_lines(lines)


@app.command("status")
def status(as_json: bool = JSON) -> None:
    """Offline, from the stored lease alone: licensed until when, or why not. Exit 0 when licensed, 1 when not."""
    found = client_factory().status()
    if as_json:
        emit_json(found.as_json())
    else:
        out.print(found.message)
    raise typer.Exit(0 if found.licensed else 1)
