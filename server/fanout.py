"""Fan-out inside one server process: rooms per thread, in database order, without gaps.

The broker may deliver events late, twice or out of order (two commits publish in a race; Redis
drops messages while reconnecting). Each room therefore dispatches strictly by the database's
per-thread sequence: early events wait, duplicates are dropped, and a gap that does not close
by itself within GAP_WAIT_SECONDS is filled from the database once per process, never once per
recipient. Frames arrive pre-rendered per audience and format, so fan-out only picks a string.

A lost *last* event leaves no gap to notice: its process died between commit and publish, or
Redis dropped it while reconnecting, and nothing follows it. Every SWEEP_SECONDS the fan-out
therefore compares its open rooms with the threads' committed sequence numbers (one query per
500 rooms) and loads what never arrived.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from server.hub import Broker
from server.presence import CHANNEL as PRESENCE_CHANNEL
from server.presence import Presence

log = logging.getLogger(__name__)

GAP_WAIT_SECONDS = 0.15  # racing commits publish microseconds apart; a real loss takes longer
SWEEP_SECONDS = 5.0  # an event committed but never published reaches subscribers this late
SWEEP_GRACE_SECONDS = 1.0  # a commit's own publish is still on its way for well under this
SWEEP_BATCH = 500  # rooms per sequence query


@dataclass(slots=True)
class LiveEvent:
    """A committed thread event as it travels between processes."""

    thread: str
    staff_seq: int
    public_seq: int | None
    frames: dict[str, str]  # "<view>:<format>" -> encoded frame; no key = not for that view
    also: str | None = None  # who gets it besides staff, unnumbered ("own:<format>" frames)

    def encode(self) -> str:
        """Serialize for the broker."""
        data = {"t": self.thread, "s": self.staff_seq, "p": self.public_seq, "f": self.frames}
        if self.also is not None:
            data["a"] = self.also
        return json.dumps(data, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str) -> LiveEvent:
        data = json.loads(raw)
        return cls(data["t"], data["s"], data["p"], data["f"], data.get("a"))


class Member(Protocol):
    """A local recipient (one WebSocket connection)."""

    user_id: str

    def thread_event(self, event: LiveEvent) -> None: ...
    def channel_frames(self, channel: str, frames: dict[str, str]) -> None: ...


GapLoader = Callable[[str, int, int], Awaitable[list[LiveEvent]]]
"""Load a thread's events with staff_seq in [first, last] from the database."""

SeqReader = Callable[[str], Awaitable[int]]
"""Read a thread's latest committed staff_seq."""

SeqsReader = Callable[[list[str]], Awaitable[dict[str, int]]]
"""Read the latest committed staff_seq of several threads."""


@dataclass(eq=False)
class Room:
    thread: str
    members: set[Member] = field(default_factory=set)
    expected: int | None = None  # next staff_seq to dispatch; None until the room is ready
    early: list[LiveEvent] = field(default_factory=list)
    waiting: dict[int, LiveEvent] = field(default_factory=dict)
    gap_task: asyncio.Task[None] | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Fanout:
    """Route broker messages to local members; one broker subscription per channel."""

    def __init__(
        self,
        broker: Broker,
        load_gap: GapLoader,
        read_seq: SeqReader,
        read_seqs: SeqsReader | None = None,
    ) -> None:
        self.broker = broker
        self.rooms: dict[str, Room] = {}
        self.channels: dict[str, set[Member]] = {}
        self._load_gap = load_gap
        self._read_seq = read_seq
        self._read_seqs = read_seqs
        self._sweeper: asyncio.Task[None] | None = None
        self.presence = Presence(broker, broker.shared)
        broker.listener = self._on_broker_message

    async def start(self) -> None:
        """Start the background work: the sweep, and presence across processes."""
        self.start_sweeping()
        await self.presence.start()

    async def stop(self) -> None:
        await self.stop_sweeping()
        await self.presence.stop()

    # -- events that were committed but never published ----------------------------------

    def start_sweeping(self, every: float = SWEEP_SECONDS) -> None:
        """Look for committed events that never arrived, every `every` seconds."""
        if self._read_seqs is not None and self._sweeper is None:
            self._sweeper = asyncio.create_task(self._sweep_forever(every))

    async def stop_sweeping(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None

    async def _sweep_forever(self, every: float) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.sweep()
            except Exception:  # the database is away: try again next time
                log.exception("sweeping for unpublished events failed")

    async def sweep(self, grace: float = SWEEP_GRACE_SECONDS) -> None:
        """Load, once per room, events the database has and the room never got."""
        assert self._read_seqs is not None
        ready = [t for t, room in self.rooms.items() if room.expected is not None]
        for start in range(0, len(ready), SWEEP_BATCH):
            latest = await self._read_seqs(ready[start : start + SWEEP_BATCH])
            for thread, seq in latest.items():
                room = self.rooms.get(thread)
                if room is None or room.expected is None or room.gap_task is not None:
                    continue  # gone, opening, or already loading
                if seq >= room.expected:
                    room.gap_task = asyncio.create_task(self._catch_up(room, seq, grace))

    async def _catch_up(self, room: Room, latest: int, grace: float) -> None:
        try:
            await asyncio.sleep(grace)
            if room.expected is not None and room.expected <= latest:
                log.warning(
                    "events %d..%d of %r were never published; loading them",
                    room.expected, latest, room.thread,
                )  # fmt: skip
                for event in await self._load_gap(room.thread, room.expected, latest):
                    self._accept(room, event)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("catching up %r failed", room.thread)
        finally:
            self._loaded(room)

    # -- thread rooms ---------------------------------------------------------------------

    async def join(self, thread: str, member: Member) -> None:
        """Add a member to a thread's room, opening the room on first use."""
        self.presence.opened(thread, member.user_id)
        try:
            await self._join(thread, member)
        except BaseException:
            self.presence.closed(thread, member.user_id)
            raise

    async def _join(self, thread: str, member: Member) -> None:
        room = self.rooms.get(thread)
        if room is None:
            room = self.rooms[thread] = Room(thread)
            room.members.add(member)
            try:
                await self.broker.subscribe("thread:" + thread)
                # Subscribe first, then read: anything committed later reaches the room.
                latest = await self._read_seq(thread)
            except BaseException:
                try:
                    # Unsubscribe while the room still blocks new joiners, so the channel a
                    # retry subscribes to is not dropped by this late unsubscribe.
                    with contextlib.suppress(Exception):
                        await self.broker.unsubscribe("thread:" + thread)
                finally:
                    self.rooms.pop(thread, None)
                    room.ready.set()
                raise
            room.expected = latest + 1
            early, room.early = room.early, []
            for event in sorted(early, key=lambda e: e.staff_seq):
                self._accept(room, event)
            room.ready.set()
        else:
            room.members.add(member)
            await room.ready.wait()
            if self.rooms.get(thread) is not room:
                # Whoever opened the room failed (database or broker error): open it again.
                await self._join(thread, member)

    def viewers(self, thread: str) -> set[str]:
        """Return the users with this thread open on any process (no push for them)."""
        return self.presence.viewers(thread)

    async def leave(self, thread: str, member: Member) -> None:
        """Remove a member; close the room when it is empty."""
        room = self.rooms.get(thread)
        if room is None or member not in room.members:
            return
        room.members.discard(member)
        self.presence.closed(thread, member.user_id)
        if not room.members and room.ready.is_set():
            del self.rooms[thread]
            if room.gap_task is not None:
                room.gap_task.cancel()
            await self.broker.unsubscribe("thread:" + thread)

    # -- plain channels (thread list, per user) ------------------------------------------

    async def listen(self, channel: str, member: Member) -> None:
        members = self.channels.get(channel)
        if members is None:
            members = self.channels[channel] = set()
            await self.broker.subscribe(channel)
        members.add(member)

    async def unlisten(self, channel: str, member: Member) -> None:
        members = self.channels.get(channel)
        if members is None:
            return
        members.discard(member)
        if not members:
            del self.channels[channel]
            await self.broker.unsubscribe(channel)

    # -- publishing ------------------------------------------------------------------------

    async def publish_event(self, event: LiveEvent) -> None:
        await self.broker.publish("thread:" + event.thread, event.encode())

    async def publish_frames(self, channel: str, frames: dict[str, str]) -> None:
        await self.broker.publish(channel, json.dumps(frames, separators=(",", ":")))

    # -- internals ---------------------------------------------------------------------------

    def _on_broker_message(self, channel: str, raw: str) -> None:
        try:
            if channel == PRESENCE_CHANNEL:
                self.presence.heard(raw)
            elif channel.startswith("thread:"):
                room = self.rooms.get(channel[7:])
                if room is not None:
                    self._accept(room, LiveEvent.decode(raw))
            else:
                members = self.channels.get(channel)
                if members:
                    frames = json.loads(raw)
                    for member in tuple(members):
                        member.channel_frames(channel, frames)
        except Exception:  # one bad message must not stop delivery of the next
            log.exception("dropping undeliverable broker message on %r", channel)

    def _accept(self, room: Room, event: LiveEvent) -> None:
        if room.expected is None:
            room.early.append(event)
            return
        seq = event.staff_seq
        if seq < room.expected:
            return  # already dispatched (duplicate or replayed by a gap fill)
        if seq > room.expected:
            room.waiting[seq] = event
            if room.gap_task is None:
                room.gap_task = asyncio.create_task(self._fill_gap(room))
            return
        self._dispatch(room, event)
        room.expected = seq + 1
        while room.expected in room.waiting:
            self._dispatch(room, room.waiting.pop(room.expected))
            room.expected += 1

    def _loaded(self, room: Room) -> None:
        """End a load from the database; events that arrived early start the next one."""
        room.gap_task = None
        if room.waiting and room.thread in self.rooms:
            room.gap_task = asyncio.create_task(self._fill_gap(room))

    def _dispatch(self, room: Room, event: LiveEvent) -> None:
        for member in tuple(room.members):
            member.thread_event(event)

    async def _fill_gap(self, room: Room) -> None:
        try:
            await asyncio.sleep(GAP_WAIT_SECONDS)
            while room.waiting and room.expected is not None:
                first = room.expected
                last = min(room.waiting) - 1
                if last >= first:
                    for event in await self._load_gap(room.thread, first, last):
                        self._accept(room, event)
                if room.waiting and room.expected == first:
                    # The database has nothing for the gap (cannot happen after a commit);
                    # skip it rather than stall the room for good.
                    log.warning("skipping unfillable gap %d..%d in %r", first, last, room.thread)
                    room.expected = min(room.waiting)
                    nxt = room.waiting.pop(room.expected)
                    self._accept(room, nxt)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("gap fill failed in %r", room.thread)
        finally:
            self._loaded(room)
