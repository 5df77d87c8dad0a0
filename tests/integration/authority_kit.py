"""The license authority in tests: a real Registry (no HTTP) behind the CAL server's port, and a scripted one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

import calkeeper
from calkeeper.authority.database import open_engine
from calkeeper.authority.keys import ensure_key
from calkeeper.authority.registry import Registry, SiteRecord
from calkeeper.core.authority import serial_not_found
from calkeeper.core.errors import NotFound
from calkeeper.core.keys import load_public_keys

VENDOR = "vendor"


class RegistryAuthority:
    """The ``LicenseAuthority`` port answered in-process by a real Registry, as the HTTP service would."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.calls = 0

    def fetch_lef(self, *, serial: str, control: str, owner: str, organization: str,
                  lease_key: Ed25519PublicKey | None = None) -> str:
        self.calls += 1
        try:
            return self.registry.fetch_lef(serial=serial, control=control, owner=owner, organization=organization,
                                           lease_key=lease_key, address="in-process")
        except NotFound:
            raise serial_not_found() from None


@dataclass
class ScriptedAuthority:
    """An authority that answers with whatever the test put in ``answer``: LEF text, or an error to raise."""

    answer: str | Exception = ""
    calls: int = 0
    sent_lease_keys: list[Ed25519PublicKey | None] = field(default_factory=list)

    def fetch_lef(self, *, serial: str, control: str, owner: str, organization: str,
                  lease_key: Ed25519PublicKey | None = None) -> str:
        self.calls += 1
        self.sent_lease_keys.append(lease_key)
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def make_registry(folder: Path, clock: calkeeper.FrozenClock, database_url: str | None = None) -> Registry:
    """An authority with a signing key, on SQLite in ``folder`` unless a database is given."""
    keys_dir = folder / "keys"
    ensure_key(keys_dir)
    engine = open_engine(database_url or f"sqlite:///{folder / 'authority.db'}")
    return Registry(engine, keys_dir=keys_dir, clock=clock)


def pinned_keys(registry: Registry) -> dict[str, Ed25519PublicKey]:
    """The authority's public keys as a site pins them."""
    return load_public_keys([registry.keys_dir])


def new_site(registry: Registry, *, named: int = 5, document: int = 20, session: int = 5, usage: int = 28,
             maintenance_until: date | None = date(2027, 12, 31), time_limit: date | None = None,
             lease: bool = True) -> SiteRecord:
    """A site recorded at the authority, as Example Site / Example Org."""
    return registry.create_site(owner="Example Site", organization="Example Org", named=named, document=document,
                                session=session, usage=usage, maintenance_until=maintenance_until,
                                time_limit=time_limit, lease=lease, actor=VENDOR)


def apply_fetched(site: calkeeper.LocalSite, record: SiteRecord, **overrides: str) -> calkeeper.LocalSite:
    """"Apply license" with serial, control, owner and organization, the LEF fetched from the authority."""
    fields = {"serial": record.serial, "control": record.control, "owner": record.owner,
              "organization": record.organization, **overrides}
    site.apply_license(**fields, lef=None)
    return site
