"""Recording a thread event: the database assigns its sequence numbers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient

from server import sql
from server.fanout import LiveEvent
from server.frames import list_frames, live_frames
from server.models import Audience, Event, Message, Thread, ThreadStatus

MESSAGE_CREATED = "message.created"
"""A new message in a thread; the frame carries the rendered message."""
MESSAGE_EDITED = "message.edited"
"""The author changed a message's text; the frame carries the message as it is now."""
MESSAGE_DELETED = "message.deleted"
"""The author deleted a message; the frame carries the tombstone."""
THREAD_UPDATED = "thread.updated"
"""A thread's title or status changed; the frame carries the thread header."""

EVENT_NAMES = (MESSAGE_CREATED, MESSAGE_EDITED, MESSAGE_DELETED, THREAD_UPDATED)


@dataclass(slots=True)
class Recorded:
    """An event stored in a transaction, to be published after commit."""

    name: str
    thread: Thread
    audience: Audience
    staff_seq: int
    public_seq: int | None
    message: Message | None

    def live(self) -> LiveEvent:
        """Render the event once per view and format, for the broker."""
        frames = live_frames(
            self.name, self.thread, self.audience, self.staff_seq, self.public_seq, self.message
        )
        return LiveEvent(self.thread.id, self.staff_seq, self.public_seq, frames)

    def list_notice(self) -> dict[str, str]:
        return list_frames(self.thread, self.audience, self.name)


async def record(
    conn: BaseDBAsyncClient,
    thread: Thread,
    name: str,
    audience: Audience,
    message: Message | None = None,
    *,
    create_message: Callable[[int], Awaitable[Message]] | None = None,
) -> Recorded:
    """Store one event inside the caller's transaction and return its sequence numbers.

    `thread` is brought up to date with the committed counters, title and status. With
    `create_message`, the event introduces a new message, created with the event's staff_seq
    as its position in the thread.
    """
    public = audience == Audience.ALL
    now = datetime.now(UTC)
    row = await sql.bump_thread(
        conn, thread.id, public=public, new_message=create_message is not None, now=now
    )
    for counter in sql.COUNTERS:
        setattr(thread, counter, row[counter])
    thread.title = row["title"]
    thread.status = ThreadStatus(row["status"])
    if create_message is not None:
        thread.staff_activity_at = now
        if public:
            thread.public_activity_at = now
        message = await create_message(thread.staff_seq)
    public_seq = thread.public_seq if public else None
    await Event.create(
        thread_id=thread.id,
        audience=audience,
        staff_seq=thread.staff_seq,
        public_seq=public_seq,
        name=name,
        message=message,
        using_db=conn,
    )
    return Recorded(name, thread, audience, thread.staff_seq, public_seq, message)
