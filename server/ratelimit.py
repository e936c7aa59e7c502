"""Rate limits (login attempts), kept in memory or in Redis by the `limits` library."""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


class LoginLimiter:
    """Limit sign-in attempts per e-mail address and per client address."""

    def __init__(self, storage_url: str, per_minute: int) -> None:
        if storage_url.startswith(("redis://", "rediss://")):
            # redis-py is already here for the broker; limits would otherwise want coredis.
            storage = storage_from_string("async+" + storage_url, implementation="redispy")
        elif storage_url.startswith("memory://"):
            storage = storage_from_string("async+memory://")
        else:
            raise ValueError(
                f"unsupported RATELIMIT_URL {storage_url!r}: use memory:// or redis://"
            )
        self._limiter = MovingWindowRateLimiter(storage)
        self._item = RateLimitItemPerMinute(per_minute)

    async def allow(self, *keys: str) -> bool:
        """Count one attempt against every key; False if any key is over its limit."""
        allowed = True
        for key in keys:
            allowed = await self._limiter.hit(self._item, "login", key) and allowed
        return allowed
