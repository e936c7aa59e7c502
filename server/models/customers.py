"""What staff keep about a customer (social CRM): tags and private notes. Customers never see
any of it (server/customers.py reads it for staff only)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id

if TYPE_CHECKING:
    from server.models.people import User


class CustomerTag(Model):
    """A staff tag on a customer ("key account", "solar"), lower case, once per customer."""

    id = fields.BigIntField(primary_key=True)
    customer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    customer_id: str
    tag = fields.CharField(max_length=30, db_index=True)
    added_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    added_by_id: str | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "customer_tags"
        unique_together = (("customer", "tag"),)


class CustomerNote(Model):
    """A private staff note about a customer (not about a thread: that is a staff note)."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    customer: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.CASCADE
    )
    customer_id: str
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    author_id: str
    body = fields.TextField()
    html = fields.TextField()
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "customer_notes"
