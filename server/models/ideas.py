"""Ideas: customers' and staff's suggestions, each a live thread (kind `idea`), voted on once
per person, moved along a status workflow by staff, merged when they say the same."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id

if TYPE_CHECKING:
    from server.models.people import User
    from server.models.threads import Message, Thread


class IdeaStatus(StrEnum):
    NEW = "new"
    UNDER_REVIEW = "under_review"
    PLANNED = "planned"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DECLINED = "declined"  # with a reason
    DUPLICATE = "duplicate"  # merged into another idea (merged_into)


class Idea(Model):
    """What the board shows of an idea. Its title, description (first message) and talk
    are those of its thread."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    thread: fields.OneToOneRelation[Thread] = fields.OneToOneField(
        "models.Thread", related_name="idea", on_delete=fields.CASCADE
    )
    thread_id: str
    status = fields.CharEnumField(IdeaStatus, max_length=16, default=IdeaStatus.NEW)
    # Kept equal to the number of IdeaVote rows by the statement that adds or removes one.
    votes = fields.IntField(default=0)
    reason = fields.CharField(max_length=500, default="")  # why declined
    merged_into: fields.ForeignKeyNullableRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    merged_into_id: str | None
    # A customer's message staff promoted to this idea (its author is the idea's author).
    source: fields.ForeignKeyNullableRelation[Message] = fields.ForeignKeyField(
        "models.Message", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    source_id: str | None
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    status_changed_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "ideas"
        indexes = (("status", "votes"), ("votes", "created_at"))


class IdeaTag(Model):
    """A tag on an idea (lower case, as the board filters by it)."""

    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="tags", on_delete=fields.CASCADE
    )
    idea_id: str
    tag = fields.CharField(max_length=30, db_index=True)

    class Meta:
        table = "idea_tags"
        unique_together = (("idea", "tag"),)


class IdeaVote(Model):
    """A vote for an idea: at most one per person (a unique key, whatever races)."""

    id = fields.BigIntField(primary_key=True)
    idea: fields.ForeignKeyRelation[Idea] = fields.ForeignKeyField(
        "models.Idea", related_name="vote_rows", on_delete=fields.CASCADE
    )
    idea_id: str
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    user_id: str
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)  # trending: 30 days

    class Meta:
        table = "idea_votes"
        unique_together = (("idea", "user"),)
        indexes = (("idea_id", "created_at"),)  # trending: an idea's votes of the last 30 days
