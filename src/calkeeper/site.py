"""The CAL server's use cases behind one object, and ``open_site`` to make it.

    site = calkeeper.open_site("sqlite:///calkeeper.db", trusted_keys=keys, root_folder=Path("docs"))
    decision = site.open_document("ACME\\\\rep1", "SalesFlash.qvw", machine="PC-17")
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from calkeeper.core.authority import LicenseAuthority
from calkeeper.core.clock import Clock, SystemClock
from calkeeper.infra.database import make_engine
from calkeeper.services.access import AccessUseCases
from calkeeper.services.console_users import ConsoleUserUseCases
from calkeeper.services.idempotency import IdempotencyUseCases
from calkeeper.services.licensing import LicenseUseCases
from calkeeper.services.maintenance import MaintenanceUseCases
from calkeeper.services.named_cals import NamedCalUseCases
from calkeeper.services.tokens import TokenUseCases
from calkeeper.store.engine import migrate


class Site(AccessUseCases, NamedCalUseCases, LicenseUseCases, MaintenanceUseCases, TokenUseCases,
           IdempotencyUseCases, ConsoleUserUseCases):
    """One site's CAL server: license, CAL pools, documents, the access gate, maintenance.

    Every method is one use case run in one transaction. Errors are ``calkeeper.errors`` classes.
    """

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def open_site(
    database_url: str,
    *,
    clock: Clock | None = None,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    root_folder: str | Path | None = None,
    actor: str = "api",
    migrate_schema: bool = True,
    cache_refresh_seconds: float = 0.5,
    engine_options: dict[str, Any] | None = None,
    authority: LicenseAuthority | None = None,
) -> Site:
    """Connect to a site's database (migrating it to the newest schema) and return its use cases.

    ``trusted_keys`` are the license authority's pinned public keys by key id; ``clock`` lets tests
    and embedders move time; ``actor`` is who the audit trail names when a call does not say;
    ``authority`` is where "Apply license" without a LEF and "Update license from server" fetch the
    LEF (``calkeeper.authority_client.HttpAuthority``, or a fake in tests).
    """
    engine = make_engine(database_url, **(engine_options or {}))
    if migrate_schema:
        migrate(engine)
    return Site(
        engine=engine,
        clock=clock or SystemClock(),
        trusted_keys=trusted_keys or {},
        root_folder=Path(root_folder) if root_folder is not None else None,
        actor=actor,
        cache_refresh_seconds=cache_refresh_seconds,
        authority=authority,
    )
