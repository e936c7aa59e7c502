"""Who has which thread open, on every server process: nobody is buzzed for what they watch.

Each process counts its own viewers (sockets subscribed to a thread). With a shared broker it
also tells the others on the "presence" channel: a change when someone opens or leaves a thread
here, and its whole picture every HEARTBEAT_SECONDS and whenever a new process asks. A process
not heard from for EXPIRY_SECONDS is forgotten (it died). Reading is local and costs no round
trip: a send asks `viewers(thread)` on its hot path.

With the in-memory broker there are no other processes and nothing is published.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from server.hub import Broker

log = logging.getLogger(__name__)

CHANNEL = "presence"
HEARTBEAT_SECONDS = 10.0  # a missed change is corrected this late at most
EXPIRY_SECONDS = 3 * HEARTBEAT_SECONDS  # two heartbeats lost: that process is gone


@dataclass(slots=True)
class _Remote:
    """What another process last told us."""

    heard_at: float
    threads: dict[str, set[str]] = field(default_factory=dict)


class Presence:
    """This process's viewers, and the other processes' as they reported them."""

    def __init__(
        self,
        broker: Broker,
        shared: bool,
        heartbeat: float = HEARTBEAT_SECONDS,
        expiry: float = EXPIRY_SECONDS,
    ) -> None:
        self.broker = broker
        self.shared = shared  # other processes exist (Redis): tell them, hear them
        self.process = secrets.token_hex(6)
        self.local: dict[str, Counter[str]] = {}
        self.remote: dict[str, _Remote] = {}
        self._heartbeat = heartbeat
        self._expiry = expiry
        self._task: asyncio.Task[None] | None = None
        self._outbox: deque[str] = deque()  # sent by one task, in order: an "on" never
        self._sender: asyncio.Task[None] | None = None  # overtakes the "off" after it

    # -- reading ---------------------------------------------------------------------------

    def viewers(self, thread: str) -> set[str]:
        """Return the ids of people with the thread open on any process."""
        here = self.local.get(thread)
        found = set(here) if here else set()
        if self.remote:
            now = time.monotonic()
            for pid, remote in list(self.remote.items()):
                if now - remote.heard_at > self._expiry:
                    del self.remote[pid]
                elif thread in remote.threads:
                    found |= remote.threads[thread]
        return found

    # -- this process's viewers (called by the fan-out) -------------------------------------

    def opened(self, thread: str, user: str) -> None:
        counts = self.local.setdefault(thread, Counter())
        counts[user] += 1
        if counts[user] == 1:
            self._tell({"t": thread, "u": user, "on": 1})

    def closed(self, thread: str, user: str) -> None:
        counts = self.local.get(thread)
        if counts is None or counts[user] <= 0:
            return
        counts[user] -= 1
        if counts[user] == 0:
            del counts[user]
            if not counts:
                del self.local[thread]
            self._tell({"t": thread, "u": user, "on": 0})

    # -- the other processes -----------------------------------------------------------------

    async def start(self) -> None:
        """Listen to the other processes, ask for their picture, and report ours regularly."""
        if not self.shared:
            return
        await self.broker.subscribe(CHANNEL)
        self._tell({"ask": 1})
        self._task = asyncio.create_task(self._beat(), name="presence-heartbeat")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._sender is not None:
            self._sender.cancel()
            self._sender = None

    def heard(self, raw: str) -> None:
        """Apply a message from the presence channel."""
        data = json.loads(raw)
        pid = data.get("p")
        if not isinstance(pid, str) or pid == self.process:
            return
        remote = self.remote.setdefault(pid, _Remote(time.monotonic()))
        remote.heard_at = time.monotonic()
        if "all" in data:
            remote.threads = {t: set(users) for t, users in data["all"].items()}
        elif "t" in data:
            users = remote.threads.setdefault(data["t"], set())
            if data.get("on"):
                users.add(data["u"])
            else:
                users.discard(data["u"])
                if not users:
                    del remote.threads[data["t"]]
        if data.get("ask"):
            self._tell_all()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            self._tell_all()

    def _tell_all(self) -> None:
        self._tell({"all": {t: sorted(users) for t, users in self.local.items()}})

    def _tell(self, data: dict[str, object]) -> None:
        if not self.shared:
            return
        self._outbox.append(json.dumps({"p": self.process, **data}, separators=(",", ":")))
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            while self._outbox:
                try:
                    await self.broker.publish(CHANNEL, self._outbox.popleft())
                except Exception:  # the next heartbeat repeats the whole picture
                    log.warning("publishing presence failed", exc_info=True)
        finally:
            self._sender = None
