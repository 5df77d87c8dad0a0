"""Idempotency keys: a retried state-changing request is answered from the first one's record.

The key is claimed (a row with no answer yet) in its own transaction before the change runs, so two
copies of one request sent at once cannot both run: the second is told the first is in progress.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from calkeeper.core.errors import IdempotencyConflict
from calkeeper.store.unit_of_work import UnitOfWork

KEEP_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class StoredAnswer:
    status_code: int
    body: str


class Idempotency:
    def __init__(self, *, uow: UnitOfWork) -> None:
        self.uow = uow

    def claim_idempotency_key(self, key: str, request_hash: str) -> StoredAnswer | None:
        """Claim a key for a new request, or return the stored answer of the request that used it."""
        with self.uow.write() as tx:
            tx.idempotency.forget_older_than(KEEP_FOR)
            record = tx.idempotency.get(key)
            if record is None:
                if tx.idempotency.claim(key, request_hash):
                    return None
                record = tx.idempotency.get(key)
        assert record is not None
        if record.request_hash != request_hash:
            raise IdempotencyConflict("this Idempotency-Key was already used for a different request")
        if record.status_code is None:
            raise IdempotencyConflict("a request with this Idempotency-Key is still being processed; retry shortly")
        return StoredAnswer(record.status_code, record.body or "")

    def store_idempotent_answer(self, key: str, status_code: int, body: str) -> None:
        with self.uow.write() as tx:
            tx.idempotency.answer(key, status_code, body)

    def release_idempotency_key(self, key: str) -> None:
        """Forget a claimed key whose request failed before changing anything, so a retry can run."""
        with self.uow.write() as tx:
            tx.idempotency.release(key)
