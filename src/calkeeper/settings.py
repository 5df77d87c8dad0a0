"""Typed settings from the environment (``CALKEEPER_*``) and the command line; they fail closed."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from calkeeper.core.comparison import comparison_key
from calkeeper.core.documents import mount_name_problem
from calkeeper.core.errors import InvalidInput
from calkeeper.infra.settings import default_data_dir, known_database


class Settings(BaseSettings):
    """Where a site keeps its data, and whom it trusts.

    Layout of the data dir (each path can be set on its own):
        calkeeper.db      the SQLite database (the default; CALKEEPER_DATABASE_URL overrides)
        documents/        the root folder of documents (CALKEEPER_MOUNTED_FOLDERS mounts more under it)
        trusted-keys/     the license authority's public keys (*.pub) this site accepts
        backups/          backups written before clearing CAL data
        lease-key/        the site's lease-signing key (private; CALKEEPER_LEASE_KEY_FILE overrides)
    """

    model_config = SettingsConfigDict(env_prefix="CALKEEPER_", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    root_folder: Path | None = None
    mounted_folders: Annotated[dict[str, Path], NoDecode] = Field(
        default_factory=dict, description="Folders mounted under the root folder, each a branch of the document "
                                          "tree: NAME=PATH pairs separated by ';' (Archive=/srv/archive;EU=/mnt/eu)")
    trusted_keys: Path | None = None
    lease_key_file: Path | None = Field(default=None, description="The site's lease-signing key (made on first "
                                                                  "start); every node of a site shares one")
    cache_refresh_seconds: float = Field(default=0.5, gt=0, le=60)
    session_idle_minutes: float = Field(default=30.0, gt=0, le=7 * 24 * 60,
                                        description="A session with no heartbeat or open for this long ends by itself")
    session_max_hours: float = Field(default=24.0, gt=0, le=31 * 24, description="The longest a session may last")
    degraded_minutes: float = Field(
        default=5.0, ge=0, le=24 * 60,
        description="While the database is unavailable, opens by users who hold a CAL are answered from memory "
                    "for at most this long (0: never)")
    group_commit: bool = Field(
        default=True, description="On SQLite, write transactions that arrive together share one commit (one writer "
                                  "in the process, no waiting on the database's lock); on PostgreSQL, a process's "
                                  "transactions that lock a CAL pool take turns in the order they came")
    second_machine_takes_over: bool = Field(
        default=False, description="A Named or Document CAL in use on one machine: an open from another machine ends "
                                   "the sessions there and takes it over, instead of being refused")
    document_scan_seconds: float = Field(default=10.0, gt=0, le=86400,
                                         description="How often a server looks at the root folder for new documents")
    root_path: str = Field(default="", description="URL prefix when served behind a reverse proxy, e.g. /calkeeper")
    forwarded_allow_ips: str = Field(default="127.0.0.1", description="Proxies whose X-Forwarded-* headers are trusted")
    access_log: bool = Field(default=False, description="Log each request to standard output, in the Common Log Format "
                                                        "(calkeeper serve turns it on unless --no-access-log)")
    authority_url: str | None = Field(default=None, description="The license authority, e.g. https://lef.vendor.example")
    authority_timeout_seconds: float = Field(default=5.0, gt=0, le=120)
    authority_daily_check: bool = Field(default=False, description="Fetch and apply a newer LEF once a day")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=2**31,
                                description="The largest request body the server reads (a restore takes its own "
                                            "larger limit)")
    publish_api_docs: bool = Field(default=False, description="Serve /api/openapi.json and /api/docs to anyone, "
                                                              "not only to callers with a token or a console session")
    trusted_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Host names the server answers to, comma-separated "
                                          "(calkeeper.example.org,*.example.org); empty: any")

    # -- operations (docs/operations.md) --------------------------------------------------------------
    node_name: str = Field(default_factory=lambda: socket.gethostname()[:100] or "calkeeper", min_length=1,
                           max_length=100, description="This node's name, shown on the sessions it grants")
    history_enabled: bool = Field(default=True, description="Count grants by user and document for the usage "
                                                            "reports, and note each pool's peak in use")
    history_hourly_days: int = Field(default=31, ge=1, le=366, description="Keep usage history by the hour this "
                                                                           "long, then by the day")
    history_retention_days: int = Field(default=400, ge=1, le=3660, description="Forget usage history and "
                                                                               "denials older than this")
    reclaim_inactive_days: int = Field(default=0, ge=0, le=36500, description="Reclaim on a schedule the CALs "
                                                                             "unused this long (0: never)")
    reclaim_type: Literal["", "named", "document"] = Field(default="", description="Reclaim only Named or "
                                                                                  "Document CALs (empty: both)")
    reclaim_every_hours: float = Field(default=24.0, gt=0, le=24 * 366)
    alert_pool_percent: Annotated[dict[str, float], NoDecode] = Field(
        default_factory=lambda: {"named": 90.0, "document": 90.0, "session": 90.0, "usage": 90.0},
        description="Alert when this share of a pool is in use: one percent for every pool (90), or "
                    "TYPE=PERCENT pairs separated by ';' (named=90;usage=80); 0 turns a pool's alert off")
    alert_denial_minutes: float = Field(default=60.0, ge=0, le=7 * 24 * 60, description="Alert while an open "
                                        "was refused for want of a CAL within this many minutes (0: never)")
    alert_license_days: int = Field(default=30, ge=0, le=3660)
    alert_maintenance_days: int = Field(default=30, ge=0, le=3660)
    alert_webhooks: Annotated[list[str], NoDecode] = Field(default_factory=list, description="URLs alerts are "
                                                           "posted to, comma-separated")
    alert_webhook_secret: str | None = Field(default=None, repr=False, description="The HMAC key webhooks are "
                                                                                  "signed with")
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = True
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_from: str = "calkeeper@localhost"
    smtp_to: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Alert recipients, "
                                                    "comma-separated")
    backup_every_hours: float = Field(default=0, ge=0, le=24 * 366, description="Write a backup this often into "
                                                                               "the backups folder (0: never)")
    backup_keep: int = Field(default=14, ge=1, le=10000, description="Scheduled backups kept; older ones go")

    @field_validator("alert_webhooks", "smtp_to", mode="before")
    @classmethod
    def _list(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("alert_pool_percent", mode="before")
    @classmethod
    def _percents(cls, value: object) -> object:
        types = ("named", "document", "session", "usage")
        if isinstance(value, int | float):
            return dict.fromkeys(types, float(value))
        if not isinstance(value, str):
            return value
        if "=" not in value:
            return dict.fromkeys(types, float(value.strip() or 0))
        percents = dict.fromkeys(types, 90.0)
        for pair in value.split(";"):
            if pair.strip():
                name, _, percent = pair.partition("=")
                if name.strip() not in types:
                    raise ValueError(f"a pool is one of {', '.join(types)}, not '{name.strip()}'")
                percents[name.strip()] = float(percent)
        return percents

    @model_validator(mode="after")
    def _alert_channels(self) -> Settings:
        if any(not 0 <= p <= 100 for p in self.alert_pool_percent.values()):
            raise ValueError("an alert's pool percent is 0 to 100")
        for url in self.alert_webhooks:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"a webhook URL must start with http:// or https:// (got '{url}')")
        if self.alert_webhooks:
            secret = (self.alert_webhook_secret or "").strip()
            if len(secret) < 16 or secret.casefold() in {"change-me", "changeme", "secret", "password"}:
                raise ValueError("webhooks need CALKEEPER_ALERT_WEBHOOK_SECRET: a secret of 16 characters or more, "
                                 "not a placeholder")
        if self.smtp_host and not self.smtp_to:
            raise ValueError("e-mail alerts need CALKEEPER_SMTP_TO: whom to send them to")
        return self

    # -- the site's directory (docs/directory.md): none set means the built-in directory -------------------
    directory_url: str | None = Field(default=None, description="ldap://HOST (StartTLS) or ldaps://HOST; "
                                                                "empty: the built-in directory")
    directory_type: Literal["ldap", "active_directory"] = "ldap"
    directory_start_tls: bool = Field(default=True, description="StartTLS on ldap:// (turn off only on a "
                                                                "loopback or otherwise protected network)")
    directory_ca_file: Path | None = Field(default=None, description="The CA certificates the server's is checked "
                                                                     "against (default: the system's)")
    directory_bind_dn: str | None = None
    directory_bind_password: str | None = Field(default=None, repr=False)
    directory_bind_password_file: Path | None = None
    directory_user_base: str = ""
    directory_group_base: str = ""
    directory_domain: str = Field(default="", description="The DOMAIN of DOMAIN\\user names, e.g. ACME")
    directory_login_attribute: str | None = Field(default=None, description="default: sAMAccountName (AD), uid")
    directory_display_attribute: str = "displayName"
    directory_user_filter: str | None = None
    directory_group_filter: str | None = None
    directory_timeout_seconds: float = Field(default=5.0, ge=1, le=120)
    directory_sync_minutes: float = Field(default=0, ge=0, le=7 * 24 * 60,
                                          description="Sync the group rules this often (0: only when asked)")
    directory_admins_group: str | None = Field(default=None, description="Its members sign in as console admins")
    directory_viewers_group: str | None = Field(default=None, description="Its members sign in as console viewers")
    sso_header: str | None = Field(default=None, description="The header a reverse proxy names the signed-in "
                                                             "user in, e.g. X-Remote-User")
    sso_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Addresses (or networks) of the proxies whose SSO header is believed")

    @field_validator("sso_proxies", mode="before")
    @classmethod
    def _proxy_list(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _directory_complete(self) -> Settings:
        if self.directory_url:
            if not self.directory_url.lower().startswith(("ldap://", "ldaps://")):
                raise ValueError(f"the directory URL must start with ldap:// or ldaps:// (got '{self.directory_url}')")
            missing = [name for name in ("directory_user_base", "directory_group_base", "directory_domain")
                       if not getattr(self, name).strip()]
            if missing:
                raise ValueError(f"an LDAP directory needs {', '.join(f'CALKEEPER_{m.upper()}' for m in missing)}")
            if self.directory_bind_dn and not self.directory_bind_password and not self.directory_bind_password_file:
                raise ValueError("the directory's bind DN needs a password: set CALKEEPER_DIRECTORY_BIND_PASSWORD "
                                 "or CALKEEPER_DIRECTORY_BIND_PASSWORD_FILE")
            if self.directory_bind_password_file and not self.directory_bind_password_file.is_file():
                raise ValueError(f"the directory's bind password file {self.directory_bind_password_file} "
                                 "cannot be read")
            if (self.directory_bind_password or "").strip().casefold() in {"change-me", "changeme", "secret",
                                                                           "password"}:
                raise ValueError("the directory's bind password is a placeholder: set the real one")
        if self.sso_header and not self.sso_proxies:
            raise ValueError("single sign-on needs CALKEEPER_SSO_PROXIES: the proxies whose header is believed")
        return self

    def directory_password(self) -> str:
        """The directory's bind password, from the setting or its file (never printed)."""
        if self.directory_bind_password:
            return self.directory_bind_password
        if self.directory_bind_password_file:
            return self.directory_bind_password_file.read_text(encoding="utf-8").strip()
        return ""

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        return known_database(value)

    @field_validator("authority_url")
    @classmethod
    def _http_authority(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"the license authority URL must start with http:// or https:// (got '{value}')")
        return value.rstrip("/")

    @field_validator("trusted_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return [part.strip() for part in value.split(",") if part.strip()] if isinstance(value, str) else value

    @field_validator("mounted_folders", mode="before")
    @classmethod
    def _mounts(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        mounts: dict[str, str] = {}
        for pair in value.split(";"):
            if not pair.strip():
                continue
            name, sep, path = pair.partition("=")
            name, path = name.strip(), path.strip()
            if not sep or not path:
                raise ValueError(f"a mounted folder is NAME=PATH, not '{pair.strip()}'")
            mounts[name] = path
        return mounts

    @field_validator("mounted_folders")
    @classmethod
    def _mount_names(cls, value: dict[str, Path]) -> dict[str, Path]:
        keys: set[str] = set()
        for name, path in value.items():
            if problem := mount_name_problem(name):
                raise ValueError(f"'{name}' cannot name a mounted folder: {problem}")
            if comparison_key(name) in keys:
                raise ValueError(f"two mounted folders are named '{name}'")
            if not path.is_absolute():
                raise ValueError(f"the folder mounted as '{name}' must be an absolute path (got '{path}')")
            keys.add(comparison_key(name))
        return value

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'calkeeper.db'}"

    @property
    def documents(self) -> Path:
        return self.root_folder or self.data_dir / "documents"

    @property
    def trusted_keys_dir(self) -> Path:
        return self.trusted_keys or self.data_dir / "trusted-keys"

    @property
    def backups_dir(self) -> Path:
        return self.data_dir / "backups"

    @property
    def lease_key_path(self) -> Path:
        return self.lease_key_file or self.data_dir / "lease-key" / "lease.key"

    @property
    def authority_keys_dir(self) -> Path:
        return self.data_dir / "authority" / "keys"


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a bad value into an error an admin can act on."""
    from pydantic import ValidationError

    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'setting'}: {e['msg']}" for e in error.errors())
        raise InvalidInput(f"the configuration is not valid: {problems}") from None
