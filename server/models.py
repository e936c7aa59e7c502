"""Database models. Only server/actions writes them."""

from __future__ import annotations

import secrets
from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

ID_BYTES = 9  # 12 url-safe characters: unguessable, and gaps reveal nothing


def new_id() -> str:
    """Return a random public id (never sequential, so ids leak no counts)."""
    return secrets.token_urlsafe(ID_BYTES)


class Role(StrEnum):
    CUSTOMER = "customer"
    EMPLOYEE = "employee"
    MODERATOR = "moderator"
    ADMIN = "admin"


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


class ThreadStatus(StrEnum):
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"


class User(Model):
    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=80)
    role = fields.CharEnumField(Role, max_length=16, default=Role.CUSTOMER)
    team = fields.CharField(max_length=60, default="")
    password_hash = fields.CharField(max_length=200)
    language = fields.CharField(max_length=8, default="")  # "" = follow the browser
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"

    @property
    def is_staff(self) -> bool:
        return self.role != Role.CUSTOMER


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    user_id: str
    token_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the token
    name = fields.CharField(max_length=80)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_tokens"


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
