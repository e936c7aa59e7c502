"""Reads of moderation, for moderators and admins only: the queue with each item's context,
the author's history, and the audit log. Everyone else gets nothing from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tortoise.expressions import Q

from server.models import (
    AuditAction,
    AuditEntry,
    Flag,
    Message,
    Review,
    ReviewState,
    Thread,
    User,
)
from server.queries import is_id

QUEUE_PAGE = 50  # items a moderator sees at once; the oldest waiting first
CONTEXT_BEFORE = 2  # messages shown before a flagged one (the thread around it)
CONTEXT_AFTER = 1
AUDIT_PAGE = 100


@dataclass
class History:
    """What a moderator wants to know about an item's author before acting."""

    posts: int = 0
    hidden: int = 0  # of their posts, hidden by flags or moderators
    flagged: int = 0  # flags others raised against their posts, ever
    sanctions: int = 0  # mutes and suspensions in the audit log


@dataclass
class Item:
    review: Review
    thread: Thread
    message: Message | None
    author: User
    flags: list[Flag] = field(default_factory=list)  # with their reporters
    context: list[Message] = field(default_factory=list)  # the thread around a message
    history: History = field(default_factory=History)


def _may_moderate(viewer: User) -> bool:
    return viewer.moderates and viewer.is_active


async def queue(
    viewer: User, state: ReviewState = ReviewState.PENDING, thread_id: str = "",
    limit: int = QUEUE_PAGE,
) -> list[Item]:  # fmt: skip
    """The moderation queue: items in a state, the longest waiting first (the newest decided
    first for decided ones), optionally of one thread (where an alert leads)."""
    if not _may_moderate(viewer):
        return []
    found = Review.filter(state=state)
    if thread_id:
        if not is_id(thread_id):
            return []
        found = found.filter(thread_id=thread_id)
    order = "updated_at" if state == ReviewState.PENDING else "-updated_at"
    reviews = (
        await found.order_by(order, "id")
        .limit(limit)
        .prefetch_related("thread", "message", "author")
    )
    flags: dict[str, list[Flag]] = {}
    ids = [r.id for r in reviews]
    for f in await Flag.filter(review_id__in=ids).order_by("id").prefetch_related("reporter"):
        flags.setdefault(f.review_id, []).append(f)
    items = []
    histories: dict[str, History] = {}
    for review in reviews:
        if review.author_id not in histories:
            histories[review.author_id] = await history_of(review.author_id)
        msg = review.message
        if msg is not None:
            await msg.fetch_related("author")
        items.append(
            Item(
                review,
                review.thread,
                msg,
                review.author,
                flags.get(review.id, []),
                await _context(msg) if msg is not None else [],
                histories[review.author_id],
            )  # fmt: skip
        )
    return items


async def pending_count(viewer: User) -> int:
    """How many items wait on the queue (the badge on a moderator's menu)."""
    if not _may_moderate(viewer):
        return 0
    return await Review.filter(state=ReviewState.PENDING).count()


async def _context(msg: Message) -> list[Message]:
    """The flagged message with the messages around it, staff's view (notes included)."""
    before = (
        await Message.filter(thread_id=msg.thread_id, seq__lt=msg.seq)
        .order_by("-seq")
        .limit(CONTEXT_BEFORE)
        .prefetch_related("author")
    )
    after = (
        await Message.filter(thread_id=msg.thread_id, seq__gt=msg.seq)
        .order_by("seq")
        .limit(CONTEXT_AFTER)
        .prefetch_related("author")
    )
    return [*reversed(before), msg, *after]


async def history_of(user_id: str) -> History:
    return History(
        posts=await Message.filter(author_id=user_id).count(),
        hidden=await Message.filter(author_id=user_id, hidden_at__isnull=False).count(),
        flagged=await Flag.filter(review__author_id=user_id).count(),
        sanctions=await AuditEntry.filter(
            subject_id=user_id, action__in=[AuditAction.MUTED.value, AuditAction.SUSPENDED.value]
        ).count(),
    )


async def hidden_text(viewer: User, message_id: object) -> Message | None:
    """A hidden message with its text, for staff alone (customers get None, as if missing)."""
    if not viewer.is_staff or not is_id(message_id):
        return None
    return await Message.get_or_none(id=message_id, hidden_at__isnull=False, deleted_at=None)


@dataclass(frozen=True)
class AuditFilter:
    action: str = ""  # an AuditAction value
    person: str = ""  # part of the actor's or subject's name or e-mail (as recorded)
    since: datetime | None = None
    until: datetime | None = None

    def applied(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v}


async def audit_log(viewer: User, where: AuditFilter, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
    """Audit entries, newest first, filtered: for moderators and admins only."""
    if not _may_moderate(viewer):
        return []
    found = AuditEntry.all()
    if where.action:
        found = found.filter(action=where.action)
    if where.person:
        people = await User.filter(
            Q(display_name__icontains=where.person) | Q(email__icontains=where.person)
        ).values_list("id", flat=True)
        found = found.filter(Q(actor_id__in=list(people)) | Q(subject_id__in=list(people)))
    if where.since is not None:
        found = found.filter(created_at__gte=where.since)
    if where.until is not None:
        found = found.filter(created_at__lt=where.until)
    return await found.order_by("-id").limit(limit).prefetch_related("actor", "subject")
