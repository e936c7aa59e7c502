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
    problem: str | None  # why delivery between processes is down right now; None when fine

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def publish(self, channel: str, message: str) -> None: ...
    async def subscribe(self, channel: str) -> None: ...
    async def unsubscribe(self, channel: str) -> None: ...


class BrokerUnavailable(ConnectionError):
    """The broker cannot deliver now; subscribers catch up from the database."""


class MemoryBroker:
    """Deliver within this process only: the embedded default."""

    shared = False
    problem: str | None = None  # in one process nothing can be away

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
    """Deliver through Redis pub/sub so several server processes share events.

    While Redis is away the broker says why (`problem`), keeps the channels it should listen
    on, and neither subscribing nor unsubscribing fails: sockets still open and resume from
    the database, and the fan-out's sweep delivers what is committed meanwhile. The reader
    reconnects and subscribes to every channel again once Redis answers.
    """

    shared = True

    def __init__(self, url: str, prefix: str = REDIS_PREFIX) -> None:
        self.listener: Listener | None = None
        self.problem: str | None = None
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

        # Bounded connects: a Redis whose packets vanish must not hold a publish for minutes.
        self._redis = aioredis.from_url(
            self._url, decode_responses=True, socket_connect_timeout=SUBSCRIBE_TIMEOUT_SECONDS
        )
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=False)
        self._reader = asyncio.create_task(self._read(), name="redis-broker-reader")

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if self._pubsub is not None:
            with contextlib.suppress(Exception):
                await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, channel: str, message: str) -> None:
        if self.problem is not None:
            raise BrokerUnavailable(self.problem)  # fast: the reader finds out when it is back
        try:
            await self._redis.publish(self._prefix + channel, message)
        except Exception as err:
            self._lost(err)
            raise

    async def subscribe(self, channel: str) -> None:
        """Subscribe and wait until Redis confirms, so nothing published afterwards is missed.

        Fan-out relies on this: it subscribes first and then reads the latest sequence number.
        While Redis is away it returns at once: the reader subscribes when Redis is back, and
        the sweep delivers what was committed in between.
        """
        self._channels.add(channel)
        if self.problem is not None:
            return
        full = self._prefix + channel
        confirmed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(full, []).append(confirmed)
        try:
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT_SECONDS):
                await self._pubsub.subscribe(full)
                await asyncio.shield(confirmed)
        except Exception as err:  # redis' errors, OSError, TimeoutError: Redis is away
            self._lost(err)
        finally:
            waiting = self._confirmations.get(full, [])
            if confirmed in waiting:
                waiting.remove(confirmed)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self.problem is not None:
            return  # the reconnect subscribes to the channels still wanted only
        try:
            await self._pubsub.unsubscribe(self._prefix + channel)
        except Exception as err:
            self._lost(err)

    def _lost(self, err: BaseException) -> None:
        if self.problem is None:
            self.problem = f"Redis unreachable ({type(err).__name__})"
            log.warning("redis broker: %s; delivering through the database meanwhile", self.problem)

    def _handle(self, msg: dict[str, Any]) -> None:
        if msg["type"] == "message" and self.listener is not None:
            self.listener(msg["channel"][len(self._prefix) :], msg["data"])
        elif msg["type"] == "subscribe":
            for waiter in self._confirmations.pop(msg["channel"], []):
                if not waiter.done():
                    waiter.set_result(None)

    async def _read(self) -> None:
        while True:
            try:
                if self.problem is not None:
                    await asyncio.sleep(RECONNECT_DELAY_SECONDS)
                    await self._reconnect()
                    continue
                if not self._channels:
                    await asyncio.sleep(0.05)
                    continue
                msg = await self._pubsub.get_message(timeout=1.0)
                if msg is not None:
                    self._handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception as err:  # a lost Redis connection must not end live delivery
                self._lost(err)

    async def _reconnect(self) -> None:
        """Open a fresh subscription connection with every channel wanted now."""
        old, self._pubsub = self._pubsub, self._redis.pubsub(ignore_subscribe_messages=False)
        with contextlib.suppress(Exception):
            await old.aclose()
        await self._redis.ping()
        done: set[str] = set()
        while self._channels - done:  # channels added while we waited are subscribed too
            batch = self._channels - done
            await self._pubsub.subscribe(*(self._prefix + c for c in batch))
            await self._confirmed({self._prefix + c for c in batch})
            done |= batch
        if done - self._channels:  # left while we waited
            await self._pubsub.unsubscribe(*(self._prefix + c for c in done - self._channels))
        self.problem = None
        log.warning("redis broker: Redis is back; live delivery resumed")

    async def _confirmed(self, channels: set[str]) -> None:
        """Read until Redis confirms these subscriptions (delivering what comes meanwhile)."""
        async with asyncio.timeout(SUBSCRIBE_TIMEOUT_SECONDS):
            while channels:
                msg = await self._pubsub.get_message(timeout=1.0)
                if msg is not None:
                    self._handle(msg)
                    if msg["type"] == "subscribe":
                        channels.discard(msg["channel"])


def broker_for(url: str) -> Broker:
    """Return the broker backend named by a URL (memory:// or redis://)."""
    if url.startswith("memory://"):
        return MemoryBroker()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisBroker(url)
    raise ValueError(f"unsupported BROKER_URL {url!r}: use memory:// or redis://host:port/db")
