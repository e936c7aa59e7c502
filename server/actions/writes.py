"""The one write path: steps that compose into an action's transaction.

An action builds its rows as model instances, writes them in one transaction written as a
script (server/txscript.py: `yield` a statement, `yield from` a step below), and after commit
hands the `Change` the steps collected to the publisher (server/publisher.py). Every event of
every action, the busiest send included, is recorded by `record`; every row is written from
its model (server/adapters/tortoise.py), so a model's defaults and enum values live in one
place and a new column reaches every path at once.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, TypeVar

from push.api import Kind
from server import sql
from server.adapters.tortoise import from_row, insert, new_row
from server.events.frames import Recorded
from server.events.registry import EventType
from server.models import (
    Audience,
    Event,
    Follow,
    FollowState,
    Message,
    NotificationIntent,
    Thread,
    User,
)
from server.protocol import ReadNotice, encode
from server.publisher import Change
from server.queries import message_count_of
from server.txscript import Script

S = TypeVar("S")


def record(
    change: Change,
    event_type: EventType[S],
    thread_id: str,
    subject: S,
    now: datetime,
    *,
    new_message: Message | None = None,
    writer_is_staff: bool | None = None,
    writer_id: str = "",
    locked_ok: bool = True,
    public_message: bool = False,
) -> Script[Recorded | None]:
    """Store one event about `subject`: the database numbers it (see sql.bump_thread).

    With `new_message`, the event introduces that message: it is counted and stored at the
    event's position. With `writer_is_staff` False, a thread its writer may not write in
    (internal, closed, hidden, missing) is left alone and None comes back; so is a locked one
    without `locked_ok`. `public_message`: customers see a message from now on (approved).
    An event about the thread itself is about the thread as this transaction leaves it.
    """
    audience = event_type.visible.audience(subject)
    public = audience == Audience.ALL
    row = yield from sql.bump_thread(
        thread_id, public=public, new_message=new_message is not None, now=now,
        writer_is_staff=writer_is_staff, writer_id=writer_id, locked_ok=locked_ok,
        public_message=public_message,
    )  # fmt: skip
    if row is None:
        return None
    thread = from_row(Thread, row)
    if isinstance(subject, Thread):
        subject = thread  # type: ignore[assignment]
    if new_message is not None:
        new_message.seq = thread.staff_seq  # its place in the thread
        yield insert(new_message)
    public_seq = thread.public_seq if public else None
    also = event_type.visible.also(subject)
    yield insert(
        Event(
            thread_id=thread.id,
            audience=audience,
            staff_seq=thread.staff_seq,
            public_seq=public_seq,
            name=event_type.name,
            message_id=event_type.message_id(subject),
            also_id=also,
            created_at=now,
        )  # fmt: skip
    )
    recorded = Recorded(event_type, thread, subject, audience, thread.staff_seq, public_seq, also)
    change.events.append(recorded)
    return recorded


def follow(user_id: str, thread_id: str, now: datetime) -> Script[None]:
    """Make a thread's author or writer follow it, unless they chose otherwise (muted)."""
    sql, params = new_row(
        Follow, user_id=user_id, thread_id=thread_id, state=FollowState.FOLLOWING, created_at=now
    )
    # An existing follow (or mute) stays as it is.
    yield sql + " ON CONFLICT (user_id, thread_id) DO NOTHING", params


def intend(
    change: Change,
    kind: Kind,
    thread_id: str,
    actor_id: str,
    now: datetime,
    *,
    message_id: str | None = None,
    viewers: Collection[str] = (),
) -> Script[None]:
    """Record that something happened that may notify people, and who saw it live (they are
    not buzzed for what they watched). The push worker expands it after commit, so a crash
    in between loses nothing."""
    yield insert(
        NotificationIntent(
            kind=kind.name,
            thread_id=thread_id,
            message_id=message_id,
            actor_id=actor_id,
            viewers=" ".join(sorted(viewers)),
            created_at=now,
        )  # fmt: skip
    )
    change.intents += 1


def advance_read(change: Change, user: User, thread: Thread, now: datetime) -> Script[bool]:
    """Move the user's read mark up to the thread's counters as given; their other devices
    hear of it after commit. A mark never moves back (a stale tab unreads nothing)."""
    count = message_count_of(thread, user)
    moved = yield from sql.advance_read(user.id, thread.id, count, now)
    if moved:
        change.notices.append((f"user:{user.id}", read_notice(thread.id, count)))
    return moved


def read_notice(thread_id: str, count: int) -> dict[str, str]:
    return {"any": encode(ReadNotice(thread=thread_id, count=count))}


def nothing() -> Script[Any]:
    """A script without statements (an action that found nothing to change)."""
    return None
    yield  # pragma: no cover - makes this a generator
