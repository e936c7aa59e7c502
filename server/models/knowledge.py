"""Knowledge: articles any employee can edit, each save a revision; public ones form the help
centre customers read."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tortoise import fields
from tortoise.models import Model

from server.models.ids import new_id

if TYPE_CHECKING:
    from server.models.people import User
    from server.models.threads import Thread


class Article(Model):
    """A knowledge article as its newest revision left it (title, text, rendered HTML and
    search stems are copies of it, so reading and searching never join the history)."""

    id = fields.CharField(max_length=16, primary_key=True, default=new_id)
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    html = fields.TextField()  # with heading anchors (server/knowledge.py renders the contents)
    terms = fields.TextField(default="")  # title and text stems, indexed for search (0013)
    public = fields.BooleanField(default=False)  # customers read it in the help centre
    revision = fields.IntField(default=1)  # the newest revision's number: edits start from one
    source_thread: fields.ForeignKeyNullableRelation[Thread] = fields.ForeignKeyField(
        "models.Thread", related_name=False, null=True, on_delete=fields.SET_NULL
    )  # the customer question it was promoted from
    source_thread_id: str | None
    created_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    created_by_id: str
    updated_by: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    updated_by_id: str
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "articles"


class Revision(Model):
    """One saved state of an article: who, when, from which revision they started."""

    id = fields.BigIntField(primary_key=True)
    article: fields.ForeignKeyRelation[Article] = fields.ForeignKeyField(
        "models.Article", related_name="revisions", on_delete=fields.CASCADE
    )
    article_id: str
    number = fields.IntField()  # 1, 2, 3 … per article
    title = fields.CharField(max_length=200)
    body = fields.TextField()
    public = fields.BooleanField(default=False)
    author: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name=False, on_delete=fields.RESTRICT
    )
    author_id: str
    based_on = fields.IntField(default=0)  # the revision the author started from (0: new)
    restored_from = fields.IntField(null=True)  # a restore copies this revision
    note = fields.CharField(max_length=200, default="")  # the author's summary of the change
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "revisions"
        unique_together = (("article", "number"),)
