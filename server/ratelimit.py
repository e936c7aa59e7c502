"""Rate limits (login attempts), kept in memory or in Redis by the `limits` library."""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


class LoginLimiter:
    """Limit sign-in attempts per e-mail address and per client address."""

    def __init__(self, storage_url: str, per_minute: int) -> None:
        url = storage_url
        if url.startswith(("redis://", "rediss://")):
            url = "async+" + url
        elif url.startswith("memory://"):
            url = "async+memory://"
        self._limiter = MovingWindowRateLimiter(storage_from_string(url))
        self._item = RateLimitItemPerMinute(per_minute)

    async def allow(self, *keys: str) -> bool:
        """Count one attempt against every key; False if any key is over its limit."""
        allowed = True
        for key in keys:
            allowed = await self._limiter.hit(self._item, "login", key) and allowed
        return allowed
