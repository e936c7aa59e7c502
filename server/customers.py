"""Reads about a customer for staff (the customer profile: social CRM), and a person's own
data for their export. Both take who asks; the profile answers staff only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tortoise.expressions import Subquery

from server.files import own_attachments
from server.mentions import mentions_of
from server.models import (
    Audience,
    CustomerNote,
    CustomerTag,
    Helpful,
    Idea,
    IdeaVote,
    Message,
    NotificationSettings,
    Role,
    Session,
    Thread,
    ThreadKind,
    ThreadStatus,
    User,
    Visibility,
)
from server.queries import is_id, threads_visible_to

LIST_MAX = 10  # rows per list on the profile; the counts say how many there are in all
NOTES_MAX = 50  # notes shown, newest first: older ones are rarely what staff look for


@dataclass(slots=True)
class Waiting:
    """An open question of the customer and since when they wait for staff."""

    thread: Thread
    since: datetime
    minutes: int


@dataclass(slots=True)
class Profile:
    """Everything staff see about one customer, each list capped at LIST_MAX with its count."""

    person: User
    last_seen_at: datetime | None
    threads: list[Thread]
    thread_count: int
    replies: list[Message]  # their messages in threads other people started, newest first
    reply_count: int
    ideas: list[Idea]
    idea_count: int
    votes: list[IdeaVote]
    vote_count: int
    accepted: list[Thread]  # public questions whose accepted answer is theirs
    accepted_count: int
    waiting: list[Waiting]
    tags: list[CustomerTag]
    notes: list[CustomerNote] = field(default_factory=list)
    note_count: int = 0


def may_see_profiles(viewer: User) -> bool:
    """Tell whether someone may see customer profiles: active staff only."""
    return viewer.is_staff and viewer.is_active


async def customer_for(viewer: User, user_id: object) -> User | None:
    """Return the customer account with this id if the viewer may see its profile, else None
    (a customer, a missing id and a staff account are answered alike by the caller)."""
    if not may_see_profiles(viewer) or not is_id(user_id):
        return None
    return await User.get_or_none(id=user_id, role=Role.CUSTOMER)


async def tags_of(customer: User) -> list[CustomerTag]:
    """A customer's staff tags, alphabetically, with who added them."""
    return (
        await CustomerTag.filter(customer_id=customer.id).order_by("tag").select_related("added_by")
    )


async def notes_of(customer: User, limit: int = NOTES_MAX) -> tuple[list[CustomerNote], int]:
    """A customer's private staff notes, newest first, with their authors, and how many."""
    query = CustomerNote.filter(customer_id=customer.id)
    found = await query.order_by("-created_at", "-id").limit(limit).select_related("author")
    return found, await query.count()


async def last_seen(customer: User) -> datetime | None:
    """When the customer was last seen: their latest session's use or latest post."""
    session = await Session.filter(user_id=customer.id).order_by("-last_seen_at").first()
    post = await Message.filter(author_id=customer.id).order_by("-created_at").first()
    times = [t for t in (session and session.last_seen_at, post and post.created_at) if t]
    return max(times) if times else None


async def profile(viewer: User, customer: User, now: datetime | None = None) -> Profile:
    """Read a customer's profile for staff: a fixed number of queries, however active they are."""
    assert may_see_profiles(viewer) and customer.role == Role.CUSTOMER
    now = now or datetime.now(UTC)
    started = Thread.filter(author_id=customer.id)
    replies = Message.filter(author_id=customer.id, deleted_at__isnull=True).exclude(
        thread__author_id=customer.id
    )
    ideas = Idea.filter(thread__author_id=customer.id)
    votes = IdeaVote.filter(user_id=customer.id)
    accepted = Thread.filter(
        answer__author_id=customer.id, kind=ThreadKind.QUESTION, visibility=Visibility.PUBLIC
    )
    open_questions = await started.filter(
        kind=ThreadKind.QUESTION, status=ThreadStatus.OPEN, waiting_since__isnull=False
    ).order_by("waiting_since", "id").limit(LIST_MAX)  # fmt: skip
    notes, note_count = await notes_of(customer)
    return Profile(
        person=customer,
        last_seen_at=await last_seen(customer),
        threads=await started.order_by("-created_at", "-id").limit(LIST_MAX),
        thread_count=await started.count(),
        replies=await replies.order_by("-created_at", "-id").limit(LIST_MAX)
        .select_related("thread"),
        reply_count=await replies.count(),
        ideas=await ideas.order_by("-created_at", "-id").limit(LIST_MAX).select_related("thread"),
        idea_count=await ideas.count(),
        votes=await votes.order_by("-created_at", "-id").limit(LIST_MAX)
        .select_related("idea__thread"),
        vote_count=await votes.count(),
        accepted=await accepted.order_by("-created_at", "-id").limit(LIST_MAX),
        accepted_count=await accepted.count(),
        waiting=[_waiting(t, now) for t in open_questions],
        tags=await tags_of(customer),
        notes=notes,
        note_count=note_count,
    )  # fmt: skip


def _waiting(thread: Thread, now: datetime) -> Waiting:
    since = thread.waiting_since or now
    return Waiting(thread, since, max(0, int((now - since).total_seconds() // 60)))


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


async def export_of(user: User) -> dict[str, Any]:
    """Everything a person may take with them: their profile and settings, threads, messages
    (a staff member's own staff notes too), ideas, votes, helpful marks and the mentions of
    them they may read. Never what staff keep about them (tags, notes: the profile)."""
    settings = await NotificationSettings.get_or_none(user_id=user.id) or NotificationSettings(
        user_id=user.id
    )
    visible = threads_visible_to(user)
    threads = await visible.filter(author_id=user.id).order_by("created_at", "id")
    messages = Message.filter(author_id=user.id, deleted_at__isnull=True)
    if not user.is_staff:
        # What a moderator moved into a staff note is staff's now, though the customer wrote it.
        messages = messages.filter(audience=Audience.ALL)
    if not user.is_staff:
        messages = messages.filter(thread_id__in=Subquery(visible.values("id")))
    own_messages = await messages.order_by("created_at", "id")
    ideas = (
        await Idea.filter(thread__author_id=user.id).order_by("created_at").select_related("thread")
    )
    votes = await IdeaVote.filter(
        user_id=user.id, idea__thread_id__in=Subquery(visible.values("id"))
    )
    votes.sort(key=lambda v: (v.created_at, v.id))
    helpful = await Helpful.filter(user_id=user.id).order_by("created_at", "id")
    mentions = await mentions_of(user, limit=10_000)
    files = await own_attachments(user)
    return {
        "profile": {
            "id": user.id, "name": user.display_name, "email": user.email,
            "role": user.role.value, "team": user.team, "language": user.language,
            "created_at": _time(user.created_at),
            "notifications": _settings(settings, user.is_staff),
        },
        "threads": [
            {"id": t.id, "title": t.title, "kind": t.kind.value, "visibility": t.visibility.value,
             "status": t.status.value, "created_at": _time(t.created_at)}
            for t in threads
        ],
        "messages": [_message(m) for m in own_messages],
        "attachments": [
            {"id": a.id, "message": a.message_id, "name": a.name, "size": a.size,
             "content_type": a.content_type, "url": f"/files/{a.id}",
             "created_at": _time(a.created_at)}
            for a in files
        ],
        "ideas": [
            {"id": i.id, "thread": i.thread_id, "title": i.thread.title, "status": i.status.value,
             "votes": i.votes, "created_at": _time(i.created_at)}
            for i in ideas
        ],
        "votes": [
            {"idea": v.idea_id, "created_at": _time(v.created_at)} for v in votes
        ],
        "helpful": [
            {"message": h.message_id, "created_at": _time(h.created_at)} for h in helpful
        ],
        "mentions": [
            {"message": m.message_id, "thread": m.thread_id, "thread_title": m.thread.title,
             "by": m.message.author.display_name, "created_at": _time(m.created_at)}
            for m in reversed(mentions)
        ],
    }  # fmt: skip


def _message(m: Message) -> dict[str, Any]:
    hidden = m.hidden_at is not None
    return {
        "id": m.id, "thread": m.thread_id,
        "staff_note": m.audience == Audience.STAFF,
        # A hidden message's text reaches nobody, its author included (README, who sees what).
        "body": None if hidden else m.body,
        "hidden_reason": m.hidden_reason if hidden else None,
        "held": m.held_at is not None,
        "created_at": _time(m.created_at), "edited_at": _time(m.edited_at),
    }  # fmt: skip


def _settings(s: NotificationSettings, staff: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "replies": s.replies, "mentions": s.mentions, "status_changes": s.status_changes,
        "quiet_hours": s.quiet_hours, "quiet_start": s.quiet_start, "quiet_end": s.quiet_end,
        "time_zone": s.time_zone, "urgent_in_quiet_hours": s.urgent_in_quiet_hours,
    }  # fmt: skip
    if staff:
        out.update(
            moderation=s.moderation, new_questions=s.new_questions, assignments=s.assignments,
            escalations=s.escalations, work_hours=s.work_hours, work_start=s.work_start,
            work_end=s.work_end, work_days=s.work_days,
        )  # fmt: skip
    return out
