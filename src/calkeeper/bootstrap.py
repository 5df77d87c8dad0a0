"""The composition root: the one place a running CAL server is built.

``bootstrap(settings)`` reads the settings and calls ``build_application``, which makes the
database engine, the unit of work, the clock, the authority client, the caches and every use case,
each given what it needs. ``calkeeper serve``, every CLI command, the demo, the benchmarks and the
tests all build their site here; nothing is built at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine

from calkeeper.core.authority import LicenseAuthority
from calkeeper.core.cals import SessionLimits
from calkeeper.core.clock import Clock, SystemClock
from calkeeper.core.keys import load_public_keys
from calkeeper.infra.database import make_engine
from calkeeper.infra.private_paths import make_private, private_folder
from calkeeper.store.engine import migrate
from calkeeper.store.root_folder import RootFolder
from calkeeper.store.unit_of_work import UnitOfWork
from calkeeper.usecases.access import Access
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.console_users import ConsoleUsers
from calkeeper.usecases.decision_cache import DecisionCache, LastUsedWrites
from calkeeper.usecases.document_cals import DocumentCals
from calkeeper.usecases.documents import Documents
from calkeeper.usecases.grant_tally import GrantTally
from calkeeper.usecases.idempotency import Idempotency
from calkeeper.usecases.licensing import Licensing
from calkeeper.usecases.maintenance import Maintenance
from calkeeper.usecases.named_cals import NamedCals
from calkeeper.usecases.pools import Pools
from calkeeper.usecases.reports import Reports
from calkeeper.usecases.session_life import SessionLife
from calkeeper.usecases.sessions import Sessions
from calkeeper.usecases.tokens import Tokens

if TYPE_CHECKING:
    from calkeeper.settings import Settings


@dataclass(frozen=True, eq=False)
class Application:
    """A running CAL server: its infrastructure and its use cases, grouped by capability."""

    engine: Engine
    uow: UnitOfWork
    clock: Clock
    authority: LicenseAuthority | None
    cache: DecisionCache
    last_used: LastUsedWrites
    grant_tally: GrantTally
    licensing: Licensing
    pools: Pools
    named_cals: NamedCals
    documents: Documents
    document_cals: DocumentCals
    access: Access
    sessions: Sessions
    session_life: SessionLife
    maintenance: Maintenance
    reports: Reports
    tokens: Tokens
    console_users: ConsoleUsers
    idempotency: Idempotency

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()


def build_application(
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
    session_limits: SessionLimits | None = None,
    second_machine_takes_over: bool = False,
    group_commit: bool = False,
) -> Application:
    """Connect to a site's database (migrating it to the newest schema) and wire every use case.

    ``trusted_keys`` are the license authority's pinned public keys by key id; ``clock`` lets tests
    and embedders move time; ``actor`` is who the audit trail names when a call does not say;
    ``authority`` is where "Apply license" without a LEF and "Update license from server" fetch the LEF.
    ``second_machine_takes_over``: an open from a second machine while a Named or Document CAL is in
    use on another ends the sessions there (True) instead of being refused (False, the default).
    ``group_commit``: on SQLite, concurrent write transactions share one commit (``store.group_commit``).
    The root folder is looked at once here; after that, by the server's upkeep and by admin listings.
    """
    engine = make_engine(database_url, **(engine_options or {}))
    if migrate_schema:
        migrate(engine)
    clock = clock or SystemClock()
    uow = UnitOfWork(engine, clock, group_commit=group_commit)
    cache = DecisionCache(clock, refresh_seconds=cache_refresh_seconds)
    last_used, grant_tally = LastUsedWrites(), GrantTally()
    session_limits = session_limits or SessionLimits()
    admin = AdminTransactions(uow, cache, last_used, actor)
    documents = Documents(admin=admin, root_folder=RootFolder(Path(root_folder)) if root_folder is not None else None)
    if migrate_schema:
        documents.scan_documents(actor=actor)  # the first look at the root folder; upkeep and listings do the rest
    return Application(
        engine=engine, uow=uow, clock=clock, authority=authority, cache=cache, last_used=last_used,
        grant_tally=grant_tally,
        licensing=Licensing(admin=admin, clock=clock, trusted_keys=trusted_keys or {}, authority=authority),
        pools=Pools(admin=admin),
        named_cals=NamedCals(admin=admin),
        documents=documents,
        document_cals=DocumentCals(admin=admin, documents=documents),
        access=Access(uow=uow, clock=clock, cache=cache, last_used=last_used, grant_tally=grant_tally,
                      sessions=session_limits, second_machine_takes_over=second_machine_takes_over),
        sessions=Sessions(admin=admin),
        session_life=SessionLife(uow=uow, limits=session_limits, writes=last_used),
        maintenance=Maintenance(admin=admin, clock=clock, trusted_keys=trusted_keys or {}),
        reports=Reports(admin=admin, grant_tally=grant_tally),
        tokens=Tokens(uow=uow, default_actor=actor),
        console_users=ConsoleUsers(uow=uow, default_actor=actor),
        idempotency=Idempotency(uow=uow),
    )


def bootstrap(settings: Settings, *, actor: str = "api", clock: Clock | None = None,
              authority: LicenseAuthority | None = None, migrate_schema: bool = True,
              engine_options: dict[str, Any] | None = None) -> Application:
    """Build the CAL server the settings describe (creating the SQLite folder, private, when needed).

    The authority client comes from the settings unless one is given (tests pass a fake).
    """
    from calkeeper.authority_client import authority_from_settings  # httpx: only a server from settings needs it

    _private_folders(settings)
    keys_dir = settings.trusted_keys_dir
    return build_application(
        settings.database, clock=clock, trusted_keys=load_public_keys([keys_dir]) if keys_dir.exists() else {},
        root_folder=settings.documents, actor=actor, migrate_schema=migrate_schema,
        cache_refresh_seconds=settings.cache_refresh_seconds, engine_options=engine_options,
        authority=authority or authority_from_settings(settings),
        session_limits=SessionLimits(idle_timeout=timedelta(minutes=settings.session_idle_minutes),
                                     maximum=timedelta(hours=settings.session_max_hours)),
        second_machine_takes_over=settings.second_machine_takes_over,
    )


def _private_folders(settings: Settings) -> None:
    """The folders of the site's secrets, for the server's account only: new ones are made 0700.

    A data folder that holds a calkeeper database, its backups folder and the demo's authority keys
    are tightened too (earlier versions made them 0755); a folder that is not calkeeper's own (the
    folder of a database kept elsewhere, say) is left as it is.
    """
    if settings.database.startswith("sqlite:///"):
        private_folder(Path(settings.database.removeprefix("sqlite:///")).parent)
    data = settings.data_dir
    if not data.is_dir():
        return
    if (data / "calkeeper.db").exists():
        make_private(data)
    make_private(private_folder(settings.backups_dir))
    make_private(settings.authority_keys_dir)
