"""Rate limits (login attempts, posting), kept in memory or in Redis by the `limits` library.

With Redis every process counts against the same numbers. If Redis does not answer, sign-in
fails (an error page) but posting goes on unlimited, logged: the limit guards against floods,
and a Redis outage must not silence the conversation (as the broker's does not).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from typing import Any

from limits import RateLimitItemPerMinute
from limits.aio.storage import RedisStorage, Storage
from limits.aio.storage.redis.redispy import RedispyBridge
from limits.aio.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from server.errors import TooFast
from server.models import Role, User
from server.settings import Settings

log = logging.getLogger(__name__)

# A post waits at most this long on a Redis that stopped answering, then goes on unlimited.
REDIS_TIMEOUT_SECONDS = 2.0


def storage_of(url: str) -> Storage:
    """Open the counters' storage of a RATELIMIT_URL: memory:// or redis://."""
    if url.startswith(("redis://", "rediss://")):
        # redis-py is already here for the broker; limits would otherwise want coredis. Any
        # Redis failure, a timeout too, arrives as limits' StorageError.
        storage = storage_from_string(
            "async+" + url,
            implementation="redispy",
            wrap_exceptions=True,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
    elif url.startswith("memory://"):
        storage = storage_from_string("async+memory://")
    else:
        raise ValueError(f"unsupported RATELIMIT_URL {url!r}: use memory:// or redis://")
    assert isinstance(storage, Storage)
    return storage


async def close_storage(storage: Storage) -> None:
    """Close a storage's Redis connections (memory holds none)."""
    if isinstance(storage, RedisStorage):
        # limits has no public close: its Redis storage keeps the redis-py client on its
        # bridge (limits 5; tests/test_posting_limits.py fails loudly if that moves).
        bridge = storage.bridge
        assert isinstance(bridge, RedispyBridge), f"limits moved its redis-py client: {bridge!r}"
        client: Any = bridge.get_connection()  # a redis.asyncio.Redis, typed as a protocol
        await client.aclose()


class LoginLimiter:
    """Limit sign-in attempts per e-mail address and per client address."""

    def __init__(self, storage_url: str, per_minute: int) -> None:
        self._limiter = MovingWindowRateLimiter(storage_of(storage_url))
        self._item = RateLimitItemPerMinute(per_minute)

    async def allow(self, *keys: str) -> bool:
        """Count one attempt against every key; False if any key is over its limit."""
        allowed = True
        for key in keys:
            allowed = await self._limiter.hit(self._item, "login", key) and allowed
        return allowed


class PostLimiter:
    """Limit how many messages and threads a person may post a minute, by role
    (POSTS_PER_MINUTE; a role without a limit is not counted).

    A fixed window per person, opened by their first post and lasting a minute: one atomic
    INCR in Redis, one counter in memory, and the wait to name is simply the window's end. A
    moving window would never let twice the limit through around the end of a window, but
    limits' in-memory moving window sweeps every person's list through a thread on each post:
    measured, ~10 ms of CPU per post with 500 people posting, against ~0.3 ms for this. At
    most twice the limit in a burst and the limit a minute on average still brakes a flood.
    """

    def __init__(self, storage_url: str, per_minute: Mapping[str, int]) -> None:
        self._limiter = FixedWindowRateLimiter(storage_of(storage_url))
        self._items = {
            Role(role): RateLimitItemPerMinute(limit, namespace="posts")
            for role, limit in per_minute.items()
            if limit > 0
        }

    @classmethod
    def from_settings(cls, settings: Settings) -> PostLimiter | None:
        """Build the server's limiter; None if no role has a limit."""
        if not any(limit > 0 for limit in settings.posts_per_minute.values()):
            return None
        return cls(settings.ratelimit_url, settings.posts_per_minute)

    def limit_of(self, role: Role) -> int | None:
        """Return the posts a minute a role may make; None for no limit."""
        item = self._items.get(Role(role))
        return None if item is None else item.amount

    async def close(self) -> None:
        """Let go of the storage's connections (Redis)."""
        await close_storage(self._limiter.storage)

    async def check(self, user: User) -> None:
        """Count one post; raise TooFast if the person is over their role's limit."""
        item = self._items.get(Role(user.role))
        if item is None:
            return
        try:
            if await self._limiter.hit(item, user.id):
                return
            stats = await self._limiter.get_window_stats(item, user.id)
        except StorageError as err:
            log.warning("posting limit not checked for user %s: %s", user.id, err.storage_error)
            return
        # Round up, past Redis's TTL in whole seconds (up to half a second short): "in 3
        # seconds" must not come a fraction early and be refused again.
        wait = math.ceil(stats.reset_time - time.time() + 0.5)
        seconds = min(max(1, wait), item.get_expiry())
        raise TooFast(limit=item.amount, seconds=seconds)
