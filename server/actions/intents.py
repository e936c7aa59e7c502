"""Inside an action's transaction: who now follows a thread, and what may notify people.

Writing the intent in the same transaction as the change means a crash between commit and
push loses nothing; the push worker (push/worker.py) expands intents after commit.
"""

from __future__ import annotations

from tortoise.backends.base.client import BaseDBAsyncClient

from server.actions import publishing
from server.models import Follow, FollowState, NotificationIntent

REPLY = "reply"  # a new message: followers and mentioned people hear about it
STATUS = "status"  # a thread's status changed: followers hear about it
MODERATION = "moderation"  # something needs a moderator (kinds come with moderation)


async def participate(conn: BaseDBAsyncClient, user_id: str, thread_id: str) -> None:
    """Make a thread's author or writer follow it, unless they chose otherwise (muted)."""
    # One INSERT … ON CONFLICT DO NOTHING: an existing follow (or mute) stays as it is.
    await Follow.bulk_create(
        [Follow(user_id=user_id, thread_id=thread_id, state=FollowState.FOLLOWING)],
        ignore_conflicts=True,
        using_db=conn,
    )


async def intend(
    conn: BaseDBAsyncClient,
    kind: str,
    thread_id: str,
    actor_id: str,
    message_id: str | None = None,
) -> None:
    """Record that something happened that may notify people (and who saw it live)."""
    await NotificationIntent.create(
        kind=kind,
        thread_id=thread_id,
        actor_id=actor_id,
        message_id=message_id,
        viewers=" ".join(sorted(publishing.viewers(thread_id))),
        using_db=conn,
    )
