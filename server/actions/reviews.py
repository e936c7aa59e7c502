"""Steps that put items on the moderation queue and tell moderators, shared by the actions that
post (a newcomer's post held for review) and by moderation itself (server/actions/moderation.py).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from push.api import MODERATION
from server.actions.writes import intend
from server.adapters.tortoise import insert
from server.models import Message, Review, ReviewState, Role, Thread, User
from server.policy import Policy
from server.protocol import MODERATION_CHANNEL, Alert, encode
from server.publisher import Change
from server.queries import posts_let_out
from server.txscript import Script

HELD_THREAD = "@held"  # hidden_reason of a thread whose first post waits for a moderator


def target_of(thread: Thread, message: Message | None) -> str:
    """Name the item a review and its flags are about."""
    return f"message:{message.id}" if message is not None else f"thread:{thread.id}"


def queue_url(thread_id: str) -> str:
    """Where an alert about a thread's items opens the moderation queue."""
    return f"/moderation?thread={quote(thread_id)}"


def alert(change: Change, kind: str, thread_id: str, title: str, url: str = "") -> None:
    """Tell every open app of a moderator or admin that the queue changed, or a customer waits
    too long (after commit); `url` opens it (by default the thread's items in the queue)."""
    frame = Alert(kind=kind, thread=thread_id, title=title, url=url or queue_url(thread_id))
    change.notices.append((MODERATION_CHANNEL, {"staff": encode(frame)}))


async def should_hold(policy: Policy, author: User) -> bool:
    """Tell whether a customer's new post waits for a moderator: their first posts do, while
    HOLD_FIRST_POSTS says so (counted once approved, so a held post does not count)."""
    if policy.hold_first_posts <= 0 or author.role != Role.CUSTOMER:
        return False
    return await posts_let_out(author, policy.hold_first_posts) < policy.hold_first_posts


def hold(change: Change, thread: Thread, message: Message, now: datetime) -> Script[None]:
    """Put a held post on the queue, and alert moderators (live and by push)."""
    review = Review(
        target=target_of(thread, message), thread_id=thread.id, message_id=message.id,
        author_id=message.author_id, held=True, created_at=now, updated_at=now,
    )  # fmt: skip
    yield insert(review, on_conflict=("target",))
    yield from intend(change, MODERATION, thread.id, message.author_id, now)
    alert(change, "held", thread.id, thread.title)


def decided(
    change: Change, actor: User, target: str, thread: Thread, decision: str, now: datetime,
    *, pending: bool = False,
) -> Script[bool]:  # fmt: skip
    """Take an item off the queue (if it is on it, or only if so with `pending`): a moderator
    decided. Flags counted so far are spent; new ones put it back. Return whether it was."""
    table = Review._meta.db_table
    only = " AND state = ?" if pending else ""
    rows = yield (
        f"UPDATE {table} SET state = ?, flags = 0, held = ?, decided_by_id = ?, decision = ?, "  # noqa: S608
        f"updated_at = ? WHERE target = ?{only} RETURNING id",
        [ReviewState.DONE.value, False, actor.id, decision, now, target]
        + ([ReviewState.PENDING.value] if pending else []),
    )
    if rows:
        alert(change, "decided", thread.id, thread.title)
    return bool(rows)
