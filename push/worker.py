"""The push queue worker: expands intents into per-device jobs and delivers them, and queues
the notification mails that are due (push/mailing.py).

Durable: intents and jobs are rows, so a restart resumes where it stopped. Concurrency is
bounded, every send has a timeout, and several server processes can share the queue: a job is
claimed by a conditional UPDATE that only one process can win.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import aiohttp
from tortoise.connection import get_connection

from push import sender
from push.compose import compose
from push.endpoints import DEFAULT_PUSH_HOSTS, EndpointRefused, check_shape
from push.expansion import BATCH, LEASE_SECONDS, MERGES_INTO, IntentExpansion, chunks, now
from push.kinds import KINDS
from push.mailing import Mailing, send_due
from push.payloads import SHORTENED_BODY_CHARS, Notification
from push.resolver import open_session
from push.vapid import VapidKeys
from server import sql
from server.models import (
    PushJob,
    PushJobState,
    PushSubscription,
    User,
)
from server.settings import Settings

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # other processes' intents are picked up at least this often
GATHER_SECONDS = 0.25  # rounds start at most this often: a busy thread's replies batch up
MAX_ATTEMPTS = 8  # with backoff doubling from 5 s this gives up after about 20 minutes
BACKOFF_FIRST_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 15 * 60
PAUSE_FACTOR = 1.0  # after each step, pause this many times as long as the step took
PAUSE_MAX_SECONDS = 0.25


@dataclass(frozen=True)
class PushConfig:
    keys: VapidKeys
    allowed_hosts: tuple[str, ...]
    test_prefix: str  # endpoints under this prefix skip the host checks (tests only)
    concurrency: int
    checkpoint: bool = False  # SQLite: checkpoint the WAL after each busy round
    # Notifications by mail too (push/mailing.py): the settings their links and batching need.
    settings: Settings | None = None

    @classmethod
    def from_settings(cls, settings: Settings, keys: VapidKeys) -> PushConfig:
        return cls(
            keys=keys,
            allowed_hosts=DEFAULT_PUSH_HOSTS + settings.push_service_hosts,
            test_prefix=settings.push_test_endpoint_prefix,
            concurrency=settings.push_concurrency,
            checkpoint=settings.sqlite_path is not None,
            settings=settings,
        )


def backoff(attempts: int, retry_after: float | None) -> float:
    """Seconds to wait before attempt number `attempts + 1`."""
    delay = min(BACKOFF_MAX_SECONDS, BACKOFF_FIRST_SECONDS * 2 ** max(0, attempts - 1))
    return float(max(delay, retry_after or 0.0))


class PushWorker(IntentExpansion):
    def __init__(self, config: PushConfig) -> None:
        self.config = config
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None
        self._limit = asyncio.Semaphore(config.concurrency)
        self._settled: dict[tuple[PushJobState, str], list[int]] = {}
        self._delivered: list[str] = []
        self.mailing = Mailing(config.settings) if config.settings is not None else None

    def wake(self) -> None:
        """Look at the queue now (called after a commit that wrote an intent or job)."""
        self._wake.set()

    async def start(self) -> None:
        self._session = open_session(self.config.test_prefix)  # refuses non-public addresses
        self._task = asyncio.create_task(self._run(), name="push-worker")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._session is not None:
            await self._session.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        last_round = -GATHER_SECONDS
        while True:
            # Under a stream of messages, rounds start at most every GATHER_SECONDS and take
            # what came meanwhile together; an isolated message is pushed at once.
            await asyncio.sleep(max(0.0, last_round + GATHER_SECONDS - loop.time()))
            last_round = loop.time()
            try:
                busy = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # the queue must outlive a database hiccup
                log.exception("push worker round failed")
                busy = False
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)
                self._wake.clear()

    async def run_once(self) -> bool:
        """Expand pending intents and deliver due jobs; return whether there was work.

        Push is background work on the event loop that live chat runs on: jobs are prepared
        one at a time (database reads, composing), and after each step the worker pauses for
        as long as the step took, so a busy loop slows the worker down, never the chat. Only
        the HTTP requests to push services run concurrently.
        """
        expanded = await self.expand_intents()
        moment = now()
        due = (
            await PushJob.filter(state=PushJobState.QUEUED, not_before__lte=moment)
            .order_by("id")
            .limit(BATCH)
        )
        lease = moment + timedelta(seconds=LEASE_SECONDS)
        won = await sql.claim_push_jobs(
            get_connection("default"), [j.id for j in due], lease, moment
        )
        sending: set[asyncio.Task[None]] = set()
        for job in (j for j in due if j.id in won):
            started = time.perf_counter()
            try:
                ready = await self.prepare(job)
            except Exception:
                log.exception("push job %s failed", job.id)
                ready = None
            if ready is not None:
                await self._limit.acquire()
                sending.add(asyncio.create_task(self._send(job, *ready)))
            await self._yield(started)
        if sending:
            await asyncio.gather(*sending)
        await self._flush()
        mailed = await send_due(self.mailing, now()) if self.mailing is not None else 0
        return bool(expanded or due or mailed)

    async def _flush(self) -> None:
        """Write the round's outcomes: a few statements instead of two per job (with SQLite,
        every write holds the one write lock the live server needs too)."""
        settled, self._settled = self._settled, {}
        delivered, self._delivered = self._delivered, []
        for (state, outcome), ids in settled.items():
            for chunk in chunks(ids):
                await PushJob.filter(id__in=chunk).update(state=state, outcome=outcome)
        for devices in chunks(delivered):
            # A delivery makes an earlier error history: the device list shows it works now.
            await PushSubscription.filter(id__in=devices).update(
                last_delivered_at=now(), last_error=""
            )
        if self.config.checkpoint and (settled or delivered):
            # Copy the write-ahead log into the database here, in the worker, after its writes
            # (it does not block other writers): else a commit of the live server that finds
            # the log long does it, and a message waits for it.
            await get_connection("default").execute_query("PRAGMA wal_checkpoint(PASSIVE)")

    async def _yield(self, started: float) -> None:
        """Pause as long as the step since `started` took (it took longer on a busy loop)."""
        spent = time.perf_counter() - started
        await asyncio.sleep(min(PAUSE_MAX_SECONDS, spent * PAUSE_FACTOR))

    async def _send(self, job: PushJob, device: PushSubscription, note: Notification) -> None:
        try:
            await self.deliver(job, device, note)
        except Exception:
            log.exception("push job %s failed", job.id)
        finally:
            self._limit.release()

    # -- jobs ---------------------------------------------------------------------------------

    def _finish(self, job: PushJob, state: PushJobState, outcome: str) -> None:
        """Settle a claimed job at the end of the round (run_once writes them together)."""
        self._settled.setdefault((state, outcome[:200]), []).append(job.id)

    async def prepare(self, job: PushJob) -> tuple[PushSubscription, Notification] | None:
        """Compose a claimed job's notification, re-checking that it is still worth a buzz;
        None when it was settled without sending."""
        device = await PushSubscription.get_or_none(id=job.subscription_id)
        user = await User.get_or_none(id=job.user_id)
        if device is None or user is None:
            self._finish(job, PushJobState.DONE, "skipped: device removed")
            return None
        # One notification per thread and device, about the newest message: a newer queued job
        # (due or waiting to retry, even claimed by a concurrent round) speaks for this one.
        # Expanding a newer intent merges most of them; this catches the rest.
        same_thread = PushJob.filter(
            subscription_id=device.id, thread_id=job.thread_id, state=PushJobState.QUEUED
        )
        if (
            job.kind in MERGES_INTO
            and await same_thread.filter(id__gt=job.id, kind__in=MERGES_INTO[job.kind]).exists()
        ):
            self._finish(job, PushJobState.DONE, "merged")
            return None
        note = await compose(job, user, device.language)
        if isinstance(note, str):
            self._finish(job, PushJobState.DONE, "skipped: " + note)
            return None
        older = same_thread.filter(
            id__lt=job.id, kind__in=[kind for kind, into in MERGES_INTO.items() if job.kind in into]
        )
        if await older.exists():  # rare (waiting to retry): read first, write only then
            await older.update(state=PushJobState.DONE, outcome="merged")
        return device, note

    async def deliver(self, job: PushJob, device: PushSubscription, note: Notification) -> None:
        config = self.config
        try:
            # Where the name points is checked by the session's resolver as it connects.
            check_shape(device.endpoint, config.allowed_hosts, config.test_prefix)
        except EndpointRefused as err:
            await self._record_error(device, str(err))
            self._finish(job, PushJobState.FAILED, str(err))
            return
        kind = KINDS[note.kind]  # how push services treat it (RFC 8030)
        ttl, urgency = kind.ttl_seconds, kind.urgency
        target = sender.Device(device.endpoint, device.p256dh, device.auth)
        assert self._session is not None
        # Topic lets a push service replace an undelivered older push for the same thread.
        topic = note.tag if note.tag.startswith("thread-") else None
        session, keys = self._session, config.keys
        result = await sender.send(session, keys, target, note.encode(), ttl, urgency, topic)
        if result.outcome == sender.Outcome.TOO_BIG:
            short = note.encode(SHORTENED_BODY_CHARS // 2)
            result = await sender.send(session, keys, target, short, ttl, urgency, topic)
        await self._settle(job, device, result)

    async def _settle(self, job: PushJob, device: PushSubscription, result: sender.Result) -> None:
        outcome = result.outcome
        if outcome == sender.Outcome.DELIVERED:
            self._delivered.append(device.id)
            self._finish(job, PushJobState.DONE, "delivered")
        elif outcome == sender.Outcome.GONE:
            await PushSubscription.filter(id=device.id).delete()  # its jobs go with it
        elif outcome == sender.Outcome.RETRY and job.attempts + 1 < MAX_ATTEMPTS:
            delay = backoff(job.attempts + 1, result.retry_after)
            await PushJob.filter(id=job.id).update(
                attempts=job.attempts + 1,
                not_before=now() + timedelta(seconds=delay),
                outcome=f"retrying in {delay:.0f} s: {result.detail}"[:200],
            )
            await self._record_error(device, result.detail)
        else:
            await self._record_error(device, result.detail or outcome.value)
            self._finish(job, PushJobState.FAILED, result.detail or outcome.value)

    async def _record_error(self, device: PushSubscription, detail: str) -> None:
        await PushSubscription.filter(id=device.id).update(
            last_error=detail[:200], last_error_at=now()
        )
