"""Saved replies: an employee keeps a personal one or shares one with their team."""

from __future__ import annotations

from server.desk import team_of
from server.errors import ActionError, Forbidden, NotFound
from server.i18n import N_
from server.markdown import clean_body
from server.models import SavedReply, User
from server.queries import is_id
from server.replies import PLACEHOLDERS, unknown_placeholders

TITLE_MAX_CHARS = 80  # as SavedReply.title


def clean_title(title: object) -> str:
    """Return a reply's title with its spaces tidied, or raise ActionError."""
    if not isinstance(title, str) or not " ".join(title.split()):
        raise ActionError("empty_title", N_("the saved reply needs a title"))
    clean = " ".join(title.split())
    if len(clean) > TITLE_MAX_CHARS:
        raise ActionError(
            "title_too_long", N_("the title is {length} characters; the limit is {limit}"),
            length=len(clean), limit=TITLE_MAX_CHARS,
        )  # fmt: skip
    return clean


async def create_reply(actor: User, title: object, body: object, shared: object) -> SavedReply:
    """Save a reply (staff only): personal, or for the actor's team when `shared`."""
    if not actor.is_staff or not actor.is_active:
        raise Forbidden(N_("only staff may save replies"))
    clean = clean_title(title)
    text = clean_body(body)
    unknown = unknown_placeholders(text)
    if unknown:
        raise ActionError(
            "unknown_placeholder", N_("unknown placeholder {name!r}: use {allowed}"),
            name="{" + unknown[0] + "}", allowed=", ".join("{" + p + "}" for p in PLACEHOLDERS),
        )  # fmt: skip
    if shared:
        team = await team_of(actor)
        if team is None:
            raise ActionError("no_team", N_("you are in no team to share the reply with"))
        return await SavedReply.create(title=clean, body=text, team_id=team.id,
                                       created_by_id=actor.id)  # fmt: skip
    return await SavedReply.create(title=clean, body=text, owner_id=actor.id,
                                   created_by_id=actor.id)  # fmt: skip


async def delete_reply(actor: User, reply_id: object) -> None:
    """Delete a saved reply: one's own, or one shared with one's team."""
    reply = await SavedReply.get_or_none(id=reply_id) if is_id(reply_id) else None
    if reply is None or not actor.is_staff or not actor.is_active:
        raise NotFound(N_("saved reply not found"))
    if reply.owner_id != actor.id:
        team = await team_of(actor) if reply.team_id is not None else None
        if team is None or team.id != reply.team_id:
            raise NotFound(N_("saved reply not found"))
    await reply.delete()
