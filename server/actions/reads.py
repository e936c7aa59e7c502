"""Read state: what each user has seen of each thread."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.connection import get_connection

from server import sql
from server.actions.publishing import publish_frames
from server.frames import dumps
from server.models import Thread, User
from server.queries import message_count_of


async def mark_read(user: User, thread: Thread) -> int:
    """Mark the thread as read up to its counters as loaded; tell the user's other devices.

    The read mark only ever moves forward, so a caller holding an older copy of the thread
    (or a late request from a stale tab) never unreads anything.
    """
    count = message_count_of(thread, user)
    moved = await sql.advance_read(
        get_connection("default"), user.id, thread.id, count, datetime.now(UTC)
    )
    if moved:
        await publish_frames(
            f"user:{user.id}", {"any": dumps({"type": "read", "thread": thread.id, "count": count})}
        )
    return count
