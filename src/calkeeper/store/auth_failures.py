"""Failed console sign-ins and bad API tokens, as the brakes count them (the audit trail keeps the record)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, delete, func, insert, select

from calkeeper.infra.database import table_of
from calkeeper.store.schema import AuthFailure

failure_t = table_of(AuthFailure)


class AuthFailures:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def record(self, kind: str, subject: str) -> int:
        """Count one failure of a kind (``sign_in_user``, ``sign_in_address``, ``token_address``) for a subject."""
        return int(self.connection.execute(
            insert(failure_t).values(kind=kind, subject=subject, at=self.now).returning(failure_t.c.id)
        ).scalar_one())

    def recent(self, kind: str, subject: str, *, since: datetime) -> tuple[int, datetime | None]:
        """How many failures of the subject there were from ``since`` on, and when the oldest of them was."""
        row = self.connection.execute(
            select(func.count(), func.min(failure_t.c.at))
            .where(failure_t.c.kind == kind, failure_t.c.subject == subject, failure_t.c.at >= since)
        ).one()
        return int(row[0]), row[1]

    def forget(self, failure_ids: list[int]) -> None:
        self.connection.execute(delete(failure_t).where(failure_t.c.id.in_(failure_ids)))

    def forget_subject(self, kind: str, subject: str) -> None:
        """Forget the failures of a subject (a user who signed in, or whom an admin let in again)."""
        self.connection.execute(delete(failure_t).where(failure_t.c.kind == kind, failure_t.c.subject == subject))

    def prune(self, kind: str, *, before: datetime) -> None:
        """Forget the failures of a kind that no brake counts any more."""
        self.connection.execute(delete(failure_t).where(failure_t.c.kind == kind, failure_t.c.at < before))
