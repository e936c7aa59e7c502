"""Expanding notification intents into per-device push jobs (part of the push worker).

An intent names what happened; expanding it decides who hears of it (push/recipients.py),
on which devices, and queues one job per device in short transactions under a lease, so a
worker that dies half-way is resumed by the next without a job twice. Whoever gets
notifications by e-mail gets a mail item for the intent instead or as well (push/mailing.py).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.expressions import Q, Subquery
from tortoise.transactions import in_transaction

from push.kinds import KINDS
from push.mailing import Mailing, MailRow, mailable, mailed_kind, may_reach_a_mailbox, record
from push.recipients import Candidate, candidates, first_wanted
from server import sql
from server.mentions import mention_names, mention_query
from server.models import (
    FollowState,
    Message,
    NotificationIntent,
    NotificationSettings,
    PushJob,
    PushJobState,
    PushSubscription,
    User,
)

LEASE_SECONDS = 60  # a claimed job not finished by then (process died) is tried again
BATCH = 100  # jobs fetched per round
# Which newer jobs for the same thread and device cover a job (push/kinds.py, replaced_by).
MERGES_INTO = KINDS.merging()
COVERING = frozenset(kind for into in MERGES_INTO.values() for kind in into)
INTENT_MAX_AGE_SECONDS = 3600  # intents no worker expanded within an hour notify nobody
Id = TypeVar("Id", int, str)
QUEUE_ROWS = 100  # jobs queued per transaction
CHUNK = 500  # ids per IN (...) list: well under SQLite's and asyncpg's parameter limits


def now() -> datetime:
    return datetime.now(UTC)


def chunks(ids: list[Id]) -> list[list[Id]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


class IntentExpansion:
    """The intent half of PushWorker: it supplies `_yield`, the pause between steps, and
    `mailing` when notifications go out by mail too."""

    mailing: Mailing | None = None

    async def _yield(self, started: float) -> None:
        raise NotImplementedError

    async def expand_intents(self) -> int:
        """Turn a batch of intents into jobs: devices and preferences in a query each."""
        moment = now()
        pending = (
            await NotificationIntent.filter(
                Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment)
            )
            .order_by("id")
            .limit(BATCH)
        )
        if not pending:
            return 0
        mailing = self.mailing
        if not await self._reaches_a_device(pending) and not (
            mailing is not None and await may_reach_a_mailbox(pending)
        ):  # the common case: drop the batch
            await NotificationIntent.filter(id__in=[i.id for i in pending]).delete()
            return len(pending)
        planned: list[tuple[NotificationIntent, list[Candidate]]] = []
        stale = moment - timedelta(seconds=INTENT_MAX_AGE_SECONDS)
        for intent in pending:
            if intent.created_at < stale:  # no worker ran for a long time: old news
                planned.append((intent, []))
                continue
            started = time.perf_counter()
            planned.append((intent, await candidates(intent)))
            await self._yield(started)
        people = list({reader.id for _, found in planned for reader, _ in found})
        by_user: dict[str, list[tuple[str, datetime]]] = {}
        for chunk in chunks(people):
            holders = PushSubscription.filter(user_id__in=chunk)
            for device_id, user_id, added in await holders.values_list(
                "id", "user_id", "created_at"
            ):
                by_user.setdefault(user_id, []).append((device_id, added))
        # Who gets these by mail (push/mailing.py): chosen, confirmed, maybe without a device.
        mailed = await mailable(people, by_user) if mailing is not None else {}
        if not by_user and not mailed:  # nobody to buzz: drop the batch in one statement
            await NotificationIntent.filter(id__in=[i.id for i in pending]).delete()
            return len(pending)
        prefs: dict[str, NotificationSettings] = {}
        for chunk in chunks(list(by_user)):
            for found in await NotificationSettings.filter(user_id__in=chunk):
                prefs[found.user_id] = found
        # Newest first: a job a newer intent of this batch queues for the same device and
        # thread speaks for an older one (MERGES_INTO), so the older one is never written.
        # A thread busier than its pushes then costs one job per device, not one per reply.
        # (Jobs queued by earlier batches are settled as merged by _supersede.)
        newer: dict[tuple[str, str], set[str]] = {}  # (device, thread) -> kinds queued
        batch: list[tuple[NotificationIntent, list[sql.PushJobRow], list[MailRow]]] = []
        for intent, readers in reversed(planned):
            rows: list[sql.PushJobRow] = []
            letters: list[MailRow] = []
            saw_it = set(intent.viewers.split())
            for reader, offered in readers:
                # Who watched it happen live hears no reply or mention (a status change, yes).
                kinds = (
                    tuple(k for k in offered if not KINDS[k].seen_live)
                    if reader.id in saw_it
                    else offered
                )
                if reader.id in mailed:
                    by_mail = mailed_kind(mailed[reader.id], kinds, moment)
                    if by_mail is not None:
                        letters.append((reader.id, by_mail, intent.thread_id,
                                        intent.message_id, intent.created_at))  # fmt: skip
                # A device hears of what happens after it was added, as a follower does.
                devices = [
                    d for d, added in by_user.get(reader.id, []) if added <= intent.created_at
                ]
                kind = first_wanted(prefs.get(reader.id), kinds, moment) if devices else None
                if kind is None:
                    continue
                for device_id in devices:
                    queued = newer.setdefault((device_id, intent.thread_id), set())
                    if not queued.intersection(MERGES_INTO.get(kind, ())):
                        queued.add(kind)
                        rows.append((device_id, reader.id, kind, intent.thread_id,
                                     intent.message_id))  # fmt: skip
            batch.append((intent, rows, letters))
        for intent, rows, letters in reversed(batch):  # in the order they happened
            started = time.perf_counter()
            await self._queue(intent, rows, moment, letters)
            await self._yield(started)
        return len(pending)

    async def _reaches_a_device(self, pending: list[NotificationIntent]) -> bool:
        """Tell cheaply whether a batch may notify any device at all: a follower of one of its
        threads has one, or it may mention or alert someone (the full check follows)."""
        if any(not KINDS[i.kind].followers_only for i in pending if i.kind in KINDS.by_name):
            return True
        messages = [i.message_id for i in pending if i.message_id is not None]
        if messages:
            maybe = Message.filter(id__in=messages, body__contains="@").values_list("body")
            names = set().union(*(mention_names(body) for (body,) in await maybe))
            people = await mention_query(names)
            if (
                people is not None
                and await PushSubscription.filter(
                    user_id__in=Subquery(User.filter(people).values("id"))
                ).exists()
            ):
                return True  # someone mentioned has a device
        return await PushSubscription.filter(
            user__follows__thread_id__in=list({i.thread_id for i in pending}),
            user__follows__state=FollowState.FOLLOWING,
        ).exists()

    async def _queue(
        self,
        intent: NotificationIntent,
        rows: list[sql.PushJobRow],
        moment: datetime,
        letters: list[MailRow] | None = None,
    ) -> None:
        """Queue an intent's jobs in short transactions of QUEUE_ROWS each, then delete it.

        A lease claims the intent (another process skips it until the lease ends), and each
        transaction records how far it got, so a worker that dies half-way is resumed by the
        next without a job twice. Short, because with SQLite every writer waits for them.
        """
        lease = moment + timedelta(seconds=LEASE_SECONDS)
        unclaimed = Q(claimed_until__isnull=True) | Q(claimed_until__lt=moment)
        claim = NotificationIntent.filter(unclaimed, id=intent.id)
        if not await claim.update(claimed_until=lease):
            return  # another worker has it
        if letters and self.mailing is not None:
            await record(self.mailing, intent, letters)
        rows.sort(key=lambda row: row[0])  # by device: the order `expanded_upto` counts in
        rows = [row for row in rows if row[0] > intent.expanded_upto]
        for start in range(0, len(rows), QUEUE_ROWS):
            started = time.perf_counter()
            part = rows[start : start + QUEUE_ROWS]
            async with in_transaction() as conn:
                await self._supersede(conn, part, moment)
                await sql.queue_push_jobs(conn, part, moment)
                await (
                    NotificationIntent.filter(id=intent.id)
                    .using_db(conn)
                    .update(expanded_upto=part[-1][0])
                )
            await self._yield(started)
        await NotificationIntent.filter(id=intent.id).delete()

    async def _supersede(
        self, conn: BaseDBAsyncClient, rows: list[sql.PushJobRow], moment: datetime
    ) -> None:
        """Settle as merged the due jobs that the new ones speak for: one notification per
        thread and device, about the newest message (see MERGES_INTO)."""
        by_kind: dict[tuple[str, str | None], list[str]] = {}
        for device_id, _, kind, thread_id, _ in rows:
            if kind in COVERING:
                by_kind.setdefault((kind, thread_id), []).append(device_id)
        for (kind, thread_id), devices in by_kind.items():
            older = [old for old, into in MERGES_INTO.items() if kind in into]
            for chunk in chunks(devices):
                await PushJob.filter(
                    state=PushJobState.QUEUED, thread_id=thread_id, kind__in=older,
                    not_before__lte=moment, subscription_id__in=chunk,
                ).using_db(conn).update(state=PushJobState.DONE, outcome="merged")  # fmt: skip
