"""The broker: in-process by default, Redis pub/sub between processes."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from server.app import create_app
from server.hub import MemoryBroker, RedisBroker, broker_for
from server.settings import Settings
from tests.conftest import make_settings

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


class Inbox:
    """A broker listener that keeps what it hears."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def __call__(self, channel: str, message: str) -> None:
        self.messages.append((channel, message))


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def subscribed(
    broker: RedisBroker, publisher: RedisBroker, inbox: Inbox, channel: str
) -> None:
    """Subscribe and wait until Redis confirms it by delivering a probe.

    subscribe() returns once the command is sent; a PUBLISH on another connection may still
    reach Redis first and be lost. Tests must not race that, so they wait for a probe.
    """
    await broker.subscribe(channel)
    probe = "probe:" + secrets.token_hex(4)
    deadline = time.monotonic() + 5
    while (channel, probe) not in inbox.messages:
        assert time.monotonic() < deadline, f"the subscription to {channel!r} never took effect"
        await publisher.publish(channel, probe)
        await asyncio.sleep(0.05)
    await forget_probes(publisher, channel, inbox)


async def forget_probes(publisher: RedisBroker, channel: str, *inboxes: Inbox) -> None:
    """Wait until the probes `publisher` sent on `channel` have all arrived, then forget them.

    Redis delivers one connection's messages in order: once a last probe has reached every
    inbox, so has each probe sent before it.
    """
    last = "probe:last-" + secrets.token_hex(4)
    await publisher.publish(channel, last)
    await eventually(lambda: all((channel, last) in inbox.messages for inbox in inboxes))
    for inbox in inboxes:
        inbox.messages[:] = [m for m in inbox.messages if not m[1].startswith("probe:")]


# -- memory ---------------------------------------------------------------------------------------


async def test_the_memory_broker_delivers_only_subscribed_channels() -> None:
    broker = MemoryBroker()
    inbox = Inbox()
    broker.listener = inbox
    await broker.start()
    await broker.publish("thread:a", "before")  # nobody listens yet: dropped
    await broker.subscribe("thread:a")
    await broker.publish("thread:a", "one")
    await broker.publish("thread:b", "other")
    assert inbox.messages == [("thread:a", "one")]
    await broker.unsubscribe("thread:a")
    await broker.publish("thread:a", "after")
    assert inbox.messages == [("thread:a", "one")]
    await broker.unsubscribe("thread:a")  # twice is harmless
    await broker.subscribe("list")
    await broker.stop()
    await broker.publish("list", "stopped")
    assert inbox.messages == [("thread:a", "one")]


async def test_the_memory_broker_without_a_listener_drops_messages() -> None:
    broker = MemoryBroker()
    await broker.subscribe("list")
    await broker.publish("list", "nobody hears this")


# -- redis ----------------------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    if not REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_REDIS_URL so the Redis broker is tested")
        pytest.skip("TEST_REDIS_URL is not set")
    return REDIS_URL


@pytest.fixture
def prefix() -> str:
    """A key prefix of our own, so parallel runs on one Redis never hear each other."""
    return f"dktest:{secrets.token_hex(6)}:"


@pytest.fixture
async def pair(redis_url: str, prefix: str) -> AsyncIterator[tuple[RedisBroker, RedisBroker]]:
    """Two brokers, as two server processes would have them."""
    a, b = RedisBroker(redis_url, prefix), RedisBroker(redis_url, prefix)
    await a.start()
    await b.start()
    try:
        yield a, b
    finally:
        await a.stop()
        await b.stop()
        await assert_no_keys_left(redis_url, prefix)


async def assert_no_keys_left(redis_url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(redis_url)
    try:
        assert [k async for k in client.scan_iter(match=prefix + "*")] == []
    finally:
        await client.aclose()


async def test_two_redis_brokers_exchange_messages(pair: tuple[RedisBroker, RedisBroker]) -> None:
    a, b = pair
    heard_a, heard_b = Inbox(), Inbox()
    a.listener, b.listener = heard_a, heard_b
    await subscribed(b, a, heard_b, "thread:t1")
    await subscribed(a, b, heard_a, "thread:t1")
    await forget_probes(b, "thread:t1", heard_a, heard_b)  # b heard its own probes for a
    await a.publish("thread:t1", '{"s":1}')
    await a.publish("thread:t2", "nobody subscribed")
    await eventually(lambda: len(heard_b.messages) == 1 and len(heard_a.messages) == 1)
    assert heard_b.messages == [("thread:t1", '{"s":1}')], "the prefix is stripped again"
    assert heard_a.messages == [("thread:t1", '{"s":1}')], "a process hears its own events"
    await b.publish("thread:t1", "ü → ✓")
    await eventually(lambda: len(heard_a.messages) == 2)
    assert heard_a.messages[-1] == ("thread:t1", "ü → ✓")


async def test_an_unsubscribed_redis_broker_hears_nothing_more(
    pair: tuple[RedisBroker, RedisBroker],
) -> None:
    a, b = pair
    heard = Inbox()
    b.listener = heard
    await subscribed(b, a, heard, "list")
    await subscribed(b, a, heard, "user:u1")
    await a.publish("list", "one")
    await eventually(lambda: heard.messages == [("list", "one")])
    await b.unsubscribe("list")
    await a.publish("list", "two")
    await a.publish("user:u1", "three")
    await eventually(lambda: ("user:u1", "three") in heard.messages)
    assert ("list", "two") not in heard.messages


async def test_redis_brokers_with_other_prefixes_do_not_hear_each_other(
    redis_url: str, prefix: str
) -> None:
    ours, theirs = RedisBroker(redis_url, prefix), RedisBroker(redis_url, prefix + "other:")
    heard = Inbox()
    ours.listener = heard
    await ours.start()
    await theirs.start()
    try:
        await subscribed(ours, ours, heard, "list")
        await theirs.publish("list", "not for us")
        await ours.publish("list", "for us")
        # Redis handled "not for us" first: had it reached us, it would have come first.
        await eventually(lambda: len(heard.messages) >= 1)
        assert heard.messages == [("list", "for us")]
    finally:
        await ours.stop()
        await theirs.stop()


async def test_a_redis_broker_resubscribes_after_losing_its_connection(
    redis_url: str, prefix: str
) -> None:
    import redis.asyncio as aioredis

    name = "dktest-" + secrets.token_hex(4)
    separator = "&" if "?" in redis_url else "?"
    subscriber = RedisBroker(f"{redis_url}{separator}client_name={name}", prefix)
    publisher = RedisBroker(redis_url, prefix)
    heard = Inbox()
    subscriber.listener = heard
    await subscriber.start()
    await publisher.start()
    admin = aioredis.from_url(redis_url, decode_responses=True)
    try:
        await subscribed(subscriber, publisher, heard, "thread:t1")
        await publisher.publish("thread:t1", "before")
        await eventually(lambda: heard.messages == [("thread:t1", "before")])
        # Kill only our own subscriber's connection (other test runs share this Redis).
        clients = await admin.client_list()
        ours = [c["id"] for c in clients if c.get("name") == name]
        assert ours, clients
        for client_id in ours:
            await admin.client_kill_filter(_id=client_id)
        deadline = time.monotonic() + 10
        while ("thread:t1", "after") not in heard.messages:
            assert time.monotonic() < deadline, "the broker never heard from Redis again"
            await publisher.publish("thread:t1", "after")
            await asyncio.sleep(0.1)
    finally:
        await admin.aclose()
        await subscriber.stop()
        await publisher.stop()


async def test_a_redis_broker_that_cannot_connect_says_so() -> None:
    import redis.exceptions

    broker = RedisBroker("redis://127.0.0.1:1/0", "dktest:")
    try:
        with pytest.raises(redis.exceptions.ConnectionError):
            await broker.start()
    finally:
        await broker.stop()


# -- choosing a broker ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("memory://", MemoryBroker),
        ("redis://127.0.0.1:6379/0", RedisBroker),
        ("rediss://redis.example:6380/1", RedisBroker),
        ("unix:///run/redis.sock", RedisBroker),
    ],
)
def test_broker_for_picks_the_backend_by_url(url: str, kind: type) -> None:
    assert isinstance(broker_for(url), kind)


@pytest.mark.parametrize("url", ["kafka://queue:9092", "", "127.0.0.1:6379", "redis:/x"])
def test_broker_for_refuses_an_unknown_url_naming_it(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        broker_for(url)
    message = str(caught.value)
    assert repr(url) in message
    assert "BROKER_URL" in message and "memory://" in message and "redis://" in message


def assert_an_app_starts_afterwards(settings: Settings) -> None:
    """A failed start must leave nothing open that stops the next app (in tests, or embedded)."""
    with TestClient(create_app(settings.with_overrides(broker_url="memory://"))) as client:
        assert client.get("/healthz").json() == {"status": "ok"}


def test_the_app_does_not_start_with_an_unknown_broker(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path, broker_url="nats://queue:4222")
    with pytest.raises(ValueError, match="'nats://queue:4222'"), TestClient(create_app(settings)):
        pass
    assert_an_app_starts_afterwards(settings)


def test_the_app_does_not_start_when_redis_is_unreachable(sqlite_url: str, tmp_path: Path) -> None:
    import redis.exceptions

    settings = make_settings(sqlite_url, tmp_path, broker_url="redis://127.0.0.1:1/0")
    with pytest.raises(redis.exceptions.ConnectionError), TestClient(create_app(settings)):
        pass
    assert_an_app_starts_afterwards(settings)
