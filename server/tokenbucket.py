"""A token bucket: how many inbound frames a socket may send, in a burst and over time."""

from __future__ import annotations

import time
from collections.abc import Callable


class TokenBucket:
    """Allow `burst` at once, then `per_second` on average; refilled lazily on each take()."""

    __slots__ = ("burst", "per_second", "tokens", "at", "clock")

    def __init__(
        self, burst: int, per_second: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self.tokens = float(burst)
        self.at = clock()

    def take(self) -> bool:
        """Spend one token; False when none is left (the caller refuses what it counts)."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.per_second)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True
