"""Community answers: "Helpful" marks on replies (once per person). An accepted answer is the
thread's `answer` (server/models/threads.py), chosen by the asker or staff."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

if TYPE_CHECKING:
    from server.models.people import User
    from server.models.threads import Message


class Helpful(Model):
    """Someone found a reply helpful: at most once per person and reply (a unique key)."""

    id = fields.BigIntField(primary_key=True)
    message: fields.ForeignKeyRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, on_delete=fields.CASCADE
    )
    message_id: str
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    user_id: str
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "helpful_marks"
        unique_together = (("message", "user"),)
