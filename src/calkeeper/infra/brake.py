"""A per-address brake on repeated failures: slowed down after a few, refused for a while after many.

Used for bad API tokens on the CAL server and the authority, and for serial and control numbers
that match no site at the authority, so that guessing is slow.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from calkeeper.infra.http_errors import ApiError

FAILURE_WINDOW_SECONDS = 60.0
SLOW_AFTER = 5
BLOCK_AFTER = 30


class FailureBrake:
    """Counts failures per address over a sliding minute; delays, then refuses, the address."""

    def __init__(self, refusal: str, *, slow_after: int = SLOW_AFTER, block_after: int = BLOCK_AFTER,
                 window_seconds: float = FAILURE_WINDOW_SECONDS) -> None:
        self.refusal = refusal
        self.slow_after, self.block_after, self.window = slow_after, block_after, window_seconds
        self.failures: dict[str, deque[float]] = {}

    async def check(self, address: str, *, failed: bool) -> None:
        """Record a failure (when ``failed``), then slow down or refuse an address with too many."""
        now = time.monotonic()
        recent = self.failures.setdefault(address, deque())
        while recent and now - recent[0] > self.window:
            recent.popleft()
        if failed:
            recent.append(now)
        if not recent:
            del self.failures[address]
            return
        if len(recent) >= self.block_after:
            raise ApiError("too_many_requests", self.refusal, {"Retry-After": str(int(self.window))})
        if len(recent) >= self.slow_after:
            await asyncio.sleep(min(0.25 * 2 ** (len(recent) - self.slow_after), 4.0))
