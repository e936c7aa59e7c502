"""Spaces: employee-only places for a team, the whole company or any subject, each with its
threads and posts; people join (and so follow) them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id

if TYPE_CHECKING:
    from server.models.people import Team, User


class Space(Model):
    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    name = fields.CharField(max_length=60, unique=True)
    description = fields.CharField(max_length=300, default="")
    # A team's own space: the team's staff are members without joining.
    team: fields.ForeignKeyNullableRelation[Team] = fields.ForeignKeyField(
        "models.Team", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    team_id: str | None
    company = fields.BooleanField(default=False)  # everyone on staff is a member
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    created_by_id: str
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "spaces"


class SpaceMember(Model):
    """Someone who joined a space: they follow each new thread and post in it."""

    id = fields.BigIntField(primary_key=True)
    space: fields.ForeignKeyRelation[Space] = fields.ForeignKeyField(
        "models.Space", related_name="members", on_delete=fields.CASCADE
    )
    space_id: str
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    user_id: str
    joined_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "space_members"
        unique_together = (("space", "user"),)
