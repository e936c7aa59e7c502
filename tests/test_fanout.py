"""Fan-out inside one process: rooms dispatch in database order, drop duplicates, and fill gaps
from the database once per room."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import pytest

from server.fanout import Fanout, LiveEvent
from server.hub import MemoryBroker


def event(seq: int, thread: str = "t1") -> LiveEvent:
    return LiveEvent(thread, seq, seq, {"staff:json": f'{{"seq":{seq}}}'})


class Member:
    """A stand-in for one WebSocket connection: remembers what reached it."""

    def __init__(self, user_id: str = "weber") -> None:
        self.user_id = user_id
        self.seqs: dict[str, list[int]] = {}
        self.frames: list[tuple[str, dict[str, str]]] = []

    def thread_event(self, event: LiveEvent) -> None:
        self.seqs.setdefault(event.thread, []).append(event.staff_seq)

    def channel_frames(self, channel: str, frames: dict[str, str]) -> None:
        self.frames.append((channel, frames))


class Database:
    """The committed events per thread, and a record of every gap load."""

    def __init__(self) -> None:
        self.events: dict[str, dict[int, LiveEvent]] = {}
        self.loads: list[tuple[str, int, int]] = []
        self.latest: dict[str, int] = {}
        self.fail_loads = 0  # fail this many loads before answering
        self.seq_reads: list[list[str]] = []

    def commit(self, *events: LiveEvent) -> None:
        for e in events:
            self.events.setdefault(e.thread, {})[e.staff_seq] = e
            self.latest[e.thread] = max(self.latest.get(e.thread, 0), e.staff_seq)

    async def load_gap(self, thread: str, first: int, last: int) -> list[LiveEvent]:
        self.loads.append((thread, first, last))
        if self.fail_loads:
            self.fail_loads -= 1
            raise ConnectionError("database restarting")
        stored = self.events.get(thread, {})
        return [stored[s] for s in range(first, last + 1) if s in stored]

    async def read_seq(self, thread: str) -> int:
        return self.latest.get(thread, 0)

    async def read_seqs(self, threads: list[str]) -> dict[str, int]:
        self.seq_reads.append(sorted(threads))
        return {t: self.latest[t] for t in threads if t in self.latest}


class SpyBroker(MemoryBroker):
    """The in-memory broker, noting subscriptions."""

    def __init__(self) -> None:
        super().__init__()
        self.subscribed: list[str] = []
        self.unsubscribed: list[str] = []

    async def subscribe(self, channel: str) -> None:
        self.subscribed.append(channel)
        await super().subscribe(channel)

    async def unsubscribe(self, channel: str) -> None:
        self.unsubscribed.append(channel)
        await super().unsubscribe(channel)

    @property
    def channels(self) -> set[str]:
        return set(self._channels)


@pytest.fixture
def db() -> Database:
    return Database()


@pytest.fixture
def broker() -> SpyBroker:
    return SpyBroker()


@pytest.fixture
def fanout(broker: SpyBroker, db: Database) -> Fanout:
    return Fanout(broker, db.load_gap, db.read_seq, db.read_seqs)


async def eventually(condition: Callable[[], bool], seconds: float = 3.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def publish(fanout: Fanout, db: Database, *seqs: int, thread: str = "t1") -> None:
    """Commit events and publish them in the given order (as racing commits might)."""
    for seq in seqs:
        db.commit(event(seq, thread))
        await fanout.publish_event(event(seq, thread))


async def test_events_in_order_are_dispatched_at_once(fanout: Fanout, db: Database) -> None:
    member = Member()
    await fanout.join("t1", member)
    await publish(fanout, db, 1, 2, 3)
    assert member.seqs == {"t1": [1, 2, 3]}
    assert fanout.rooms["t1"].gap_task is None, "no gap, so no load is even scheduled"
    assert db.loads == []
    await fanout.leave("t1", member)


async def test_events_out_of_order_are_reordered_without_a_database_load(
    fanout: Fanout, db: Database
) -> None:
    member = Member()
    await fanout.join("t1", member)
    await publish(fanout, db, 3, 2)
    assert member.seqs == {}, "3 and 2 wait for 1"
    await publish(fanout, db, 1, 5, 4)
    assert member.seqs == {"t1": [1, 2, 3, 4, 5]}
    gap = fanout.rooms["t1"].gap_task
    assert gap is not None, "3 and 2 scheduled a load"
    await gap  # it finds nothing waiting when it wakes
    assert db.loads == [], "the gap closed by itself"
    await fanout.leave("t1", member)


async def test_duplicates_are_dropped(fanout: Fanout, db: Database) -> None:
    member = Member()
    await fanout.join("t1", member)
    await publish(fanout, db, 1, 1, 2, 1, 3, 2, 3)
    assert member.seqs == {"t1": [1, 2, 3]}
    await fanout.leave("t1", member)


async def test_events_already_committed_when_joining_are_not_dispatched(
    fanout: Fanout, db: Database
) -> None:
    """What was committed before joining comes with the page or the replay, not live."""
    db.commit(event(1), event(2))
    member = Member()
    await fanout.join("t1", member)
    await fanout.publish_event(event(2))  # a late delivery of an old event
    await publish(fanout, db, 3)
    assert member.seqs == {"t1": [3]}
    await fanout.leave("t1", member)


async def test_a_lost_event_is_loaded_once_per_room_after_the_gap_wait(
    fanout: Fanout, db: Database
) -> None:
    members = [Member() for _ in range(5)]
    for m in members:
        await fanout.join("t1", m)
    await publish(fanout, db, 1)
    db.commit(event(2))  # committed, but its broker message is lost
    await publish(fanout, db, 3, 4)
    gap = fanout.rooms["t1"].gap_task
    assert gap is not None and all(m.seqs == {"t1": [1]} for m in members)
    await gap
    assert all(m.seqs["t1"] == [1, 2, 3, 4] for m in members)
    assert db.loads == [("t1", 2, 2)], "one load for the room, not one per member"
    await publish(fanout, db, 5)
    assert all(m.seqs["t1"] == [1, 2, 3, 4, 5] for m in members)
    for m in members:
        await fanout.leave("t1", m)


async def test_a_last_event_never_published_is_loaded_by_the_sweep_once_per_room(
    fanout: Fanout, db: Database
) -> None:
    """Its process died between commit and publish: no later event shows the gap."""
    members = [Member() for _ in range(3)]
    for m in members:
        await fanout.join("t1", m)
    await fanout.join("t2", Member())
    await publish(fanout, db, 1)
    db.commit(event(2), event(3))  # committed, never published
    await fanout.sweep(grace=0.01)
    assert db.seq_reads == [["t1", "t2"]], "one query for every open room"
    await eventually(lambda: all(m.seqs["t1"] == [1, 2, 3] for m in members))
    assert db.loads == [("t1", 2, 3)]
    await publish(fanout, db, 3, 4)  # a late publish of 3 is a duplicate now
    assert all(m.seqs["t1"] == [1, 2, 3, 4] for m in members)
    await fanout.sweep(grace=0.01)
    assert fanout.rooms["t1"].gap_task is None, "nothing missing, nothing to catch up"
    assert db.loads == [("t1", 2, 3)]


async def test_the_sweep_leaves_an_event_whose_publish_arrives_in_the_grace_time(
    fanout: Fanout, db: Database
) -> None:
    member = Member()
    await fanout.join("t1", member)
    db.commit(event(1))  # committed; its publish is on its way
    await fanout.sweep(grace=0.2)
    catching_up = fanout.rooms["t1"].gap_task
    assert catching_up is not None, "the sweep saw 1 committed and not yet here"
    await fanout.publish_event(event(1))
    await catching_up  # it looks again after the grace time and finds 1 arrived
    assert member.seqs == {"t1": [1]} and db.loads == []


async def test_sweeping_runs_in_the_background_until_stopped(fanout: Fanout, db: Database) -> None:
    member = Member()
    await fanout.join("t1", member)
    db.commit(event(1))
    fanout.start_sweeping(every=0.05)
    try:
        await eventually(lambda: member.seqs == {"t1": [1]})
    finally:
        await fanout.stop_sweeping()
    reads = len(db.seq_reads)
    await asyncio.sleep(0.15)
    assert len(db.seq_reads) == reads, "stopped"
    await fanout.leave("t1", member)


async def test_gaps_in_two_rooms_are_loaded_once_each(fanout: Fanout, db: Database) -> None:
    alice, bob = Member(), Member()
    for thread in ("t1", "t2"):
        await fanout.join(thread, alice)
        await fanout.join(thread, bob)
    for thread in ("t1", "t2"):
        db.commit(event(1, thread), event(2, thread))
        await publish(fanout, db, 3, thread=thread)
    await eventually(lambda: alice.seqs == bob.seqs == {"t1": [1, 2, 3], "t2": [1, 2, 3]})
    assert sorted(db.loads) == [("t1", 1, 2), ("t2", 1, 2)]
    for thread in ("t1", "t2"):
        await fanout.leave(thread, alice)
        await fanout.leave(thread, bob)


async def test_a_gap_the_database_cannot_fill_is_skipped_not_stalled(
    fanout: Fanout, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    member = Member()
    await fanout.join("t1", member)
    await publish(fanout, db, 1, 4)  # 2 and 3 are in no database
    with caplog.at_level(logging.WARNING, logger="server.fanout"):
        await eventually(lambda: member.seqs["t1"] == [1, 4])
    assert db.loads == [("t1", 2, 3)]
    assert "skipping unfillable gap 2..3" in caplog.text
    await publish(fanout, db, 5)
    assert member.seqs["t1"] == [1, 4, 5]
    await fanout.leave("t1", member)


async def test_a_failed_gap_load_is_retried(
    fanout: Fanout, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    member = Member()
    await fanout.join("t1", member)
    db.commit(event(1))
    db.fail_loads = 1
    with caplog.at_level(logging.ERROR, logger="server.fanout"):
        await publish(fanout, db, 2)
        await eventually(lambda: member.seqs.get("t1") == [1, 2])
    assert db.loads == [("t1", 1, 1), ("t1", 1, 1)]
    assert "gap fill failed" in caplog.text
    await fanout.leave("t1", member)


class SlowDatabase(Database):
    """A database whose sequence read waits until the test lets it answer."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = asyncio.Event()
        self.answer = asyncio.Event()
        self.fail_reads = 0  # fail this many reads

    async def read_seq(self, thread: str) -> int:
        self.reading.set()
        await self.answer.wait()
        if self.fail_reads:
            self.fail_reads -= 1
            raise ConnectionError("database gone")
        return await super().read_seq(thread)


async def test_events_arriving_while_the_room_opens_are_kept_in_order() -> None:
    db = SlowDatabase()
    fanout = Fanout(SpyBroker(), db.load_gap, db.read_seq)
    db.commit(event(1), event(2))
    first, second = Member(), Member()
    joining = asyncio.create_task(fanout.join("t1", first))
    await db.reading.wait()  # subscribed, reading the latest sequence
    second_joining = asyncio.create_task(fanout.join("t1", second))
    await asyncio.sleep(0)
    # Commits after the read began: 3 is already in the database when the read answers,
    # 4 and 5 come later; all are published while the room is not ready yet.
    db.commit(event(3))
    await fanout.publish_event(event(5))
    await fanout.publish_event(event(3))
    await fanout.publish_event(event(4))
    assert first.seqs == second.seqs == {}
    assert not second_joining.done(), "the second member waits for the room to be ready"
    db.answer.set()
    await joining
    await second_joining
    # The read saw 3, so the room starts at 4; 3 reaches members through the page or replay.
    assert first.seqs == second.seqs == {"t1": [4, 5]}
    assert fanout.rooms["t1"].gap_task is None and db.loads == []
    await publish(fanout, db, 6)
    assert first.seqs["t1"] == second.seqs["t1"] == [4, 5, 6]
    await fanout.leave("t1", first)
    await fanout.leave("t1", second)


async def test_a_member_waiting_for_a_room_that_failed_to_open_joins_a_new_one() -> None:
    db = SlowDatabase()
    broker = SpyBroker()
    fanout = Fanout(broker, db.load_gap, db.read_seq)
    first, second = Member(), Member()
    joining = asyncio.create_task(fanout.join("t1", first))
    await db.reading.wait()
    second_joining = asyncio.create_task(fanout.join("t1", second))
    await asyncio.sleep(0)
    db.fail_reads = 1  # the first member's read fails, the database is back for the second
    db.answer.set()
    with pytest.raises(ConnectionError):
        await joining
    await second_joining
    assert second in fanout.rooms["t1"].members
    assert first not in fanout.rooms["t1"].members
    await publish(fanout, db, 1)
    assert second.seqs == {"t1": [1]} and first.seqs == {}
    await fanout.leave("t1", second)
    assert "thread:t1" not in broker.channels


async def test_a_room_that_fails_to_open_leaves_no_subscription_behind() -> None:
    db = SlowDatabase()
    broker = SpyBroker()
    fanout = Fanout(broker, db.load_gap, db.read_seq)
    db.fail_reads = 1
    db.answer.set()
    with pytest.raises(ConnectionError):
        await fanout.join("t1", Member())
    assert fanout.rooms == {}
    assert "thread:t1" not in broker.channels


async def test_leaving_closes_the_room_and_unsubscribes(
    fanout: Fanout, broker: SpyBroker, db: Database
) -> None:
    alice, bob = Member(), Member()
    await fanout.join("t1", alice)
    await fanout.join("t1", bob)
    assert broker.subscribed == ["thread:t1"], "one broker subscription per room"
    await fanout.leave("t1", alice)
    assert "t1" in fanout.rooms and broker.unsubscribed == []
    await publish(fanout, db, 1)
    assert bob.seqs == {"t1": [1]} and alice.seqs == {}
    await fanout.leave("t1", bob)
    assert fanout.rooms == {}
    assert broker.unsubscribed == ["thread:t1"]
    assert "thread:t1" not in broker.channels
    await publish(fanout, db, 2)
    assert bob.seqs == {"t1": [1]}
    await fanout.leave("t1", bob)  # leaving twice is harmless
    assert broker.unsubscribed == ["thread:t1"]


async def test_leaving_cancels_a_pending_gap_fill(
    fanout: Fanout, broker: SpyBroker, db: Database
) -> None:
    member = Member()
    await fanout.join("t1", member)
    await publish(fanout, db, 2)  # 1 is missing: a gap fill is scheduled
    room = fanout.rooms["t1"]
    assert room.gap_task is not None
    task = room.gap_task
    await fanout.leave("t1", member)
    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert db.loads == []
    assert fanout.rooms == {}


async def test_channels_deliver_frames_to_listeners_until_they_stop(
    fanout: Fanout, broker: SpyBroker
) -> None:
    alice, bob = Member(), Member()
    await fanout.listen("list", alice)
    await fanout.listen("list", bob)
    assert broker.subscribed == ["list"]
    await fanout.publish_frames("list", {"all": "x"})
    assert alice.frames == bob.frames == [("list", {"all": "x"})]
    await fanout.unlisten("list", alice)
    await fanout.publish_frames("list", {"all": "y"})
    assert alice.frames == [("list", {"all": "x"})]
    assert bob.frames[-1] == ("list", {"all": "y"})
    await fanout.unlisten("list", bob)
    assert broker.unsubscribed == ["list"]
    assert fanout.channels == {}


async def test_a_malformed_broker_message_does_not_stop_delivery(
    fanout: Fanout, broker: SpyBroker, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    member = Member()
    await fanout.join("t1", member)
    await fanout.listen("list", member)
    with caplog.at_level(logging.ERROR, logger="server.fanout"):
        await broker.publish("thread:t1", "{not json")
        await broker.publish("list", "[broken")
    assert "dropping undeliverable broker message" in caplog.text
    await publish(fanout, db, 1)
    await fanout.publish_frames("list", {"all": "ok"})
    assert member.seqs == {"t1": [1]}
    assert member.frames == [("list", {"all": "ok"})]
    await fanout.leave("t1", member)
    await fanout.unlisten("list", member)


def test_a_live_event_survives_the_trip_through_the_broker() -> None:
    original = LiveEvent("t1", 7, None, {"staff:json": json.dumps({"ü": "<b>"})})
    raw = original.encode()
    assert LiveEvent.decode(raw) == original
    assert json.loads(raw) == {"t": "t1", "s": 7, "p": None, "f": original.frames}
