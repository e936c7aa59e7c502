"""Photos and files attached to messages (issue 15): the rows; the bytes live in storage."""

from __future__ import annotations

import secrets
from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from server.models.people import User
    from server.models.threads import Message, Thread

ATTACHMENT_ID_BYTES = 16  # 128 random bits: a file URL is its own secret only if unguessable
ATTACHMENT_ID_CHARS = 22  # what token_urlsafe makes of 16 bytes


def new_attachment_id() -> str:
    """Return a random attachment id: 22 URL-safe characters, never sequential."""
    return secrets.token_urlsafe(ATTACHMENT_ID_BYTES)


class AttachmentKind(StrEnum):
    IMAGE = "image"  # re-encoded, with a thumbnail and a placeholder; shown in the thread
    FILE = "file"  # stored as uploaded; offered for download


class Attachment(Model):
    """A photo or file uploaded for a thread, shown in its message once sent (unsent: swept)."""

    id = fields.CharField(max_length=24, primary_key=True, default=new_attachment_id)
    uploader: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    uploader_id: str
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name=False, on_delete=fields.CASCADE
    )
    thread_id: str
    # Set in the transaction that sends the message; null while the upload waits for it.
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    message_id: str | None
    client_id = fields.CharField(max_length=64)  # the browser's id for this file: retries
    kind = fields.CharEnumField(AttachmentKind, max_length=8)
    content_type = fields.CharField(max_length=100)
    name = fields.CharField(max_length=255)
    size = fields.BigIntField()  # bytes as stored and served (an image after re-encoding)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    placeholder = fields.TextField(default="")  # a tiny blurred data URL, images only
    position = fields.IntField(default=0)  # its place in the message
    created_at = fields.DatetimeField()
    attached_at = fields.DatetimeField(null=True)

    class Meta:
        table = "attachments"
        unique_together = (("uploader", "client_id"),)
        indexes = (
            ("message_id", "created_at"),  # the sweep: unsent (null) and older than a day
            ("message_id", "position"),  # a message's attachments, in order
            ("uploader_id", "created_at"),  # the daily quota
        )
