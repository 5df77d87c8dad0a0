"""The brakes on guessing: failed console sign-ins and bad API tokens, counted in the site's database.

A brake in each process would let every worker (and every node) allow its own share of guesses; the
failures are rows of the one database instead, so every worker and node counts the same ones. Only a
failure writes: a good token or password never does. Each brake runs inside its use case's transaction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from calkeeper.infra.brake_rule import BrakeRule
from calkeeper.store.unit_of_work import Transaction

# Console sign-ins: a user name (existing or not) and an address are each braked on their own.
SIGN_IN_BY_NAME = BrakeRule(slow_after=3, block_after=10, window_seconds=15 * 60)
SIGN_IN_BY_ADDRESS = BrakeRule(slow_after=5, block_after=30, window_seconds=15 * 60)
# Bad API tokens, per address: as the in-process brake always braked them.
TOKEN_BY_ADDRESS = BrakeRule()


@dataclass(frozen=True)
class Verdict:
    """What a brake says of a subject now: how many recent failures, how long to hold the answer back,
    and, when it refuses, for how many seconds."""

    failures: int
    hold_seconds: float = 0.0
    retry_after_seconds: int = 0

    @property
    def refused(self) -> bool:
        return self.retry_after_seconds > 0


class SharedBrake:
    """A ``BrakeRule`` applied to failures of one kind stored in the database."""

    def __init__(self, kind: str, rule: BrakeRule) -> None:
        self.kind, self.rule = kind, rule
        self.window = timedelta(seconds=rule.window_seconds)

    def verdict(self, tx: Transaction, subject: str) -> Verdict:
        """The brake's verdict on the subject's recent failures."""
        failures, oldest = tx.auth_failures.recent(self.kind, subject, since=tx.now - self.window)
        if oldest is None or not self.rule.refuses(failures):
            return Verdict(failures, self.rule.hold_seconds(failures))
        # refused until the oldest failure counted leaves the window
        wait = math.ceil((oldest + self.window - tx.now).total_seconds())
        return Verdict(failures, self.rule.hold_seconds(failures), max(wait, 1))

    def fail(self, tx: Transaction, subject: str) -> tuple[int, Verdict]:
        """Count a failure of the subject (forgetting those no longer counted); its id and the verdict after it."""
        tx.auth_failures.prune(self.kind, before=tx.now - self.window)
        failure_id = tx.auth_failures.record(self.kind, subject)
        return failure_id, self.verdict(tx, subject)

    def forget(self, tx: Transaction, subject: str) -> None:
        """Forget the subject's failures: a user who signed in, or whom an admin let in again."""
        tx.auth_failures.forget_subject(self.kind, subject)
