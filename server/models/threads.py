"""The dialogue: threads, their messages and events, who read and follows what, saved replies."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id

if TYPE_CHECKING:
    from server.models.people import Team, User
    from server.models.spaces import Space


class Visibility(StrEnum):
    PUBLIC = "public"  # customers and staff
    INTERNAL = "internal"  # staff only


class Audience(StrEnum):
    ALL = "all"  # everyone who may see the thread
    STAFF = "staff"  # staff only (staff notes come with a later issue)


class ThreadKind(StrEnum):
    QUESTION = "question"
    IDEA = "idea"
    DISCUSSION = "discussion"
    POST = "post"  # an announcement in a space; its comments are the thread's messages


class ThreadStatus(StrEnum):
    OPEN = "open"  # waiting for an answer (a customer's question: on the desk's queue)
    ANSWERED = "answered"  # staff replied (set by the reply itself, server/actions/desk.py)
    RESOLVED = "resolved"  # done, by the asker or staff; a customer's next message reopens it
    CLOSED = "closed"  # no more replies from customers


class Thread(Model):
    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    title = fields.CharField(max_length=200)
    kind = fields.CharEnumField(ThreadKind, max_length=16, default=ThreadKind.QUESTION)
    visibility = fields.CharEnumField(Visibility, max_length=16, default=Visibility.PUBLIC)
    status = fields.CharEnumField(ThreadStatus, max_length=16, default=ThreadStatus.OPEN)
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="threads", on_delete=fields.RESTRICT
    )
    author_id: str
    created_at = fields.DatetimeField(auto_now_add=True)
    # Per-audience event counters. staff_seq counts every event; public_seq only events for all.
    # Both are bumped in the same UPDATE that records an event, so the database orders them.
    staff_seq = fields.BigIntField(default=0)
    public_seq = fields.BigIntField(default=0)
    # Per-audience message counters for unread counts, and last activity per audience.
    staff_messages = fields.IntField(default=0)
    public_messages = fields.IntField(default=0)
    staff_activity_at = fields.DatetimeField(auto_now_add=True)
    public_activity_at = fields.DatetimeField(auto_now_add=True)
    # "I'm answering": the employee who claimed the thread, and until when (staff-only; it ends
    # when they post, release it, or at claimed_until: CLAIM_MINUTES, server/actions/claims.py).
    claimed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    claimed_by_id: str | None
    claimed_until = fields.DatetimeField(null=True)
    # The care desk (server/actions/desk.py), staff-only: to whom the question is routed,
    # since when a customer waits for staff (null: nobody waits), and the times it took.
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    team_id: str | None
    assignee: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    assignee_id: str | None
    waiting_since = fields.DatetimeField(null=True, db_index=True)
    first_response_at = fields.DatetimeField(null=True)
    resolved_at = fields.DatetimeField(null=True)
    escalated_at = fields.DatetimeField(null=True)  # told moderators and the team's lead
    # The official answer, shown under the question for everyone (a public staff reply).
    answer: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    answer_id: str | None
    # Moderation: a locked thread takes no new public replies but a moderator's (a banner says
    # so); a hidden one is gone for customers but its author, who sees the reason.
    locked_at = fields.DatetimeField(null=True)
    hidden_at = fields.DatetimeField(null=True)
    hidden_reason = fields.CharField(max_length=200, default="")
    # The space an employee-only thread or post belongs to (server/models/spaces.py).
    space: fields.ForeignKeyNullableRelation[Space] = fields.ForeignKeyField(
        "models.Space", related_name="threads", null=True, on_delete=fields.SET_NULL
    )
    space_id: str | None
    # The title's stems (server/terms.py), indexed for search (migration 0011).
    terms = fields.TextField(default="")

    class Meta:
        table = "threads"


class Message(Model):
    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="messages", on_delete=fields.CASCADE
    )
    thread_id: str
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="messages", on_delete=fields.RESTRICT
    )
    author_id: str
    client_id = fields.CharField(max_length=64)
    seq = fields.BigIntField(default=0)  # the thread's staff_seq when created: display order
    audience = fields.CharEnumField(Audience, max_length=8, default=Audience.ALL)
    body = fields.TextField()
    html = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True)
    edited_at = fields.DatetimeField(null=True)
    deleted_at = fields.DatetimeField(null=True)
    # Moderation: a hidden message shows everyone a line with the reason instead of its text
    # (staff may still fetch it); a held one (a newcomer's first posts) reaches only its author
    # and staff until a moderator approves it.
    hidden_at = fields.DatetimeField(null=True)
    hidden_reason = fields.CharField(max_length=200, default="")
    held_at = fields.DatetimeField(null=True)
    # The body's stems (server/terms.py), indexed for search; "" once deleted (migration 0011).
    terms = fields.TextField(default="")

    class Meta:
        table = "messages"
        unique_together = (("author", "client_id"),)


class Event(Model):
    """One visible change in a thread, in the order the database committed it."""

    id = fields.BigIntField(primary_key=True)
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="events", on_delete=fields.CASCADE
    )
    thread_id: str
    audience = fields.CharEnumField(Audience, max_length=8)
    staff_seq = fields.BigIntField()
    public_seq = fields.BigIntField(null=True)  # null: staff-only, invisible to customers
    name = fields.CharField(max_length=32)
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="events", null=True, on_delete=fields.CASCADE
    )
    message_id: str | None
    # Someone who sees a staff-numbered event besides staff (a rule such as "the author and
    # staff"), unnumbered. Never cascades: an event row is never deleted, or numbers would gap.
    also: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    also_id: str | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "events"
        unique_together = (("thread", "staff_seq"), ("thread", "public_seq"))


class ReadState(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="reads", on_delete=fields.CASCADE
    )
    user_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="reads", on_delete=fields.CASCADE
    )
    thread_id: str
    read_messages = fields.IntField(default=0)  # the viewer's message counter when last read
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "read_states"
        unique_together = (("user", "thread"),)


class FollowState(StrEnum):
    FOLLOWING = "following"  # replies notify
    MUTED = "muted"  # nothing notifies, not even being a participant


class Follow(Model):
    """Whether a user hears about a thread: set by writing in it, or by the follow button."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="follows", on_delete=fields.CASCADE
    )
    user_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="follows", on_delete=fields.CASCADE
    )
    thread_id: str
    state = fields.CharEnumField(FollowState, max_length=12, default=FollowState.FOLLOWING)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "follows"
        unique_together = (("user", "thread"),)


class SavedReply(Model):
    """A reply an employee inserts from the composer (`/`): personal (owner) or shared with a
    team. Placeholders such as {first_name} are filled in for the thread it goes into."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    title = fields.CharField(max_length=80)
    body = fields.TextField()
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.CASCADE
    )
    owner_id: str | None
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.CASCADE
    )
    team_id: str | None
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    created_by_id: str | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "saved_replies"


class Mention(Model):
    """Someone @mentioned in a message they may read (server/mentions.py): their Mentions
    view lists it, unread until they have seen the list."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="mentions", on_delete=fields.CASCADE
    )
    user_id: str
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="mentions", on_delete=fields.CASCADE
    )
    message_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name=False, on_delete=fields.CASCADE
    )
    thread_id: str
    created_at = fields.DatetimeField(auto_now_add=True)
    read_at = fields.DatetimeField(null=True)

    class Meta:
        table = "mentions"
        unique_together = (("user", "message"),)
