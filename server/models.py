"""Database models. Only server/actions writes them."""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import Any

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
    OPEN = "open"  # waiting for an answer (a customer's question: on the desk's queue)
    ANSWERED = "answered"  # staff replied (set by the reply itself, server/actions/desk.py)
    RESOLVED = "resolved"  # done, by the asker or staff; a customer's next message reopens it
    CLOSED = "closed"  # no more replies from customers


class User(Model):
    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    email = fields.CharField(max_length=254, unique=True)
    display_name = fields.CharField(max_length=80)
    role = fields.CharEnumField(Role, max_length=16, default=Role.CUSTOMER)
    team = fields.CharField(max_length=60, default="")
    password_hash = fields.CharField(max_length=200)
    language = fields.CharField(max_length=8, default="")  # "" = follow the browser
    created_at = fields.DatetimeField(auto_now_add=True)
    # Set by an admin: the account cannot sign in, and had its sessions and tokens ended.
    deactivated_at = fields.DatetimeField(null=True)
    # Set by a moderator (server/actions/sanctions.py), each until a time: muted people read
    # but cannot write, suspended ones cannot sign in. The reason is shown to them.
    muted_until = fields.DatetimeField(null=True)
    suspended_until = fields.DatetimeField(null=True)
    sanction_reason = fields.CharField(max_length=200, default="")

    class Meta:
        table = "users"

    @property
    def is_staff(self) -> bool:
        return self.role != Role.CUSTOMER

    @property
    def is_active(self) -> bool:
        return self.deactivated_at is None

    @property
    def moderates(self) -> bool:
        """Moderators and admins review flags and act on posts and people."""
        return self.role in (Role.MODERATOR, Role.ADMIN)


class Team(Model):
    """A team of employees (Billing, Field service): questions are routed to it, saved replies
    shared in it. Members are the employees whose `User.team` is its name."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    name = fields.CharField(max_length=60, unique=True)
    # Escalations of questions waiting too long for this team reach its lead (and moderators).
    lead: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    lead_id: str | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "teams"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    user_id: str
    token_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the token
    name = fields.CharField(max_length=80)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)  # noted at most once a minute
    expires_at = fields.DatetimeField(null=True)  # null: until revoked

    class Meta:
        table = "api_tokens"


class Session(Model):
    """A signed-in browser. The cookie holds a random key, the row holds its hash, so signing
    out (here or from another device) ends it for good, and a copied cookie dies with it."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)  # shown in URLs
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="sessions", on_delete=fields.CASCADE
    )
    user_id: str
    key_hash = fields.CharField(max_length=64, unique=True)  # sha256 hex of the cookie's key
    device = fields.CharField(max_length=80, default="")  # "Chrome Mobile on Android"
    created_at = fields.DatetimeField(auto_now_add=True)
    last_seen_at = fields.DatetimeField(
        db_index=True
    )  # renewed hourly at most, ends it after 30 days

    class Meta:
        table = "sessions"


class AuditAction(StrEnum):
    ROLE_CHANGED = "role_changed"
    DEACTIVATED = "deactivated"
    REACTIVATED = "reactivated"
    PUSH_DEVICE_MOVED = "push_device_moved"  # a device now notifies another account
    # Moderation (server/actions/moderation.py, server/actions/sanctions.py).
    FLAGS_DISMISSED = "flags_dismissed"
    APPROVED = "approved"  # a post held for review goes out
    HIDDEN = "hidden"  # a message or thread, with a reason its author sees
    RESTORED = "restored"
    DELETED = "deleted"
    MOVED_TO_NOTE = "moved_to_note"  # a customer's public message became a staff note
    RENAMED = "renamed"
    LOCKED = "locked"
    UNLOCKED = "unlocked"
    MUTED = "muted"
    SUSPENDED = "suspended"
    SANCTION_LIFTED = "sanction_lifted"


class AuditEntry(Model):
    """Who changed what about whom, and when. Rows are only ever added (server/actions/audit.py,
    and triggers refuse any change, migration 0010) and only moderators and admins read them."""

    id = fields.BigIntField(primary_key=True)
    # Null once that account is gone, or for a change nobody made (none yet).
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    actor_id: str | None
    action = fields.CharField(max_length=32)  # an AuditAction (text: a new one needs no migration)
    subject: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    subject_id: str | None
    # What changed, and names as they were then (shown even after the account changes).
    details: fields.JSONField[dict[str, Any]] = fields.JSONField(default=dict)
    # What it was about besides a person ("message:<id>", "thread:<id>"), for filtering.
    target = fields.CharField(max_length=40, default="", db_index=True)
    reason = fields.CharField(max_length=500, default="")  # why, in the actor's words
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_entries"


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


class NotificationSettings(Model):
    """A user's push preferences: kinds, quiet hours in their own time zone."""

    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="notification_settings", on_delete=fields.CASCADE,
        primary_key=True,
    )  # fmt: skip
    user_id: str
    replies = fields.BooleanField(default=True)
    mentions = fields.BooleanField(default=True)
    status_changes = fields.BooleanField(default=True)
    moderation = fields.BooleanField(default=True)  # moderators only
    new_questions = fields.BooleanField(default=True)  # staff: for my team, or while on duty
    assignments = fields.BooleanField(default=True)  # staff: a question assigned to me/my team
    escalations = fields.BooleanField(default=True)  # moderators, team leads: long waits
    quiet_hours = fields.BooleanField(default=False)
    quiet_start = fields.CharField(max_length=5, default="22:00")  # HH:MM, user's time zone
    quiet_end = fields.CharField(max_length=5, default="07:00")
    time_zone = fields.CharField(max_length=64, default="Europe/Berlin")
    urgent_in_quiet_hours = fields.BooleanField(default=True)  # mentions and moderator alerts
    # Staff: working hours, in the same time zone. Outside them no routine desk alert (a new
    # question) arrives: the desk counts them as not on duty.
    work_hours = fields.BooleanField(default=False)
    work_start = fields.CharField(max_length=5, default="08:00")
    work_end = fields.CharField(max_length=5, default="17:00")
    work_days = fields.CharField(max_length=7, default="12345")  # ISO weekdays, 1 = Monday

    class Meta:
        table = "notification_settings"


class PushSubscription(Model):
    """One device's Web Push subscription. An endpoint belongs to one user at a time."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="push_subscriptions", on_delete=fields.CASCADE
    )
    user_id: str
    endpoint = fields.CharField(max_length=1024, unique=True)
    p256dh = fields.CharField(max_length=128)
    auth = fields.CharField(max_length=64)
    label = fields.CharField(max_length=80, default="")
    # The device's own language when it subscribed (one we speak, "" if it said none): pushes
    # use it while the person's setting is "as in the browser" (User.language == "").
    language = fields.CharField(max_length=8, default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    last_delivered_at = fields.DatetimeField(null=True)
    last_error = fields.CharField(max_length=200, default="")
    last_error_at = fields.DatetimeField(null=True)

    class Meta:
        table = "push_subscriptions"


class PushJobState(StrEnum):
    QUEUED = "queued"
    DONE = "done"
    FAILED = "failed"  # gave up; the reason is on the job and the device


class PushJob(Model):
    """A notification to deliver to one device, durable across restarts."""

    id = fields.BigIntField(primary_key=True)
    subscription: fields.ForeignKeyRelation[PushSubscription] = fields.ForeignKeyField(
        "models.PushSubscription", related_name="jobs", on_delete=fields.CASCADE
    )
    subscription_id: str
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="push_jobs", on_delete=fields.CASCADE
    )
    user_id: str
    kind = fields.CharField(max_length=16)  # reply | mention | status | moderation | test
    thread: fields.ForeignKeyNullableRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="push_jobs", null=True, on_delete=fields.CASCADE
    )
    thread_id: str | None
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="push_jobs", null=True, on_delete=fields.CASCADE
    )
    message_id: str | None
    state = fields.CharEnumField(PushJobState, max_length=8, default=PushJobState.QUEUED)
    attempts = fields.IntField(default=0)
    not_before = fields.DatetimeField(auto_now_add=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    outcome = fields.CharField(max_length=200, default="")

    class Meta:
        table = "push_jobs"
        # Due jobs in order, and the newer jobs for a device and thread that merge older ones.
        indexes = (("state", "not_before"), ("subscription_id", "thread_id", "state"))


class NotificationIntent(Model):
    # No semicolons in model docstrings: tortoise turns them into table comments, and a
    # semicolon there splits the SQLite schema script (tortoise-orm 1.1).
    """Something happened that may notify people. Written in the same transaction as the
    change, expanded into PushJobs by the push worker (so a crash between loses nothing)."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharField(max_length=16)  # reply | status | moderation
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="notification_intents", on_delete=fields.CASCADE
    )
    thread_id: str
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="notification_intents", null=True,
        on_delete=fields.CASCADE,
    )  # fmt: skip
    message_id: str | None
    actor: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="notification_intents", on_delete=fields.CASCADE
    )
    actor_id: str
    # Who had the thread open on the server that recorded this (space-separated user ids):
    # they saw it happen live, so replies and mentions do not buzz their phones.
    viewers = fields.TextField(default="")
    # A worker expanding it holds it until then, and records the last device it queued a job
    # for (jobs are queued in device order, a batch per transaction).
    claimed_until = fields.DatetimeField(null=True)
    expanded_upto = fields.CharField(max_length=16, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "notification_intents"


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


class FlagReason(StrEnum):
    SPAM = "spam"
    ABUSIVE = "abusive"
    OFF_TOPIC = "off_topic"
    CONFIDENTIAL = "confidential"  # personal or company information posted in public
    OTHER = "other"  # with the reporter's text


class Flag(Model):
    """One person's report of a message or thread. One per person and item (`target`)."""

    id = fields.BigIntField(primary_key=True)
    reporter: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    reporter_id: str
    review: fields.ForeignKeyRelation[Review] = fields.ForeignKeyField(
        "models.Review", related_name="reports", on_delete=fields.CASCADE
    )
    review_id: str
    target = fields.CharField(max_length=40)  # "message:<id>" or "thread:<id>"
    reason = fields.CharEnumField(FlagReason, max_length=16)
    text = fields.CharField(max_length=500, default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "flags"
        unique_together = (("reporter", "target"),)


class ReviewState(StrEnum):
    PENDING = "pending"  # on the moderation queue
    DONE = "done"  # a moderator acted or dismissed it (a new flag puts it back)


class Review(Model):
    """An item on the moderation queue: a flagged or held message, or a flagged thread. One row
    per item: new flags after a decision put it back on the queue."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    target = fields.CharField(max_length=40, unique=True)  # as Flag.target
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name=False, on_delete=fields.CASCADE
    )
    thread_id: str
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, null=True, on_delete=fields.CASCADE
    )
    message_id: str | None
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )  # whose post it is
    author_id: str
    state = fields.CharEnumField(ReviewState, max_length=8, default=ReviewState.PENDING)
    flags = fields.IntField(default=0)  # flags since the last decision
    held = fields.BooleanField(default=False)  # a newcomer's post waiting for approval
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now_add=True, db_index=True)  # last flag or decision
    decided_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    decided_by_id: str | None
    decision = fields.CharField(max_length=32, default="")  # an AuditAction value

    class Meta:
        table = "reviews"
        indexes = (("state", "updated_at"),)
