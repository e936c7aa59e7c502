"""Notifications waiting to go out by e-mail, batched per person (push/mailing.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from server.models.people import User
    from server.models.threads import Message, Thread


class MailItem(Model):
    # No semicolons in model docstrings (tortoise turns them into SQLite table comments).
    """One notification for one person's next e-mail. Written by the push worker as it expands
    an intent, deleted in the transaction that queues the mail listing it."""

    id = fields.BigIntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="mail_items", on_delete=fields.CASCADE
    )
    user_id: str
    kind = fields.CharField(max_length=16)  # a push/kinds.py name
    thread: fields.ForeignKeyRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name="mail_items", on_delete=fields.CASCADE
    )
    thread_id: str
    message: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name="mail_items", null=True, on_delete=fields.CASCADE
    )
    message_id: str | None
    created_at = fields.DatetimeField()  # when it happened (the intent's time)
    # When the person's mail may go: the first item's time plus EMAIL_BATCH_MINUTES, later
    # when quiet hours hold it back. A person's mail lists all their items once one is due.
    due_at = fields.DatetimeField()

    class Meta:
        table = "mail_items"
        indexes = (("due_at",), ("user_id", "id"))
