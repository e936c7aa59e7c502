"""The broker: moves published events between server processes.

Two backends behind one tiny interface (after encode/broadcaster): an in-process one for the
embedded default and Redis pub/sub for several processes. Only this module imports redis.
Delivery through the broker is best effort; order and completeness are restored by the
sequence numbers in each event (see server/fanout.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

log = logging.getLogger(__name__)

Listener = Callable[[str, str], None]
"""Called with (channel, message) for every message on a subscribed channel."""

REDIS_PREFIX = "dreiklang:"
RECONNECT_DELAY_SECONDS = 0.5  # Redis restarts are rare; retry quickly but not in a hot loop
SUBSCRIBE_TIMEOUT_SECONDS = 5.0  # Redis confirms in a millisecond; longer means it is down


class Broker(Protocol):
    """Publish strings on named channels; deliver them to the one local listener."""

    listener: Listener | None
    shared: bool  # other server processes hear what this one publishes

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, channel: str, message: str) -> None: ...
    async def subscribe(self, channel: str) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...


class MemoryBroker:
    """Deliver within this process only: the embedded default."""

    shared = False

    def __init__(self) -> None:
        self.listener: Listener | None = None
        self._channels: set[str] = set()

    async def start(self) -> None:
        """Nothing to connect."""

    async def stop(self) -> None:
        self._channels.clear()

    async def publish(self, channel: str, message: str) -> None:
        """Hand the message to the listener if someone here listens on the channel."""
        if channel in self._channels and self.listener is not None:
            self.listener(channel, message)

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)


class RedisBroker:
    """Deliver through Redis pub/sub so several server processes share events."""

    shared = True

    def __init__(self, url: str, prefix: str = REDIS_PREFIX) -> None:
        self.listener: Listener | None = None
        self._url = url
        self._prefix = prefix
        self._channels: set[str] = set()
        self._redis: Any = None
        self._pubsub: Any = None
        self._reader: asyncio.Task[None] | None = None
        self._confirmations: dict[str, list[asyncio.Future[None]]] = {}

    async def start(self) -> None:
        """Connect and start reading."""
        import redis.asyncio as aioredis

        self._redis = aioredis.from_url(self._url, decode_responses=True)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
        self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, channel: str, message: str) -> None:
        await self._redis.publish(self._prefix + channel, message)

    async def subscribe(self, channel: str) -> None:
        """Subscribe and wait until Redis confirms, so nothing published afterwards is missed.

        Fan-out relies on this: it subscribes first and then reads the latest sequence number.
        """
        full = self._prefix + channel
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(full, []).append(confirmed)
        self._channels.add(channel)
        try:
            await self._pubsub.subscribe(full)
            await asyncio.wait_for(asyncio.shield(confirmed), SUBSCRIBE_TIMEOUT_SECONDS)
        finally:
            waiting = self._confirmations.get(full, [])
            if confirmed in waiting:
                waiting.remove(confirmed)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        await self._pubsub.unsubscribe(self._prefix + channel)

    async def _read(self) -> None:
        cut = len(self._prefix)
        while True:
            try:
                if not self._channels:
                    await asyncio.sleep(0.05)
                    continue
                msg = await self._pubsub.get_message(timeout=1.0)
                if msg is None:
                    continue
                if msg["type"] == "message" and self.listener is not None:
                    self.listener(msg["channel"][cut:], msg["data"])
                elif msg["type"] == "subscribe":
                    for waiter in self._confirmations.pop(msg["channel"], []):
                        if not waiter.done():
                            waiter.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception:  # a lost Redis connection must not end live delivery for good
                log.exception("redis broker read failed; reconnecting")
                await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe(*(self._prefix + c for c in self._channels))


def broker_for(url: str) -> Broker:
    """Return the broker backend named by a URL (memory:// or redis://)."""
    if url.startswith("memory://"):
        return MemoryBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url)
    raise ValueError(f"unsupported BROKER_URL {url!r}: use memory:// or redis://host:port/db")
