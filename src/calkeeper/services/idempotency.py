"""Idempotency keys: a retried state-changing request is answered from the first one's record.

The key is claimed (a row with no answer yet) in its own transaction before the change runs, so two
copies of one request sent at once cannot both run: the second is told the first is in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from calkeeper.core.errors import IdempotencyConflict
from calkeeper.services.base import SiteBase
from calkeeper.store.schema import IdempotencyRecord

KEEP_FOR = timedelta(hours=24)
idem_t = IdempotencyRecord.__table__


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: str


class IdempotencyUseCases(SiteBase):
    def claim_idempotency_key(self, key: str, request_hash: str) -> StoredAnswer | None:
        """Claim a key for a new request, or return the stored answer of the request that used it."""
        with self.uow(write=True) as tx:
            tx.connection.execute(delete(idem_t).where(idem_t.c.created_at < tx.now - KEEP_FOR))
            row = tx.connection.execute(select(idem_t).where(idem_t.c.key == key)).mappings().first()
            if row is None:
                try:
                    with tx.connection.begin_nested():
                        tx.connection.execute(insert(idem_t).values(key=key, request_hash=request_hash,
                                                                    created_at=tx.now))
                except IntegrityError:
                    row = tx.connection.execute(select(idem_t).where(idem_t.c.key == key)).mappings().first()
                else:
                    return None
        assert row is not None
        if row["request_hash"] != request_hash:
            raise IdempotencyConflict("this Idempotency-Key was already used for a different request")
        if row["status_code"] is None:
            raise IdempotencyConflict("a request with this Idempotency-Key is still being processed; retry shortly")
        return StoredAnswer(row["status_code"], row["body"] or "")

    def store_idempotent_answer(self, key: str, status_code: int, body: str) -> None:
        with self.uow(write=True) as tx:
            tx.connection.execute(update(idem_t).where(idem_t.c.key == key).values(status_code=status_code, body=body))

    def release_idempotency_key(self, key: str) -> None:
        """Forget a claimed key whose request failed before changing anything, so a retry can run."""
        with self.uow(write=True) as tx:
            tx.connection.execute(delete(idem_t).where(idem_t.c.key == key, idem_t.c.status_code.is_(None)))
