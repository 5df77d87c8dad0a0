"""``calkeeper authority serve|site|key|token``: the vendor's license authority, run and managed.

The ``site``, ``key`` and ``token`` commands work on the authority's folder and database directly,
like the site's own commands; the same is available over the authority's REST API.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import typer

from calkeeper.authority.database import open_engine
from calkeeper.authority.keys import activate_key, ensure_key, list_keys, rotate_key
from calkeeper.authority.registry import KEEP, Registry, SiteRecord
from calkeeper.authority.settings import AuthoritySettings, load_authority_settings
from calkeeper.authority.tokens import AdminTokens
from calkeeper.cli.cal_cmds import JSON
from calkeeper.cli.context import ctx_of
from calkeeper.cli.output import out, reporting, show, table, when
from calkeeper.infra.database import shown_url

sites = typer.Typer(help="The sites the vendor sold to, and what each bought.", no_args_is_help=True)
keys = typer.Typer(help="The authority's signing keys: list, rotate, activate.", no_args_is_help=True)
tokens = typer.Typer(help="Admin tokens of the authority's REST API.", no_args_is_help=True)

DIR = typer.Option(None, "--dir", envvar="CALKEEPER_AUTHORITY_DIR",
                   help="The authority's folder (default: <data dir>/authority): its database and keys/.")
DB = typer.Option(None, "--db", envvar="CALKEEPER_AUTHORITY_DATABASE_URL",
                  help="The authority's database: sqlite:///FILE (default: authority.db in its folder) or "
                       "postgresql+psycopg://USER@HOST/DB.")
NAMED = typer.Option(0, "--named", min=0, help="Named User CALs.")
DOCUMENT = typer.Option(0, "--document", min=0, help="Document CALs.")
SESSION = typer.Option(0, "--session", min=0, help="Session CALs.")
USAGE = typer.Option(0, "--usage", min=0, help="Usage CALs.")


def authority_settings(ctx: typer.Context, folder: Path | None, db: str | None) -> AuthoritySettings:
    """The authority's settings: --dir / CALKEEPER_AUTHORITY_DIR, else the site data dir's ``authority``."""
    if folder is None and not os.environ.get("CALKEEPER_AUTHORITY_DIR"):
        folder = ctx_of(ctx).settings.data_dir / "authority"
    return load_authority_settings(dir=folder, database_url=db)


@contextmanager
def _registry(ctx: typer.Context, folder: Path | None, db: str | None, as_json: bool = False) -> Iterator[Registry]:
    with reporting(as_json):
        settings = authority_settings(ctx, folder, db)
        engine = open_engine(settings.database)
        try:
            yield Registry(engine, keys_dir=settings.keys_dir)
        finally:
            engine.dispose()


def _date(value: str | None, option: str) -> date | None:
    if value is None or value.lower() == "none":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"a date is YYYY-MM-DD (got '{value}')", param_hint=option) from None


def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8081, "--port", min=1, max=65535),
    forwarded_allow_ips: str = typer.Option("127.0.0.1", "--forwarded-allow-ips",
                                            help="Proxies whose X-Forwarded-For header names the client."),
    folder: Path | None = DIR,
    db: str | None = DB,
) -> None:
    """Run the license authority: sites fetch their LEFs here; the vendor manages sites over /api/v1."""
    import uvicorn

    from calkeeper.authority.api import create_authority_app

    with reporting():
        settings = authority_settings(ctx, folder, db)
        engine = open_engine(settings.database)
        key, made = ensure_key(settings.keys_dir)
        admin_tokens = AdminTokens(engine)
        secret = None if admin_tokens.list() else admin_tokens.create("admin")[1]
        engine.dispose()
    out.print(f"calkeeper license authority serves http://{host}:{port}  (database: {shown_url(settings.database)})")
    out.print(f"{'New signing' if made else 'Signing'} key {key.key_id}; public keys: http://{host}:{port}/keys "
              f"(files in {settings.keys_dir})")
    if secret:
        out.print(f"Admin token (shown once): {secret}")
    sys.stdout.flush()
    uvicorn.run(create_authority_app(settings), host=host, port=port, proxy_headers=True,
                forwarded_allow_ips=forwarded_allow_ips, log_level="warning", access_log=False)


# -- sites ---------------------------------------------------------------------------------------


def _print_site(site: SiteRecord) -> None:
    out.print(f"Serial number:   {site.serial}\nControl number:  {site.control}")
    out.print(f"Owner name:      {site.owner}\nOrganization:    {site.organization}")
    table("CALs bought", ["Named", "Document", "Session", "Usage"],
          [[site.cals["named"], site.cals["document"], site.cals["session"], site.cals["usage"]]])
    out.print(f"Maintenance:     until {site.maintenance_until or 'no end date'}")
    out.print(f"Time limit:      {site.time_limit or 'none'}")
    out.print(f"License lease:   {'allowed' if site.lease_allowed else 'not allowed (LICENSE_LEASE;NO)'}")
    out.print(f"Lease key:       {site.lease_key_id or 'none recorded'}")
    out.print(f"Changed:         {when(site.changed_at)}")
    out.print(f"Last fetched:    {when(site.last_fetched_at)}"
              + (f" from {site.last_fetched_from}" if site.last_fetched_from else ""))


@sites.command("create")
def create_site(
    ctx: typer.Context,
    owner: str = typer.Option(..., "--owner", help="The site's owner name."),
    org: str = typer.Option(..., "--org", help="The site's organization."),
    named: int = typer.Option(..., "--named", min=1, help="Named User CALs (at least 1)."),
    document: int = DOCUMENT, session: int = SESSION, usage: int = USAGE,
    time_limit: str | None = typer.Option(None, "--time-limit", help="YYYY-MM-DD: the whole license expires."),
    maintenance_until: str | None = typer.Option(None, "--maintenance-until",
                                                 help="YYYY-MM-DD: the end of the maintenance period."),
    lease: bool = typer.Option(True, "--lease/--no-lease", help="LICENSE_LEASE;YES or NO."),
    serial: str | None = typer.Option(None, "--serial", help="Keep an existing serial (default: a new one)."),
    folder: Path | None = DIR, db: str | None = DB, as_json: bool = JSON,
) -> None:
    """Record a new site: prints its serial number (16 digits) and control number (5 digits)."""
    limit, until = _date(time_limit, "--time-limit"), _date(maintenance_until, "--maintenance-until")
    with _registry(ctx, folder, db, as_json) as registry:
        site = registry.create_site(owner=owner, organization=org, named=named, document=document,
                                    session=session, usage=usage, time_limit=limit, maintenance_until=until,
                                    lease=lease, serial=serial, actor=ctx_of(ctx).actor)
    show(site, as_json, lambda: out.print(
        f"Site created for {site.owner} ({site.organization}).\n"
        f"Serial number:   {site.serial}\nControl number:  {site.control}"))


@sites.command("add-cals")
def add_cals(ctx: typer.Context, serial: str = typer.Argument(..., help="The site's serial number."),
             named: int = NAMED, document: int = DOCUMENT, session: int = SESSION, usage: int = USAGE,
             folder: Path | None = DIR, db: str | None = DB, as_json: bool = JSON) -> None:
    """Record a purchase: CALs added to the site; it gets them at its next "Update license from server"."""
    with _registry(ctx, folder, db, as_json) as registry:
        site = registry.add_cals(serial, named=named, document=document, session=session, usage=usage,
                                 actor=ctx_of(ctx).actor)
    show(site, as_json, lambda: out.print(
        f"Site {site.serial} now holds {site.cals['named']} Named, {site.cals['document']} Document, "
        f"{site.cals['session']} Session and {site.cals['usage']} Usage CALs."))


@sites.command("set")
def set_terms(
    ctx: typer.Context, serial: str = typer.Argument(..., help="The site's serial number."),
    named: int | None = typer.Option(None, "--named", min=1),
    document: int | None = typer.Option(None, "--document", min=0),
    session: int | None = typer.Option(None, "--session", min=0),
    usage: int | None = typer.Option(None, "--usage", min=0),
    time_limit: str | None = typer.Option(None, "--time-limit", help="YYYY-MM-DD, or 'none' to remove it."),
    maintenance_until: str | None = typer.Option(None, "--maintenance-until",
                                                 help="YYYY-MM-DD, or 'none' for no end date."),
    lease: bool | None = typer.Option(None, "--lease/--no-lease"),
    folder: Path | None = DIR, db: str | None = DB, as_json: bool = JSON,
) -> None:
    """Set a site's terms outright: CAL counts (decreases too), time limit, maintenance end, leasing."""
    changes: dict[str, Any] = {}
    if time_limit is not None:
        changes["time_limit"] = _date(time_limit, "--time-limit")
    if maintenance_until is not None:
        changes["maintenance_until"] = _date(maintenance_until, "--maintenance-until")
    with _registry(ctx, folder, db, as_json) as registry:
        site = registry.change_site(serial, named=named, document=document, session=session, usage=usage,
                                    time_limit=changes.get("time_limit", KEEP),
                                    maintenance_until=changes.get("maintenance_until", KEEP), lease=lease,
                                    actor=ctx_of(ctx).actor)
    show(site, as_json, lambda: _print_site(site))


@sites.command("show")
def show_site(ctx: typer.Context, serial: str = typer.Argument(...), folder: Path | None = DIR,
              db: str | None = DB, as_json: bool = JSON) -> None:
    """One site: serial, control, owner, what it bought, when it last fetched its LEF."""
    with _registry(ctx, folder, db, as_json) as registry:
        site = registry.site(serial)
    show(site, as_json, lambda: _print_site(site))


@sites.command("list")
def list_sites(ctx: typer.Context, folder: Path | None = DIR, db: str | None = DB, as_json: bool = JSON) -> None:
    """Every site and what it holds."""
    with _registry(ctx, folder, db, as_json) as registry:
        found = registry.sites()
    show(found, as_json, lambda: table(
        "Sites", ["serial", "control", "owner", "organization", "named", "document", "session", "usage",
                  "maintenance until", "time limit", "last fetched"],
        [[s.serial, s.control, s.owner, s.organization, *s.cals.values(), s.maintenance_until or "-",
          s.time_limit or "-", f"{s.last_fetched_at:%Y-%m-%d %H:%M}" if s.last_fetched_at else "never"]
         for s in found]))


@sites.command("history")
def site_history(ctx: typer.Context, serial: str = typer.Argument(...), folder: Path | None = DIR,
                 db: str | None = DB, as_json: bool = JSON) -> None:
    """What happened to a site (created, CALs added, terms changed, lease key recorded), newest first."""
    with _registry(ctx, folder, db, as_json) as registry:
        events = registry.history(serial)
    show(events, as_json, lambda: table(
        f"History of site {serial}", ["at", "by", "what", "details"],
        [[f"{e.at:%Y-%m-%d %H:%M} UTC", e.actor, e.action.replace("_", " "),
          ", ".join(f"{k}: {v}" for k, v in e.details.items() if v is not None)] for e in events]))


@sites.command("lef")
def site_lef(ctx: typer.Context, serial: str = typer.Argument(...),
             output: Path | None = typer.Option(None, "--out", help="Write the LEF here instead of printing it."),
             folder: Path | None = DIR, db: str | None = DB) -> None:
    """The site's newest LEF, signed with the active key, for sending by hand."""
    with _registry(ctx, folder, db) as registry:
        text = registry.lef_for(serial)
    if output:
        output.write_text(text, encoding="utf-8", newline="")
    else:
        out.file.write(text)


# -- keys and tokens -----------------------------------------------------------------------------


@keys.command("list")
def list_signing_keys(ctx: typer.Context, folder: Path | None = DIR, as_json: bool = JSON) -> None:
    """Every signing key; the active one signs new LEFs, the others stay published."""
    with reporting(as_json):
        found = list_keys(authority_settings(ctx, folder, None).keys_dir)
    show([{k: v for k, v in vars(key).items() if k != "public_key_pem"} for key in found], as_json, lambda: table(
        "Signing keys", ["key id", "active", "created", "private key"],
        [[k.key_id, "yes" if k.active else "", f"{k.created_at:%Y-%m-%d %H:%M} UTC",
          "present" if k.has_private_key else "absent"] for k in found]))


@keys.command("rotate")
def rotate(ctx: typer.Context, publish_only: bool = typer.Option(
               False, "--publish-only", help="Publish the new key without signing with it yet."),
           folder: Path | None = DIR) -> None:
    """Make a new signing key and sign new LEFs with it; older public keys stay published."""
    with reporting():
        keys_dir = authority_settings(ctx, folder, None).keys_dir
        key = rotate_key(keys_dir, activate=not publish_only)
    state = "published (not yet signing)" if publish_only else "now signs new LEFs"
    out.print(f"New signing key {key.key_id} {state}. Public key: {keys_dir / (key.key_id + '.pub')}")
    out.print("Sites must pin it ('calkeeper authority trust FILE') before their next update; "
              "back up the key folder now.")


@keys.command("activate")
def activate(ctx: typer.Context, key_id: str = typer.Argument(...), folder: Path | None = DIR) -> None:
    """Sign new LEFs with an existing key (one published earlier with --publish-only)."""
    with reporting():
        key = activate_key(authority_settings(ctx, folder, None).keys_dir, key_id)
    out.print(f"Key {key.key_id} now signs new LEFs.")


@tokens.command("create")
def create_token(ctx: typer.Context, name: str = typer.Option("admin", "--name"), folder: Path | None = DIR,
                 db: str | None = DB, as_json: bool = JSON) -> None:
    """Create an admin token for the authority's REST API; its secret is printed once."""
    with _registry(ctx, folder, db, as_json) as registry:
        token, secret = AdminTokens(registry.engine).create(name)
    show({"token": token, "secret": secret}, as_json, lambda: out.print(
        f"Authority admin token '{token.name}' created. Secret, shown once:\n{secret}"))


@tokens.command("revoke")
def revoke_token(ctx: typer.Context, name: str = typer.Argument(...), folder: Path | None = DIR,
                 db: str | None = DB) -> None:
    """Revoke the authority's admin tokens with this name."""
    with _registry(ctx, folder, db) as registry:
        count = AdminTokens(registry.engine).revoke(name)
    out.print(f"Revoked {count} token(s) named '{name}'.")
