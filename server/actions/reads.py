"""Read state: what each user has seen of each thread."""

from __future__ import annotations

from datetime import UTC, datetime

from server.actions.writes import advance_read
from server.models import Thread, User
from server.publisher import Change, Publisher
from server.queries import message_count_of
from server.txscript import run_transaction


async def mark_read(publisher: Publisher, user: User, thread: Thread) -> int:
    """Mark the thread as read up to its counters as loaded; tell the user's other devices.

    The read mark only ever moves forward, so a caller holding an older copy of the thread
    (or a late request from a stale tab) never unreads anything.
    """
    change = Change()
    await run_transaction(advance_read(change, user, thread, datetime.now(UTC)))
    await publisher.publish(change)
    return message_count_of(thread, user)
