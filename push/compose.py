"""What a push says: compose a job's notification at send time, or say why none is due."""

from __future__ import annotations

import html
from collections.abc import Callable

import nh3

from push.kinds import KINDS, Words
from push.payloads import Notification
from server.i18n import DEFAULT_LANGUAGE, gettext_for
from server.models import AttachmentKind, Message, PushJob, ReadState, Thread, User
from server.queries import (
    attachments_of,
    message_count_of,
    messages_visible_to,
    unread_total,
    visible_to,
    with_attachments,
)

UNREAD_SCAN = 100  # newest unread messages checked for the recipient's own; older ones count
APP_NAME = "Dreiklang"  # the title of a notification that is about no thread


async def compose(job: PushJob, user: User, device_language: str = "") -> Notification | str:
    """Build the notification in the person's language (as set, else the device's), or say
    why none is due any more."""
    kind = KINDS.by_name.get(job.kind)
    if kind is None:
        return "unknown kind"
    catalog = gettext_for(user.language or device_language or DEFAULT_LANGUAGE)
    _, ngettext = catalog.gettext, catalog.ngettext
    if not kind.about_thread:
        body = kind.body(Words(_, ngettext))
        return Notification(kind.name, APP_NAME, body, "/settings", kind.name, 0)
    thread = await Thread.get_or_none(id=job.thread_id)
    if thread is None or not visible_to(user, thread):
        return "not visible"
    message = None
    image = ""
    if job.message_id is not None:
        message = await Message.get_or_none(id=job.message_id).prefetch_related("author")
        if message is None or not visible_to(user, thread, message):
            return "deleted or not visible"
    url = kind.link(thread.id) if kind.link is not None else f"/threads/{thread.id}"
    word = await kind.status(thread) if kind.status else thread.status.value.capitalize()
    words = Words(_, ngettext, status=_(word))
    if kind.about_message:
        read = await ReadState.get_or_none(user_id=user.id, thread_id=thread.id)
        unread = message_count_of(thread, user) - (read.read_messages if read else 0)
        if unread <= 0:
            return "already read"
        if unread > 1:
            unread = await _unread_from_others(user, thread, unread)
        assert message is not None
        url += f"#msg-{message.id}"
        # Plain text for the lock screen: strip the tags, then undo the escaping ("&amp;").
        text = html.unescape(nh3.clean(message.html, tags=set())).strip()
        await with_attachments([message])
        text = " ".join(filter(None, [attachment_word(message, _), text]))
        image = _thumbnail(message)
        author = message.author.display_name
        if message.author.is_staff:
            author += f" ({_('staff')})"
        words = Words(_, ngettext, author, text, unread, words.status)
    badge = await unread_total(user)  # the number the thread list adds up
    return Notification(
        kind.name, thread.title, kind.body(words), url, f"thread-{thread.id}", badge, image
    )


async def _unread_from_others(user: User, thread: Thread, unread: int) -> int:
    """Leave the recipient's own messages out of "N new replies": sending from the API or
    another client marks nothing read, yet one's own words are no news."""
    newest = (
        await messages_visible_to(user, thread)
        .order_by("-seq")
        .limit(min(unread, UNREAD_SCAN))
        .values("author_id")
    )
    own = sum(1 for row in newest if row["author_id"] == user.id)
    return max(1, unread - own)


def attachment_word(message: Message, _: Callable[[str], str]) -> str:
    """Say what a message carries ("📷 Photo", "📎 invoice.pdf"), before its caption."""
    attached = attachments_of(message)
    if not attached:
        return ""
    if any(a.kind == AttachmentKind.IMAGE for a in attached):
        return "📷 " + _("Photo")
    return "📎 " + attached[0].name


def _thumbnail(message: Message) -> str:
    """The first photo's thumbnail, for platforms that show an image in a notification; it is
    served like the thread's (to whoever may see the message, which the recipient may)."""
    for a in attachments_of(message):
        if a.kind == AttachmentKind.IMAGE:
            return f"/files/{a.id}/thumb"
    return ""
