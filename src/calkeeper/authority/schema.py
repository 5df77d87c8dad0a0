"""The license authority's tables: the sites the vendor sold to, what happened to each, admin tokens.

They live in the authority's own database (or beside a CAL server's tables in one PostgreSQL
database: every name starts with ``authority_``, and Alembic keeps its own version table,
``authority_alembic_version``). The migrations in ``migrations/`` create them.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from calkeeper.infra.database import NAMING, UtcDateTime, table_of


class AuthorityBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class AuthoritySite(AuthorityBase):
    """A site the vendor sold to: its serial, and what its newest LEF says."""

    __tablename__ = "authority_sites"
    serial: Mapped[str] = mapped_column(String(16), primary_key=True)
    control: Mapped[str] = mapped_column(String(5))
    owner: Mapped[str] = mapped_column(String(200))
    organization: Mapped[str] = mapped_column(String(200))
    named_cals: Mapped[int] = mapped_column(Integer)
    document_cals: Mapped[int] = mapped_column(Integer)
    session_cals: Mapped[int] = mapped_column(Integer)
    usage_cals: Mapped[int] = mapped_column(Integer)
    lease_allowed: Mapped[bool] = mapped_column(Boolean)
    time_limit: Mapped[date | None] = mapped_column(Date, nullable=True)
    maintenance_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    lease_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_fetched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_fetched_from: Mapped[str | None] = mapped_column(String(300), nullable=True)
    __table_args__ = (
        CheckConstraint("named_cals >= 1", name="named_cals"),
        CheckConstraint("document_cals >= 0 AND session_cals >= 0 AND usage_cals >= 0", name="counts"),
    )


class AuthoritySiteEvent(AuthorityBase):
    """One change to a site: created, CALs added, terms changed, lease key recorded."""

    __tablename__ = "authority_site_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    serial: Mapped[str] = mapped_column(String(16), ForeignKey("authority_sites.serial"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[str] = mapped_column(Text)
    __table_args__ = (Index("ix_authority_site_events_serial", "serial", "id"),)


class AuthorityToken(AuthorityBase):
    """An admin token of the authority's REST API; only its SHA-256 is kept."""

    __tablename__ = "authority_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


sites_t = table_of(AuthoritySite)
events_t = table_of(AuthoritySiteEvent)
tokens_t = table_of(AuthorityToken)
