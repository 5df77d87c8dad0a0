"""The tables, as SQLAlchemy 2 models. The Alembic migrations in ``migrations/`` create them.

Capacity is kept as counters beside the rows they count (``cal_pools.used``, ``documents.used``, and the
``counted`` flag of Session and Usage CALs), changed in the same transaction as the rows; see
``store.counters`` for what each counts and the check that they agree.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from calkeeper.infra.database import NAMING, UtcDateTime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class SiteState(Base):
    """One row: the server-wide CAL settings and the change generation caches watch."""

    __tablename__ = "site_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    generation: Mapped[int] = mapped_column(Integer, default=0)
    allow_dynamic_assignment: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_license_lease: Mapped[bool] = mapped_column(Boolean, default=True)
    identification_mode: Mapped[str] = mapped_column(String(16), default="user")
    maintenance: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (
        CheckConstraint("id = 1", name="single_row"),
        CheckConstraint("identification_mode IN ('user', 'machine')", name="identification_mode"),
    )


class CalPool(Base):
    """A row per CAL type: the CALs of that type counted as occupying it, changed (and so locked) by each claim."""

    __tablename__ = "cal_pools"
    cal_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class LicenseRecord(Base):
    """Each license applied, newest last; the newest is the one in force."""

    __tablename__ = "licenses"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(16))
    control: Mapped[str] = mapped_column(String(5))
    owner: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200))
    lef_text: Mapped[str] = mapped_column(Text)
    key_id: Mapped[str] = mapped_column(String(100))
    named_cals: Mapped[int] = mapped_column(Integer)
    document_cals: Mapped[int] = mapped_column(Integer)
    session_cals: Mapped[int] = mapped_column(Integer)
    usage_cals: Mapped[int] = mapped_column(Integer)
    lease_allowed: Mapped[bool] = mapped_column(Boolean)
    time_limit: Mapped[date | None] = mapped_column(Date, nullable=True)
    maintenance_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime)
    applied_by: Mapped[str] = mapped_column(String(200))


class User(Base):
    """Every user name seen, keyed case-insensitively; the first spelling is the one displayed."""

    __tablename__ = "users"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    first_seen: Mapped[datetime] = mapped_column(UtcDateTime)


class NamedCal(Base):
    """A Named User CAL assigned to a user (or a machine, when identifying by machine)."""

    __tablename__ = "named_cals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    identity_kind: Mapped[str] = mapped_column(String(8))
    identity_key: Mapped[str] = mapped_column(String(200))
    identity_name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(8))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    quarantined_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    machine: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the machine it served last
    __table_args__ = (
        UniqueConstraint("identity_kind", "identity_key", name="uq_named_cals_identity"),
        CheckConstraint("source IN ('manual', 'dynamic')", name="source"),
        CheckConstraint("identity_kind IN ('user', 'machine')", name="identity_kind"),
        CheckConstraint("quarantined_until IS NULL OR removed_at IS NOT NULL", name="quarantine_needs_removal"),
        Index("ix_named_cals_quarantined_until", "quarantined_until"),
        Index("ix_named_cals_last_used", "last_used"),
        Index("ix_named_cals_identity_key", "identity_key"),  # pages in name order
    )


class Document(Base):
    """A document found under the root folder, with its Document CAL allocation."""

    __tablename__ = "documents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(1000))
    path_key: Mapped[str] = mapped_column(String(1000), unique=True)
    cals_allocated: Mapped[int] = mapped_column(Integer, default=0)
    allow_dynamic_assignment: Mapped[bool] = mapped_column(Boolean, default=False)
    missing_since: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    claims: Mapped[int] = mapped_column(Integer, default=0)
    used: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))  # its Document CAL rows
    __table_args__ = (CheckConstraint("cals_allocated >= 0", name="allocation_not_negative"),)


class DocumentCal(Base):
    """A Document CAL assigned to a user for one document."""

    __tablename__ = "document_cals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    user_key: Mapped[str] = mapped_column(String(200))
    user_name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(8))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    quarantined_until: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    machine: Mapped[str | None] = mapped_column(String(200), nullable=True)  # the machine it served last
    __table_args__ = (
        UniqueConstraint("document_id", "user_key", name="uq_document_cals_document_user"),
        CheckConstraint("source IN ('manual', 'dynamic')", name="source"),
        CheckConstraint("quarantined_until IS NULL OR removed_at IS NOT NULL", name="quarantine_needs_removal"),
        Index("ix_document_cals_user_key", "user_key"),
        Index("ix_document_cals_quarantined_until", "quarantined_until"),  # quarantines counted, not scanned
    )


class SessionCal(Base):
    """A Session CAL held by one client instance; free once ``released_at`` has passed."""

    __tablename__ = "session_cals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_key: Mapped[str] = mapped_column(String(500))
    user_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    machine: Mapped[str] = mapped_column(String(200))
    client: Mapped[str] = mapped_column(String(16))
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # in the pool's counter: true until a sweep finds its release time passed
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    __table_args__ = (
        Index("ix_session_cals_client_key", "client_key"),
        Index("ix_session_cals_counted_released_at", "counted", "released_at"),
        Index("ix_session_cals_released_at", "released_at"),
        # one held Session CAL per client instance while its sessions are open
        Index("uq_session_cals_open_client", "client_key", unique=True,
              sqlite_where=text("released_at IS NULL"), postgresql_where=text("released_at IS NULL")),
    )


class UsageCal(Base):
    """A Usage CAL consumed for one document: used for 60 minutes, back 28 days after consumption."""

    __tablename__ = "usage_cals"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    holder_key: Mapped[str] = mapped_column(String(200))
    user_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    machine: Mapped[str] = mapped_column(String(200))
    # NULL once its document is released: the CAL still returns 28 days after it was consumed
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), nullable=True)
    consumed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    returns_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # in the pool's counter: true until a sweep finds it returned
    counted: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    __table_args__ = (
        Index("ix_usage_cals_holder", "holder_key", "document_id"),
        Index("ix_usage_cals_counted_returns_at", "counted", "returns_at"),
        Index("ix_usage_cals_returns_at", "returns_at"),
    )


class Session(Base):
    """An open (or ended) session: every granted open is one, whichever CAL serves it."""

    __tablename__ = "sessions"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    cal_type: Mapped[str] = mapped_column(String(16))
    cal_id: Mapped[int] = mapped_column(Integer)
    user_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    machine: Mapped[str] = mapped_column(String(200))
    client: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_activity: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)  # a heartbeat or the start
    end_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)  # when not ended by its client
    node: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the server node that granted it
    __table_args__ = (
        CheckConstraint("cal_type IN ('session', 'usage', 'named', 'document')", name="cal_type"),
        Index("ix_sessions_cal", "cal_type", "cal_id"),
        Index("ix_sessions_open", "ended_at"),
    )


class DenialRecord(Base):
    """An open that was refused: who, when, what, why."""

    __tablename__ = "denials"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    user_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    document: Mapped[str] = mapped_column(String(1000))
    machine: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)


class AuditEntry(Base):
    """One change: who, what, when. Append-only (database triggers refuse updates and deletes)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(1000))
    details: Mapped[str] = mapped_column(Text, default="{}")


class ApiToken(Base):
    """A bearer token for the REST API; only a SHA-256 hash of the secret is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'viewer', 'gate')", name="role"),
        # a name says which token: no two live tokens share one (revoked ones keep theirs)
        Index("uq_api_tokens_live_name", "name", unique=True,
              sqlite_where=text("revoked_at IS NULL"), postgresql_where=text("revoked_at IS NULL")),
    )


class IdempotencyRecord(Base):
    """The answer to a state-changing request sent with an Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotency_keys"
    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ConsoleUser(Base):
    """Someone who signs in to the management console; the password is kept as an argon2 hash."""

    __tablename__ = "console_users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(100))
    username_key: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)


class ConsoleSession(Base):
    """A signed-in console session; the cookie holds a secret whose SHA-256 is the id."""

    __tablename__ = "console_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("console_users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class ConsoleResult(Base):
    """What a console action did (every user's outcome), kept for the session that asked until it is shown.

    A result can be far longer than a cookie holds; the page after the action reads it by its random id.
    """

    __tablename__ = "console_results"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("console_sessions.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    body: Mapped[str] = mapped_column(Text)


class AuthFailure(Base):
    """A failed console sign-in or a bad API token, counted by the brakes of every worker and node.

    Kept for the brake's window only: the audit trail is the lasting record of each failure.
    """

    __tablename__ = "auth_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    __table_args__ = (
        CheckConstraint("kind IN ('sign_in_user', 'sign_in_address', 'token_address', 'lease_user', 'lease_address')",
                        name="kind"),
        Index("ix_auth_failures_subject", "kind", "subject", "at"),
    )


class GrantCount(Base):
    """Opens granted per hour and CAL type, for the dashboard's chart."""

    __tablename__ = "grant_counts"
    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    cal_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    granted: Mapped[int] = mapped_column(Integer, default=0)


class DirectoryUser(Base):
    """A user of the built-in directory: a ``DOMAIN\\user`` name, a display name and an argon2 password hash."""

    __tablename__ = "directory_users"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # None: no password sign-in
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class DirectoryGroup(Base):
    """A group of the built-in directory."""

    __tablename__ = "directory_groups"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class DirectoryMember(Base):
    """A user's membership of a built-in directory group."""

    __tablename__ = "directory_members"
    group_key: Mapped[str] = mapped_column(ForeignKey("directory_groups.key", ondelete="CASCADE"), primary_key=True)
    user_key: Mapped[str] = mapped_column(ForeignKey("directory_users.key", ondelete="CASCADE"), primary_key=True)
    __table_args__ = (Index("ix_directory_members_user_key", "user_key"),)


class GroupRule(Base):
    """A group rule: the members of a directory group hold a Named CAL, or a Document CAL for one document."""

    __tablename__ = "group_rules"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    group_name: Mapped[str] = mapped_column(String(500))
    group_key: Mapped[str] = mapped_column(String(500))
    cal_type: Mapped[str] = mapped_column(String(16))
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    __table_args__ = (
        CheckConstraint("cal_type IN ('named', 'document')", name="cal_type"),
        CheckConstraint("(cal_type = 'document') = (document_id IS NOT NULL)", name="document_for_document_cals"),
        Index("ix_group_rules_group_key", "group_key"),
    )


class GroupRuleCal(Base):
    """A CAL a group rule gave to a member: a sync takes back only these, when the member leaves the group."""

    __tablename__ = "group_rule_cals"
    rule_id: Mapped[int] = mapped_column(ForeignKey("group_rules.id", ondelete="CASCADE"), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    user_name: Mapped[str] = mapped_column(String(200))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ActivityCount(Base):
    """Grants and denials counted by hour (``span`` "hour") and, once older, by day ("day").

    One row per period, outcome, CAL type (grants) or reason code (denials), user and document: a
    year of a site's activity stays small, and the reports read it by day, user or document.
    """

    __tablename__ = "activity_counts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    bucket: Mapped[datetime] = mapped_column(UtcDateTime)
    span: Mapped[str] = mapped_column(String(4))
    outcome: Mapped[str] = mapped_column(String(8))
    cal_type: Mapped[str] = mapped_column(String(16))  # "" for a denial
    code: Mapped[str] = mapped_column(String(40))  # "" for a grant
    user_key: Mapped[str] = mapped_column(String(200))  # "" for anonymous users
    user_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    document_key: Mapped[str] = mapped_column(String(64))  # a digest of the document's comparison key
    document: Mapped[str] = mapped_column(String(1000))
    count: Mapped[int] = mapped_column(Integer, default=0)
    __table_args__ = (
        CheckConstraint("span IN ('hour', 'day')", name="span"),
        CheckConstraint("outcome IN ('grant', 'denial')", name="outcome"),
        UniqueConstraint("bucket", "span", "outcome", "cal_type", "code", "user_key", "document_key",
                         name="uq_activity_counts_cell"),
        Index("ix_activity_counts_span_bucket", "span", "bucket"),
    )


class PoolUsage(Base):
    """The most CALs of a type in use at once within an hour, and how many the license had then."""

    __tablename__ = "pool_usage"
    hour: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True)
    cal_type: Mapped[str] = mapped_column(String(16), primary_key=True)
    peak: Mapped[int] = mapped_column(Integer, default=0)
    in_license: Mapped[int] = mapped_column(Integer, default=0)


class AlertRecord(Base):
    """An alert's state: raised once when its condition starts, cleared once when it ends."""

    __tablename__ = "alerts"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class AlertDelivery(Base):
    """One alert sent (or not) to a webhook or by e-mail: its attempts and its outcome."""

    __tablename__ = "alert_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    alert_key: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(8))
    channel: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    __table_args__ = (
        CheckConstraint("event IN ('raised', 'cleared', 'test')", name="event"),
        CheckConstraint("channel IN ('webhook', 'email')", name="channel"),
    )


class LicenseLease(Base):
    """A user's license lease for the desktop client on one machine: granted, renewed, run out or ended.

    At most one lease not ended per user and machine (a renewal updates it); ended ones stay as history.
    """

    __tablename__ = "license_leases"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    user_key: Mapped[str] = mapped_column(String(200))
    user_name: Mapped[str] = mapped_column(String(200))
    machine: Mapped[str] = mapped_column(String(100))
    fingerprint: Mapped[str] = mapped_column(String(64))
    serial: Mapped[str] = mapped_column(String(16))
    server: Mapped[str] = mapped_column(String(500))
    leased_at: Mapped[datetime] = mapped_column(UtcDateTime)
    renewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    end_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(200), nullable=True)
    __table_args__ = (
        CheckConstraint("end_reason IN ('ended', 'revoked', 'cal_data_cleared')", name="end_reason"),
        CheckConstraint("(ended_at IS NULL) = (end_reason IS NULL)", name="ended_with_reason"),
        Index("ix_license_leases_user_key", "user_key", "ended_at"),
        Index("uq_license_leases_open", "user_key", "fingerprint", unique=True,
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
    )
