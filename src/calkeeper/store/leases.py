"""License leases: the history of who leased the desktop client on which machine, and the claim of a lease."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, insert, or_, select, update

from calkeeper.core.lease_rules import LeaseRecord
from calkeeper.infra.database import table_of
from calkeeper.store.claims import named_t
from calkeeper.store.schema import LicenseLease

lease_t = table_of(LicenseLease)
STATES = ("all", "live", "ended")


def _record(row: Any) -> LeaseRecord:
    return LeaseRecord(
        lease_id=row["id"], user=row["user_name"], user_key=row["user_key"], machine=row["machine"],
        fingerprint=row["fingerprint"], serial=row["serial"], server=row["server"], leased_at=row["leased_at"],
        renewed_at=row["renewed_at"], expires_at=row["expires_at"], ended_at=row["ended_at"],
        end_reason=row["end_reason"], ended_by=row["ended_by"],
    )


class Leases:
    def __init__(self, connection: Connection, now: datetime, *, postgres: bool) -> None:
        self.connection = connection
        self.now = now
        self.postgres = postgres

    def lock_user(self, user_key: str) -> None:
        """Take the lock on the user's Named CAL row, so that two requests of one user count machines in turn.

        SQLite's write transactions hold the database's one write lock already.
        """
        if self.postgres:
            self.connection.execute(
                select(named_t.c.id).where(named_t.c.identity_kind == "user", named_t.c.identity_key == user_key)
                .with_for_update()
            ).all()

    def of_user(self, user_key: str, *, presented: str | None = None) -> list[LeaseRecord]:
        """The user's leases not ended (live or run out), and the one a client presents whatever its state."""
        condition: ColumnElement[bool] = lease_t.c.ended_at.is_(None)
        if presented:
            condition = or_(condition, lease_t.c.id == presented)
        rows = self.connection.execute(
            select(lease_t).where(lease_t.c.user_key == user_key, condition).order_by(lease_t.c.leased_at)
        ).mappings()
        return [_record(row) for row in rows]

    def find(self, lease_id: str) -> LeaseRecord | None:
        row = self.connection.execute(select(lease_t).where(lease_t.c.id == lease_id)).mappings().first()
        return _record(row) if row is not None else None

    def add(self, lease: LeaseRecord) -> None:
        self.connection.execute(insert(lease_t).values(
            id=lease.lease_id, user_key=lease.user_key, user_name=lease.user, machine=lease.machine,
            fingerprint=lease.fingerprint, serial=lease.serial, server=lease.server, leased_at=lease.leased_at,
            renewed_at=None, expires_at=lease.expires_at))

    def renew(self, lease_id: str, *, expires_at: datetime, machine: str, serial: str, server: str) -> None:
        self.connection.execute(update(lease_t).where(lease_t.c.id == lease_id).values(
            renewed_at=self.now, expires_at=expires_at, machine=machine, serial=serial, server=server))

    def end(self, lease_ids: list[str], *, reason: str, actor: str) -> None:
        """End these leases now (those not ended yet)."""
        if lease_ids:
            self.connection.execute(
                update(lease_t).where(lease_t.c.id.in_(lease_ids), lease_t.c.ended_at.is_(None))
                .values(ended_at=self.now, end_reason=reason, ended_by=actor))

    def end_all(self, *, reason: str, actor: str) -> int:
        """End every lease not ended yet; how many."""
        return int(self.connection.execute(
            update(lease_t).where(lease_t.c.ended_at.is_(None))
            .values(ended_at=self.now, end_reason=reason, ended_by=actor)).rowcount)

    def history(self, *, user_key: str = "", machine: str = "", state: str = "all",
                limit: int = 100) -> list[LeaseRecord]:
        """The newest leases first, of one user and machine (its name, any case) when given."""
        query = select(lease_t).order_by(lease_t.c.leased_at.desc(), lease_t.c.id).limit(limit)
        if user_key:
            query = query.where(lease_t.c.user_key == user_key)
        if machine:
            query = query.where(lease_t.c.machine.ilike(machine.replace("%", r"\%").replace("_", r"\_"),
                                                        escape="\\"))
        live = and_(lease_t.c.ended_at.is_(None), lease_t.c.expires_at > self.now)
        if state == "live":
            query = query.where(live)
        elif state == "ended":
            query = query.where(~live)
        return [_record(row) for row in self.connection.execute(query).mappings()]
