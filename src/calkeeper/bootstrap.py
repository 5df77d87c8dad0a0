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

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine

from calkeeper.core.authority import LicenseAuthority
from calkeeper.core.cals import SessionLimits
from calkeeper.core.clock import Clock, SystemClock
from calkeeper.core.directory import Directory
from calkeeper.core.keys import load_public_keys
from calkeeper.infra.database import make_engine
from calkeeper.infra.lease_key import load_or_create_lease_key
from calkeeper.infra.private_paths import make_private, private_folder
from calkeeper.store.engine import migrate
from calkeeper.store.root_folder import RootFolder
from calkeeper.store.unit_of_work import UnitOfWork
from calkeeper.usecases.access import Access
from calkeeper.usecases.admin import AdminTransactions
from calkeeper.usecases.alerts import AlertChannel, AlertPolicy, Alerts
from calkeeper.usecases.builtin_directory import BuiltinDirectory
from calkeeper.usecases.cal_transfer import CalTransfers
from calkeeper.usecases.console_users import ConsoleUsers
from calkeeper.usecases.decision_cache import DecisionCache, LastUsedWrites
from calkeeper.usecases.directory import DirectoryAdmin
from calkeeper.usecases.directory_sign_in import DirectoryRoles, DirectorySignIn, TrustedProxies
from calkeeper.usecases.document_cals import DocumentCals
from calkeeper.usecases.documents import Documents
from calkeeper.usecases.exports import Exports
from calkeeper.usecases.grant_tally import GrantTally
from calkeeper.usecases.group_rules import GroupRules
from calkeeper.usecases.idempotency import Idempotency
from calkeeper.usecases.leases import DesktopSignIn, Leases
from calkeeper.usecases.licensing import Licensing
from calkeeper.usecases.live_sessions import LiveSessions
from calkeeper.usecases.maintenance import Maintenance
from calkeeper.usecases.named_cals import NamedCals
from calkeeper.usecases.outage import Outage
from calkeeper.usecases.pools import Pools
from calkeeper.usecases.reclaim import Reclaim
from calkeeper.usecases.reports import Reports
from calkeeper.usecases.session_life import SessionLife
from calkeeper.usecases.sessions import Sessions
from calkeeper.usecases.site_move import SiteMove
from calkeeper.usecases.tokens import Tokens
from calkeeper.usecases.usage_history import HistoryPolicy, UsageHistory

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
    outage: Outage
    maintenance: Maintenance
    reports: Reports
    tokens: Tokens
    console_users: ConsoleUsers
    idempotency: Idempotency
    builtin_directory: BuiltinDirectory
    directory: Directory  # the built-in one, or LDAP / Active Directory
    directory_admin: DirectoryAdmin
    group_rules: GroupRules
    trusted_proxies: TrustedProxies
    live_sessions: LiveSessions
    usage_history: UsageHistory
    exports: Exports
    cal_transfers: CalTransfers
    site_move: SiteMove
    reclaim: Reclaim
    alerts: Alerts
    leases: Leases
    desktop_sign_in: DesktopSignIn

    def close(self) -> None:
        """Release the database connections."""
        self.uow.close()
        self.engine.dispose()


def build_application(
    database_url: str,
    *,
    clock: Clock | None = None,
    trusted_keys: Mapping[str, Ed25519PublicKey] | None = None,
    root_folder: str | Path | None = None,
    mounted_folders: Mapping[str, str | Path] | None = None,
    actor: str = "api",
    migrate_schema: bool = True,
    cache_refresh_seconds: float = 0.5,
    engine_options: dict[str, Any] | None = None,
    authority: LicenseAuthority | None = None,
    session_limits: SessionLimits | None = None,
    second_machine_takes_over: bool = False,
    degraded_minutes: float = 0.0,
    directory: Directory | None = None,
    directory_roles: DirectoryRoles | None = None,
    trusted_proxies: TrustedProxies | None = None,
    node: str | None = None,
    history: HistoryPolicy | None = None,
    alert_policy: AlertPolicy | None = None,
    alert_channels: list[AlertChannel] | None = None,
    lease_key: Ed25519PrivateKey | None = None,
    group_commit: bool = False,
) -> Application:
    """Connect to a site's database (migrating it to the newest schema) and wire every use case.

    ``trusted_keys`` are the license authority's pinned public keys by key id; ``clock`` lets tests
    and embedders move time; ``actor`` is who the audit trail names when a call does not say;
    ``authority`` is where "Apply license" without a LEF and "Update license from server" fetch the LEF.
    ``second_machine_takes_over``: an open from a second machine while a Named or Document CAL is in
    use on another ends the sessions there (True) instead of being refused (False, the default).
    ``degraded_minutes``: while the database is unavailable, holders' opens are answered from memory for
    at most this long (0, the default here: never; the server's setting defaults to 5).
    ``mounted_folders`` are the folders mounted under the root folder, by the name of their branch.
    ``group_commit``: on SQLite, concurrent write transactions share one commit (``store.group_commit``).
    The root folder is looked at once here; after that, by the server's upkeep and by admin listings.
    ``directory`` is the site's LDAP directory (None: the built-in one); ``directory_roles`` the groups whose
    members sign in to the console (None: only local console accounts); ``trusted_proxies`` single sign-on.
    ``node`` names this server node on the sessions it grants; ``history`` how usage history is kept;
    ``alert_policy`` and ``alert_channels`` when alerts are raised and where they go.
    ``lease_key`` signs license leases (None: a key made for this process only, which no LEF vouches for
    until "Update license from server" runs in it).
    """
    engine = make_engine(database_url, **(engine_options or {}))
    if migrate_schema:
        migrate(engine)
    clock = clock or SystemClock()
    uow = UnitOfWork(engine, clock, node=node, group_commit=group_commit)
    cache = DecisionCache(clock, refresh_seconds=cache_refresh_seconds)
    history = history or HistoryPolicy()
    last_used, grant_tally = LastUsedWrites(), GrantTally(history=history.enabled)
    session_limits = session_limits or SessionLimits()
    outage = Outage(uow=uow, clock=clock, window=timedelta(minutes=degraded_minutes))
    admin = AdminTransactions(uow, cache, last_used, actor)
    mounts = {name: Path(folder) for name, folder in (mounted_folders or {}).items()}
    folder = RootFolder(Path(root_folder), mounts) if root_folder is not None else None
    documents = Documents(admin=admin, root_folder=folder)
    if migrate_schema:
        documents.scan_documents(actor=actor)  # the first look at the root folder; upkeep and listings do the rest
    builtin = BuiltinDirectory(uow=uow, default_actor=actor)
    directory = directory or builtin
    sign_in = DirectorySignIn(directory=directory, roles=directory_roles) if directory_roles else None
    named_cals = NamedCals(admin=admin)
    document_cals = DocumentCals(admin=admin, documents=documents)
    leases = Leases(admin=admin, clock=clock, key=lease_key or Ed25519PrivateKey.generate())
    maintenance = Maintenance(admin=admin, clock=clock, trusted_keys=trusted_keys or {})
    return Application(
        engine=engine, uow=uow, clock=clock, authority=authority, cache=cache, last_used=last_used,
        grant_tally=grant_tally,
        licensing=Licensing(admin=admin, clock=clock, trusted_keys=trusted_keys or {}, authority=authority,
                            lease_key=leases.public_key()),
        pools=Pools(admin=admin),
        named_cals=named_cals,
        documents=documents,
        document_cals=document_cals,
        access=Access(uow=uow, clock=clock, cache=cache, last_used=last_used, grant_tally=grant_tally,
                      sessions=session_limits, second_machine_takes_over=second_machine_takes_over, outage=outage),
        outage=outage,
        sessions=Sessions(admin=admin),
        session_life=SessionLife(uow=uow, limits=session_limits, writes=last_used),
        maintenance=maintenance,
        site_move=SiteMove(maintenance=maintenance, clock=clock, trusted_keys=trusted_keys or {}),
        reports=Reports(admin=admin, grant_tally=grant_tally),
        tokens=Tokens(uow=uow, default_actor=actor),
        console_users=ConsoleUsers(uow=uow, default_actor=actor, directory=sign_in),
        idempotency=Idempotency(uow=uow),
        builtin_directory=builtin,
        directory=directory,
        directory_admin=DirectoryAdmin(directory=directory, admin=admin, documents=documents),
        group_rules=GroupRules(directory=directory, admin=admin, documents=documents, clock=clock),
        trusted_proxies=trusted_proxies or TrustedProxies(None),
        live_sessions=LiveSessions(admin=admin, limits=session_limits),
        usage_history=UsageHistory(uow=uow, policy=history),
        exports=Exports(admin=admin),
        cal_transfers=CalTransfers(admin=admin),
        reclaim=Reclaim(admin=admin, named_cals=named_cals, document_cals=document_cals),
        alerts=Alerts(uow=uow, policy=alert_policy, channels=alert_channels),
        leases=leases,
        desktop_sign_in=DesktopSignIn(uow=uow, directory=directory),
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
        root_folder=settings.documents, mounted_folders=settings.mounted_folders, actor=actor,
        migrate_schema=migrate_schema,
        cache_refresh_seconds=settings.cache_refresh_seconds, engine_options=engine_options,
        authority=authority or authority_from_settings(settings),
        session_limits=SessionLimits(idle_timeout=timedelta(minutes=settings.session_idle_minutes),
                                     maximum=timedelta(hours=settings.session_max_hours)),
        second_machine_takes_over=settings.second_machine_takes_over,
        degraded_minutes=settings.degraded_minutes,
        directory=directory_from_settings(settings),
        directory_roles=(DirectoryRoles(settings.directory_admins_group, settings.directory_viewers_group)
                         if settings.directory_admins_group or settings.directory_viewers_group else None),
        trusted_proxies=TrustedProxies(settings.sso_header, tuple(settings.sso_proxies)),
        node=settings.node_name,
        history=HistoryPolicy(enabled=settings.history_enabled, hourly_days=settings.history_hourly_days,
                              retention_days=settings.history_retention_days),
        alert_policy=AlertPolicy(pool_percent=dict(settings.alert_pool_percent),
                                 denial_minutes=settings.alert_denial_minutes, license_days=settings.alert_license_days,
                                 maintenance_days=settings.alert_maintenance_days),
        alert_channels=alert_channels_from_settings(settings),
        lease_key=load_or_create_lease_key(settings.lease_key_path),
        group_commit=settings.group_commit,
    )


def alert_channels_from_settings(settings: Settings) -> list[AlertChannel]:
    """The webhooks and the mailbox the settings send alerts to."""
    from calkeeper.alert_channels import EmailChannel, WebhookChannel  # httpx: only a server from settings needs it

    channels: list[AlertChannel] = [WebhookChannel(url, settings.alert_webhook_secret or "", node=settings.node_name)
                                    for url in settings.alert_webhooks]
    if settings.smtp_host:
        channels.append(EmailChannel(settings.smtp_host, settings.smtp_port, settings.smtp_from, settings.smtp_to,
                                     username=settings.smtp_username, password=settings.smtp_password,
                                     starttls=settings.smtp_starttls))
    return channels


def directory_from_settings(settings: Settings) -> Directory | None:
    """The LDAP or Active Directory directory the settings describe; None: the built-in directory."""
    if not settings.directory_url:
        return None
    from calkeeper.directory.ldap_directory import LdapConfig, LdapDirectory  # ldap3: only when a site uses LDAP

    ad = settings.directory_type == "active_directory"
    return LdapDirectory(LdapConfig(
        url=settings.directory_url, user_base=settings.directory_user_base, group_base=settings.directory_group_base,
        domain=settings.directory_domain, bind_dn=settings.directory_bind_dn or None,
        bind_password=settings.directory_password(), active_directory=ad, start_tls=settings.directory_start_tls,
        ca_file=str(settings.directory_ca_file) if settings.directory_ca_file else None,
        login_attribute=settings.directory_login_attribute or ("sAMAccountName" if ad else "uid"),
        display_attribute=settings.directory_display_attribute,
        user_filter=settings.directory_user_filter or ("(&(objectCategory=person)(objectClass=user))" if ad
                                                       else "(objectClass=inetOrgPerson)"),
        group_filter=settings.directory_group_filter or ("(objectClass=group)" if ad else "(objectClass=groupOfNames)"),
        timeout_seconds=settings.directory_timeout_seconds,
    ))


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
