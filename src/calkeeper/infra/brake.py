"""A brake on repeated failures: slowed down after a few, refused for a while after many.

``FailureBrake`` counts failures in the process, by a ``BrakeRule``: the authority uses it for serial
and control numbers that match no site and for its bad admin tokens. The CAL server counts its
failures in its database instead, so that every worker and node brakes together
(``calkeeper.usecases.failure_brake``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from calkeeper.infra.brake_rule import BLOCK_AFTER, FAILURE_WINDOW_SECONDS, SLOW_AFTER, BrakeRule
from calkeeper.infra.http_errors import ApiError


class FailureBrake:
    """Counts failures per address over a sliding window in this process; delays, then refuses, the address."""

    def __init__(self, refusal: str, *, slow_after: int = SLOW_AFTER, block_after: int = BLOCK_AFTER,
                 window_seconds: float = FAILURE_WINDOW_SECONDS) -> None:
        self.refusal = refusal
        self.rule = BrakeRule(slow_after, block_after, window_seconds)
        self.failures: dict[str, deque[float]] = {}

    async def check(self, address: str, *, failed: bool) -> None:
        """Record a failure (when ``failed``), then slow down or refuse an address with too many."""
        now = time.monotonic()
        recent = self.failures.setdefault(address, deque())
        while recent and now - recent[0] > self.rule.window_seconds:
            recent.popleft()
        if failed:
            recent.append(now)
        if not recent:
            del self.failures[address]
            return
        if self.rule.refuses(len(recent)):
            raise ApiError("too_many_requests", self.refusal, {"Retry-After": str(int(self.rule.window_seconds))})
        if hold := self.rule.hold_seconds(len(recent)):
            await asyncio.sleep(hold)
