"""Read state: what each user has seen of each thread."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.backends.base.client import BaseDBAsyncClient
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
    if await advance(get_connection("default"), user, thread):
        await announce(user, thread, count)
    return count


async def advance(conn: BaseDBAsyncClient, user: User, thread: Thread) -> bool:
    """Move the read mark inside the caller's transaction; return whether it moved (then
    `announce` it after commit)."""
    count = message_count_of(thread, user)
    return await sql.advance_read(conn, user.id, thread.id, count, datetime.now(UTC))


async def announce(user: User, thread: Thread, count: int) -> None:
    """Tell the user's other devices how far they have read."""
    await publish_frames(
        f"user:{user.id}", {"any": dumps({"type": "read", "thread": thread.id, "count": count})}
    )
