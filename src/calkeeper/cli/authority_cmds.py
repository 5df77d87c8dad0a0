"""``calkeeper authority ...``: the vendor's signing keys and LEFs (used by the demo and by tests)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import typer

from calkeeper.authority.signing import create_key, load_signing_key, make_lef, sign_lef
from calkeeper.cli import authority_service_cmds
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import err, fail, out, reporting
from calkeeper.core.keys import load_public_keys
from calkeeper.core.serials import control_number, new_serial

app = typer.Typer(help="The vendor's license authority: its service, sites, keys and LEFs.", no_args_is_help=True)
app.command("serve")(authority_service_cmds.serve)
app.add_typer(authority_service_cmds.sites, name="site")
app.add_typer(authority_service_cmds.keys, name="key")
app.add_typer(authority_service_cmds.tokens, name="token")

KEYS = typer.Option(None, "--keys", help="The authority's key folder (default: <data dir>/authority/keys, "
                                          "or keys/ in CALKEEPER_AUTHORITY_DIR).")


def _keys_dir(ctx: typer.Context, keys: Path | None) -> Path:
    return keys or authority_service_cmds.authority_settings(ctx, None, None).keys_dir


@app.command("init")
def init(ctx: typer.Context, keys: Path | None = KEYS,
         trust: bool = typer.Option(False, "--trust", help="Also pin the new public key on this site.")) -> None:
    """Make a new Ed25519 signing key and make it the active one."""
    ctx_of(ctx).require_local(ctx)
    folder = _keys_dir(ctx, keys)
    key = create_key(folder)
    out.print(f"New signing key {key.key_id} in {folder} (private key mode 0600).")
    out.print(f"Public key to give to sites: {folder / (key.key_id + '.pub')}")
    if trust:
        _pin(ctx, folder / f"{key.key_id}.pub")


@app.command("trust")
def trust(ctx: typer.Context, public_key: Path = typer.Argument(..., help="A .pub file from the authority.")) -> None:
    """Pin an authority public key on this site: LEFs signed with it are accepted."""
    ctx_of(ctx).require_local(ctx)
    with reporting():
        _pin(ctx, public_key)


def _pin(ctx: typer.Context, public_key: Path) -> None:
    try:
        key_id = next(iter(load_public_keys([public_key])))
    except (OSError, ValueError, StopIteration) as error:
        fail(f"{public_key} is not an Ed25519 public key ({error})", 2)
    target = ctx_of(ctx).settings.trusted_keys_dir
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(public_key, target / f"{key_id}.pub")
    out.print(f"This site now trusts LEFs signed with key {key_id}.")


@app.command("issue")
def issue(
    ctx: typer.Context,
    serial: str | None = typer.Option(None, "--serial", help="The site's serial (default: a new one)."),
    owner: str = typer.Option(..., "--owner"),
    org: str = typer.Option(..., "--org"),
    named: int = typer.Option(..., "--named", min=0),
    document: int = typer.Option(0, "--document", min=0),
    session: int = typer.Option(0, "--session", min=0),
    usage: int = typer.Option(0, "--usage", min=0),
    maintenance_until: str | None = typer.Option(None, "--maintenance-until", help="YYYY-MM-DD"),
    time_limit: str | None = typer.Option(None, "--time-limit", help="YYYY-MM-DD: the license expires."),
    lease: bool = typer.Option(True, "--lease/--no-lease", help="LICENSE_LEASE;YES or NO."),
    output: Path | None = typer.Option(None, "--out", help="Write the LEF here instead of printing it."),
    keys: Path | None = KEYS,
) -> None:
    """Sign a LEF for a site; prints the serial and control number on standard error."""
    ctx_of(ctx).require_local(ctx)
    try:
        until = date.fromisoformat(maintenance_until) if maintenance_until else None
        limit = date.fromisoformat(time_limit) if time_limit else None
    except ValueError as error:
        fail(f"dates are YYYY-MM-DD ({error})", 2)
    with reporting():
        key = load_signing_key(_keys_dir(ctx, keys))
    serial = serial or new_serial()
    text = sign_lef(make_lef(serial=serial, owner=owner, organization=org, named=named, document=document,
                             session=session, usage=usage, maintenance_until=until, time_limit=limit,
                             lease=lease), key)
    if output:
        output.write_text(text, encoding="utf-8", newline="")
    else:
        out.file.write(text)
    err.print(f"serial {serial}  control {control_number(serial)}  signed with {key.key_id}", highlight=False)
