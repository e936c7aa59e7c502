"""Presence across processes: who has a thread open anywhere, so nobody is pushed about what
they are watching. Two fan-outs on one real Redis stand for two server processes."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncIterator, Callable

import pytest

from server.fanout import Fanout, LiveEvent
from server.hub import MemoryBroker, RedisBroker
from server.presence import Presence

REDIS_URL = os.environ.get("TEST_REDIS_URL", "")


class Viewer:
    """A socket with a thread open."""

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id

    def thread_event(self, event: LiveEvent) -> None:
        pass

    def channel_frames(self, channel: str, frames: dict[str, str]) -> None:
        pass


async def no_gap(thread: str, first: int, last: int) -> list[LiveEvent]:
    return []


async def latest(thread: str) -> int:
    return 0


async def eventually(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


class Processes:
    """Server processes sharing one Redis (a key prefix of their own per test)."""

    def __init__(self) -> None:
        self.prefix = f"dktest-{secrets.token_hex(4)}:"
        self.running: list[Fanout] = []

    async def start(self, heartbeat: float = 60.0, expiry: float = 180.0) -> Fanout:
        broker = RedisBroker(REDIS_URL, prefix=self.prefix)
        fanout = Fanout(broker, no_gap, latest)
        fanout.presence = Presence(broker, broker.shared, heartbeat=heartbeat, expiry=expiry)
        await broker.start()
        await fanout.start()
        self.running.append(fanout)
        return fanout

    async def kill(self, fanout: Fanout) -> None:
        """Stop a process without it saying goodbye (no leave, no last word)."""
        self.running.remove(fanout)
        await fanout.stop()
        await fanout.broker.stop()


@pytest.fixture
async def processes() -> AsyncIterator[Processes]:
    if not REDIS_URL:
        if os.environ.get("CI"):
            pytest.fail("CI must set TEST_REDIS_URL so the presence tests run")
        pytest.skip("TEST_REDIS_URL is not set")
    p = Processes()
    try:
        yield p
    finally:
        for fanout in list(p.running):
            await p.kill(fanout)


async def test_someone_watching_on_another_process_counts_as_watching_until_they_leave(
    processes: Processes,
) -> None:
    one, two = await processes.start(), await processes.start()
    phone, tablet = Viewer("weber"), Viewer("weber")
    await two.join("t1", phone)
    await two.join("t1", tablet)
    await one.join("t1", Viewer("jan"))
    await eventually(lambda: one.viewers("t1") == {"weber", "jan"})
    await eventually(lambda: two.viewers("t1") == {"weber", "jan"})  # Jan's news travels too
    assert one.viewers("t2") == set()
    await two.leave("t1", phone)
    await two.join("t1", Viewer("mira"))  # news from one process arrives in order: after it
    await eventually(lambda: "mira" in one.viewers("t1"))
    assert one.viewers("t1") == {"weber", "jan", "mira"}, "the tablet still has it open"
    await two.leave("t1", tablet)
    await eventually(lambda: one.viewers("t1") == {"jan", "mira"})


async def test_news_of_opening_and_leaving_arrives_in_the_order_it_happened(
    processes: Processes,
) -> None:
    """A phone flipping between threads: the last word must be "left", not a stale "open"
    (the heartbeat that would correct it is a minute away here)."""
    one, two = await processes.start(), await processes.start()
    phone = Viewer("weber")
    for _ in range(30):
        await two.join("t1", phone)
        await two.leave("t1", phone)
    await two.join("t2", phone)  # the last word: watching t2, not t1
    await eventually(lambda: one.viewers("t2") == {"weber"})
    assert one.viewers("t1") == set()


async def test_a_process_that_starts_later_learns_who_watches_what_at_once(
    processes: Processes,
) -> None:
    one = await processes.start()
    await one.join("t1", Viewer("weber"))
    late = await processes.start()  # its heartbeat is a minute away: it asks
    await eventually(lambda: late.viewers("t1") == {"weber"}, seconds=3.0)


async def test_the_viewers_of_a_process_that_died_are_forgotten(processes: Processes) -> None:
    one = await processes.start(heartbeat=0.2, expiry=1.5)
    two = await processes.start(heartbeat=0.2, expiry=1.5)
    await two.join("t1", Viewer("weber"))
    await eventually(lambda: one.viewers("t1") == {"weber"})
    await processes.kill(two)  # no goodbye: only the missing heartbeats tell
    assert one.viewers("t1") == {"weber"}
    await eventually(lambda: one.viewers("t1") == set())


async def test_with_the_memory_broker_presence_stays_in_the_process() -> None:
    broker = MemoryBroker()
    fanout = Fanout(broker, no_gap, latest)
    sent: list[str] = []
    broker.publish = lambda channel, message: sent.append(channel)  # type: ignore[method-assign,assignment,return-value]
    await fanout.start()
    try:
        viewer = Viewer("weber")
        await fanout.join("t1", viewer)
        assert fanout.viewers("t1") == {"weber"}
        await fanout.leave("t1", viewer)
        assert fanout.viewers("t1") == set() and sent == []
    finally:
        await fanout.stop()
