"""Reads that depend on who asks. Every query here takes the viewer."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol, TypeGuard

from tortoise.connection import get_connection
from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from server.models import (
    Attachment,
    Audience,
    Event,
    Follow,
    FollowState,
    Message,
    ReadState,
    Thread,
    User,
    Visibility,
)

REPLAY_LIMIT = 500  # beyond this many missed events a reload is cheaper than a replay
PAGE_SIZE_MAX = 100
ID_MAX_CHARS = 16  # the models' id columns; a longer id exists nowhere (and fails validation)


def view_of(user: User) -> Audience:
    """Return the audience a user reads as: staff see staff-only content, customers do not."""
    return Audience.STAFF if user.is_staff else Audience.ALL


class Viewer(Protocol):
    """Anyone whose view of a thread depends on being staff (a User, or a push Reader)."""

    @property
    def is_staff(self) -> bool: ...


def visible_to(user: Viewer, thread: Thread, message: Message | None = None) -> bool:
    """Tell whether a user may see a loaded thread (and message): the rule the queries below
    apply in SQL, for code that already holds the rows (push payloads)."""
    if not user.is_staff and (thread.visibility == Visibility.INTERNAL or thread.hidden_at):
        return False
    if message is not None:
        if message.thread_id != thread.id or message.deleted_at is not None:
            return False
        if message.hidden_at is not None:
            return False  # its text reaches nobody by push, staff included
        if not user.is_staff and (message.audience == Audience.STAFF or message.held_at):
            return False
    return True


def threads_visible_to(user: User) -> QuerySet[Thread]:
    """Return the threads this user may see (a hidden thread: staff and its author)."""
    if user.is_staff:
        return Thread.all()
    return Thread.filter(
        Q(hidden_at__isnull=True) | Q(author_id=user.id), visibility=Visibility.PUBLIC
    )


ID_RE = re.compile(rf"[A-Za-z0-9_-]{{1,{ID_MAX_CHARS}}}")  # new_id(): URL-safe base64


def is_id(value: object) -> TypeGuard[str]:
    """Tell whether a value from a request could be one of our ids (else no row has it, and
    it never reaches a query: PostgreSQL refuses text with a NUL in it)."""
    return isinstance(value, str) and ID_RE.fullmatch(value) is not None


async def thread_for(user: User, thread_id: object) -> Thread | None:
    """Return a thread if it exists and the user may see it; None hides both cases alike."""
    if not is_id(thread_id):
        return None
    return await threads_visible_to(user).get_or_none(id=thread_id)


def messages_visible_to(user: User, thread: Thread) -> QuerySet[Message]:
    """Return a thread's messages this user may see (staff notes only for staff, a post held
    for review only for staff and its author)."""
    query = Message.filter(thread_id=thread.id)
    if not user.is_staff:
        query = query.filter(Q(held_at__isnull=True) | Q(author_id=user.id), audience=Audience.ALL)
    return query


async def message_for(user: User, message_id: object) -> Message | None:
    """Return a message the user may see, with its thread, or None."""
    if not is_id(message_id):
        return None
    msg = await Message.get_or_none(id=message_id).prefetch_related("thread", "author")
    if msg is None:
        return None
    if await thread_for(user, msg.thread_id) is None:
        return None
    if not user.is_staff and (
        msg.audience == Audience.STAFF or (msg.held_at is not None and msg.author_id != user.id)
    ):
        return None
    await with_attachments([msg])
    return msg


ATTACHED = "attachment_list"  # where a loaded message keeps its attachments (the templates too)


async def with_attachments(messages: Sequence[Message]) -> None:
    """Load the attachments of these messages, in order, in one query (attachments_of)."""
    if not messages:
        return
    found: defaultdict[str, list[Attachment]] = defaultdict(list)
    rows = Attachment.filter(message_id__in=[m.id for m in messages]).order_by("position")
    for row in await rows:
        found[str(row.message_id)].append(row)
    for msg in messages:
        setattr(msg, ATTACHED, found.get(msg.id, []))


def attachments_of(msg: Message) -> list[Attachment]:
    """Return a message's attachments as with_attachments loaded them (none if not loaded)."""
    loaded: list[Attachment] = getattr(msg, ATTACHED, [])
    return loaded


def seq_of(thread: Thread, user: User) -> int:
    """Return the latest sequence number of a thread in the user's view."""
    return int(thread.staff_seq if user.is_staff else thread.public_seq)


def message_count_of(thread: Thread, user: User) -> int:
    return thread.staff_messages if user.is_staff else thread.public_messages


def activity_of(thread: Thread, user: User) -> datetime:
    return thread.staff_activity_at if user.is_staff else thread.public_activity_at


async def latest_messages(
    user: User, thread: Thread, limit: int = 50, before: datetime | None = None
) -> list[Message]:
    """Return up to `limit` visible messages, oldest first, optionally before a time."""
    query = messages_visible_to(user, thread)
    if before is not None:
        query = query.filter(created_at__lt=before)
    rows = await query.order_by("-created_at", "-id").limit(limit).prefetch_related("author")
    rows.reverse()
    await with_attachments(rows)
    return rows


async def events_since(user: User, thread: Thread, since: int) -> list[Event] | None:
    """Return the user's view of events after `since` (in their numbering), in order; None if
    too many to replay. A customer also gets the events a rule shows them unnumbered (such as
    "the author and staff") that came after their `since`."""
    query = Event.filter(thread_id=thread.id)
    if user.is_staff:
        query = query.filter(staff_seq__gt=since)
    else:
        after: Any = 0
        if since > 0:  # the staff position of the customer's `since`
            after = Subquery(
                Event.filter(thread_id=thread.id, public_seq=since).values("staff_seq")
            )
        query = query.filter(
            Q(public_seq__gt=since)
            | Q(public_seq__isnull=True, also_id=user.id, staff_seq__gt=after)
        )
    rows = await query.order_by("staff_seq").limit(REPLAY_LIMIT + 1)
    if len(rows) > REPLAY_LIMIT:
        return None
    return rows


async def events_between(thread_id: str, first: int, last: int) -> list[Event]:
    """Return a thread's events with staff_seq in [first, last], in order (gap filling)."""
    return (
        await Event.filter(thread_id=thread_id, staff_seq__gte=first, staff_seq__lte=last)
        .order_by("staff_seq")
    )  # fmt: skip


async def latest_seq(thread_id: str) -> int:
    """Return a thread's latest committed staff_seq (0 for an unknown thread)."""
    thread = await Thread.filter(id=thread_id).only("id", "staff_seq").first()
    return thread.staff_seq if thread is not None else 0


async def latest_seqs(thread_ids: list[str]) -> dict[str, int]:
    """Return the latest committed staff_seq of each of these threads that exists."""
    rows = await Thread.filter(id__in=thread_ids).values_list("id", "staff_seq")
    return {str(thread_id): int(seq) for thread_id, seq in rows}


async def thread_by_id(thread_id: str) -> Thread | None:
    """Return a thread whoever asks (the server's own work: gap filling, push)."""
    return await Thread.get_or_none(id=thread_id)


@dataclass(frozen=True, slots=True)
class ThreadRow:
    """A thread as one viewer sees it in a list. Only threads the viewer follows or took part
    in (and did not mute) count unread messages: the others stay readable, without a count."""

    thread: Thread
    seq: int
    activity_at: datetime
    message_count: int
    read_count: int
    counted: bool = True
    claimed_by: str = ""  # staff only: who is answering ("I'm answering"), while it holds

    @property
    def unread(self) -> int:
        if not self.counted:
            return 0
        return max(0, self.message_count - self.read_count)


async def counted_threads(user: User, thread_ids: list[str]) -> set[str]:
    """Return which of these threads count unread messages for the user: those they follow,
    or wrote in without choosing otherwise since (muted, or back to the default)."""
    if not thread_ids:
        return set()
    states = dict(
        await Follow.filter(user_id=user.id, thread_id__in=thread_ids).values_list(
            "thread_id", "state"
        )
    )
    counted = {str(tid) for tid, state in states.items() if state == FollowState.FOLLOWING}
    others = [tid for tid in thread_ids if tid not in states]
    if others:  # wrote in it but has no follow row (set back to the default): took part
        wrote = Message.filter(author_id=user.id, thread_id__in=others).distinct()
        counted.update(str(tid) for tid in await wrote.values_list("thread_id", flat=True))
    return counted


async def _rows(user: User, threads: list[Thread]) -> list[ThreadRow]:
    ids = [t.id for t in threads]
    reads = {
        r.thread_id: r.read_messages
        for r in await ReadState.filter(user_id=user.id, thread_id__in=ids)
    }
    counted = await counted_threads(user, ids)
    # Who is answering each thread, while the claim holds: staff only (never customers).
    now = datetime.now(UTC)
    holders = {
        t.id: t.claimed_by_id for t in threads
        if user.is_staff and t.claimed_by_id and t.claimed_until and t.claimed_until > now
    }  # fmt: skip
    names = dict(await User.filter(id__in=list(set(holders.values()))).values_list(
        "id", "display_name")) if holders else {}  # fmt: skip
    return [
        ThreadRow(
            t,
            seq_of(t, user),
            activity_of(t, user),
            message_count_of(t, user),
            reads.get(t.id, 0),
            t.id in counted,
            names.get(holders.get(t.id, ""), ""),
        )  # fmt: skip
        for t in threads
    ]


async def thread_rows(user: User, limit: int = 100) -> list[ThreadRow]:
    """Return the visible threads, newest activity first, with unread counts."""
    order = "-staff_activity_at" if user.is_staff else "-public_activity_at"
    return await _rows(user, await threads_visible_to(user).order_by(order).limit(limit))


OWN_THREADS_SHOWN = 20  # a customer's own questions at the top of their start page


async def own_thread_rows(user: User) -> list[ThreadRow]:
    """Return the threads the user started (that they may still see), newest activity first."""
    order = "-staff_activity_at" if user.is_staff else "-public_activity_at"
    own = threads_visible_to(user).filter(author_id=user.id).order_by(order)
    return await _rows(user, await own.limit(OWN_THREADS_SHOWN))


async def thread_row(user: User, thread: Thread) -> ThreadRow:
    return (await _rows(user, [thread]))[0]


async def unread_total(user: User) -> int:
    """Return the number on the app icon: the unread messages of the thread list."""
    return sum(row.unread for row in await thread_rows(user))


async def page_threads(
    user: User, limit: int, cursor: tuple[datetime, str] | None
) -> list[ThreadRow]:
    """Return one page of visible threads for the JSON API, newest activity first."""
    field = "staff_activity_at" if user.is_staff else "public_activity_at"
    query = threads_visible_to(user)
    if cursor is not None:
        at, tid = cursor
        older: dict[str, Any] = {f"{field}__lt": at}
        same_time: dict[str, Any] = {field: at, "id__lt": tid}
        query = query.filter(Q(**older) | Q(**same_time))
    return await _rows(user, await query.order_by(f"-{field}", "-id").limit(limit))


# -- the person's own things ------------------------------------------------------------------


async def message_by_client_id(author: User, client_id: str) -> Message | None:
    """Return the message an author sent under a client_id (a retried send), with author."""
    found = await Message.get_or_none(author_id=author.id, client_id=client_id).prefetch_related(
        "author"
    )
    if found is not None:
        await with_attachments([found])
    return found


async def posts_let_out(author: User, up_to: int) -> int:
    """Count the author's posts others could see (not held, not deleted), stopping at up_to."""
    found = Message.filter(
        author_id=author.id, held_at__isnull=True, deleted_at__isnull=True, audience=Audience.ALL
    )
    return len(await found.limit(up_to).values_list("id", flat=True))


async def follow_state(user: User, thread_id: str) -> str | None:
    """How the user follows a thread: "following", "muted", or None (the default)."""
    found = await Follow.get_or_none(user_id=user.id, thread_id=thread_id)
    return found.state.value if found else None


async def messages_page(
    user: User, thread: Thread, limit: int, before: Message | None
) -> list[Message]:
    """One page of a thread's visible messages for the API, newest first, before a message."""
    query = messages_visible_to(user, thread)
    if before is not None:
        query = query.filter(seq__lt=before.seq)
    rows = await query.order_by("-seq").limit(limit).prefetch_related("author")
    await with_attachments(rows)
    return rows


async def database_answers() -> None:
    """Ask the database a trivial question; raise if it cannot answer (health checks)."""
    await get_connection("default").execute_query("SELECT 1")
