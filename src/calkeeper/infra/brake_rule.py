"""How a brake on repeated failures answers: slowed down after a few, refused for a while after many."""

from __future__ import annotations

from dataclasses import dataclass

FAILURE_WINDOW_SECONDS = 60.0
SLOW_AFTER = 5
BLOCK_AFTER = 30
LONGEST_HOLD_SECONDS = 4.0


@dataclass(frozen=True)
class BrakeRule:
    """From ``slow_after`` failures within the window on, each answer is held back longer; from
    ``block_after`` on, the caller is refused until the oldest of them is older than the window."""

    slow_after: int = SLOW_AFTER
    block_after: int = BLOCK_AFTER
    window_seconds: float = FAILURE_WINDOW_SECONDS

    def hold_seconds(self, failures: int) -> float:
        """How long to hold back the answer to the last of so many recent failures: 0.25 s, doubling, up to 4 s."""
        if failures < self.slow_after:
            return 0.0
        return min(0.25 * 2.0 ** min(failures - self.slow_after, 8), LONGEST_HOLD_SECONDS)

    def refuses(self, failures: int) -> bool:
        """Whether so many recent failures refuse the caller."""
        return failures >= self.block_after
