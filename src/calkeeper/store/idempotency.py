"""Idempotency keys and the answers stored for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from calkeeper.infra.database import table_of
from calkeeper.store.schema import IdempotencyRecord

idem_t = table_of(IdempotencyRecord)


@dataclass(frozen=True)
class KeyRecord:
    request_hash: str
    status_code: int | None
    body: str | None


class IdempotencyKeys:
    def __init__(self, connection: Connection, now: datetime) -> None:
        self.connection = connection
        self.now = now

    def forget_older_than(self, age: timedelta) -> None:
        self.connection.execute(delete(idem_t).where(idem_t.c.created_at < self.now - age))

    def get(self, key: str) -> KeyRecord | None:
        row = self.connection.execute(select(idem_t).where(idem_t.c.key == key)).mappings().first()
        return KeyRecord(row["request_hash"], row["status_code"], row["body"]) if row is not None else None

    def claim(self, key: str, request_hash: str) -> bool:
        """Record a new key with no answer yet; False when another request recorded it first."""
        try:
            with self.connection.begin_nested():
                self.connection.execute(insert(idem_t).values(key=key, request_hash=request_hash, created_at=self.now))
        except IntegrityError:
            return False
        return True

    def answer(self, key: str, status_code: int, body: str) -> None:
        self.connection.execute(update(idem_t).where(idem_t.c.key == key).values(status_code=status_code, body=body))

    def release(self, key: str) -> None:
        self.connection.execute(delete(idem_t).where(idem_t.c.key == key, idem_t.c.status_code.is_(None)))
