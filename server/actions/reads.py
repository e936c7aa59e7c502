"""Read state: what each user has seen of each thread."""

from __future__ import annotations

from server.actions.publishing import publish_frames
from server.frames import dumps
from server.models import ReadState, Thread, User
from server.queries import message_count_of


async def mark_read(user: User, thread: Thread) -> int:
    """Mark everything the user can see in a thread as read; tell the user's other devices."""
    fresh = await Thread.get(id=thread.id)
    count = message_count_of(fresh, user)
    state, created = await ReadState.get_or_create(
        user_id=user.id, thread_id=thread.id, defaults={"read_messages": count}
    )
    if not created and state.read_messages >= count:
        return count
    if not created:
        # Only ever move forward: a late request from a stale tab must not unread anything.
        await ReadState.filter(id=state.id, read_messages__lt=count).update(read_messages=count)
    await publish_frames(
        f"user:{user.id}", {"any": dumps({"type": "read", "thread": thread.id, "count": count})}
    )
    return count
