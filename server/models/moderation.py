"""Moderation: the audit log, flags, and the review queue."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id

if TYPE_CHECKING:
    from server.models.people import User
    from server.models.threads import Message, Thread


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
