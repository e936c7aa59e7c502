"""Reads of attachments that depend on who asks: a file is visible iff its message is."""

from __future__ import annotations

import re
from typing import TypeGuard

from tortoise.expressions import Subquery

from server.models import ATTACHMENT_ID_CHARS, Attachment, Audience, User
from server.queries import message_for, thread_for, threads_visible_to

ATTACHMENT_ID_RE = re.compile(rf"[A-Za-z0-9_-]{{{ATTACHMENT_ID_CHARS}}}")  # token_urlsafe(16)


def is_attachment_id(value: object) -> TypeGuard[str]:
    """Tell whether a value from a request could be an attachment id (else no row has it)."""
    return isinstance(value, str) and ATTACHMENT_ID_RE.fullmatch(value) is not None


async def attachment_for(viewer: User | None, attachment_id: object) -> Attachment | None:
    """Return an attachment the viewer may see, or None (missing and forbidden alike).

    Visible iff its message is (server.queries.message_for: staff notes only for staff, a
    held post only for its author and staff, internal threads only for staff), and not at
    all to customers once the message is hidden or deleted. Not yet sent: its uploader alone.
    """
    if viewer is None or not is_attachment_id(attachment_id):
        return None
    att = await Attachment.get_or_none(id=attachment_id)
    if att is None:
        return None
    if att.message_id is None:
        if att.uploader_id != viewer.id or await thread_for(viewer, att.thread_id) is None:
            return None
        return att
    msg = await message_for(viewer, att.message_id)
    if msg is None:
        return None
    if not viewer.is_staff and (msg.deleted_at is not None or msg.hidden_at is not None):
        return None
    return att


async def own_attachments(user: User) -> list[Attachment]:
    """Return the attachments of a person's own sent messages they may still see (the data
    export): not those of messages deleted, or moved into staff notes or hidden threads."""
    query = Attachment.filter(
        uploader_id=user.id,
        message_id__isnull=False,
        message__deleted_at__isnull=True,
    )
    if not user.is_staff:
        visible = Subquery(threads_visible_to(user).values("id"))
        query = query.filter(message__audience=Audience.ALL, thread_id__in=visible)
    return await query.order_by("created_at", "id")
