"""What a notification mail says: a person's waiting items, grouped by thread, composed when
the mail is due, so that only what the person may still see, and has not read, is in it."""

from __future__ import annotations

import dataclasses
import gettext
import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import nh3

from push.compose import attachment_word
from push.kinds import KINDS, Kind, Words
from server.i18n import DEFAULT_LANGUAGE, N_, gettext_for
from server.mail.compose import render_mail
from server.mail.digest import unsubscribe_headers, unsubscribe_url
from server.mail.outbox import Mail
from server.mail.replyaddr import reply_address
from server.models import Audience, MailItem, Message, ReadState, Thread, User
from server.queries import message_count_of, messages_visible_to, visible_to, with_attachments
from server.settings import Settings

TEXT_MAX_CHARS = 1000  # of one message in a mail: the link leads to the rest
UNREAD_SCAN = 500  # newest unread messages looked at per thread; older items count as read
SUBJECT_ONE = N_("New in “{title}”")
SUBJECT_MORE = N_("New in “{title}” and {more} more")


@dataclass(frozen=True)
class Entry:
    """One line of news: "Jan Petersen (staff): We come on Tuesday." and where it is."""

    line: str
    url: str
    at: datetime
    note: bool = False  # a staff note: a staff member's reply by mail stays one


@dataclass(frozen=True)
class News:
    """A thread's news in one mail, oldest first."""

    thread_id: str
    title: str
    url: str
    entries: list[Entry]


async def compose_digest(settings: Settings, user: User, items: list[MailItem]) -> Mail | None:
    """Build a person's notification mail from their items, or None if nothing is left to
    say (all read, deleted, or no longer theirs to see)."""
    catalog = gettext_for(user.language or DEFAULT_LANGUAGE)
    by_thread: dict[str, list[MailItem]] = {}
    for item in sorted(items, key=lambda i: (i.created_at, i.id)):
        if item.kind in KINDS.by_name:
            by_thread.setdefault(item.thread_id, []).append(item)
    threads = await Thread.in_bulk(list(by_thread), "id")
    news: list[News] = []
    for thread_id, found in by_thread.items():
        thread = threads.get(thread_id)
        if thread is None or not visible_to(user, thread):
            continue
        entries = await _entries(settings, user, thread, found, catalog)
        if entries:
            url = f"{settings.base_url}/threads/{thread.id}"
            news.append(News(thread.id, thread.title, url, entries))
    if not news:
        return None
    news.sort(key=lambda n: n.entries[-1].at)  # the newest news last
    language = user.language or DEFAULT_LANGUAGE
    link = unsubscribe_url(settings, user.id)
    mail = render_mail(
        "digest", language, user.email, SUBJECT_ONE if len(news) == 1 else SUBJECT_MORE,
        title=news[-1].title, more=len(news) - 1, news=news, name=user.display_name,
        unsubscribe_url=link, settings_url=f"{settings.base_url}/settings#notifications",
        can_reply=len(news) == 1 and bool(settings.mail_reply_domain),
        reply_is_note=user.is_staff and any(e.note for n in news for e in n.entries),
        company=settings.company, lang=language,
    )  # fmt: skip
    # Told of a staff note, a staff member's reply by mail is a staff note too: answering a
    # colleague by mail must never reach the customer (the app's composer offers the choice).
    note = user.is_staff and any(e.note for n in news for e in n.entries)
    reply_to = reply_address(settings, user.id, news[0].thread_id, note) if len(news) == 1 else ""
    return dataclasses.replace(mail, reply_to=reply_to, headers=unsubscribe_headers(link))


async def _entries(
    settings: Settings,
    user: User,
    thread: Thread,
    items: list[MailItem],
    catalog: gettext.NullTranslations,
) -> list[Entry]:
    """The lines a thread's items make that the person may see and has not read."""
    _, ngettext = catalog.gettext, catalog.ngettext
    read = await ReadState.get_or_none(user_id=user.id, thread_id=thread.id)
    unread = message_count_of(thread, user) - (read.read_messages if read else 0)
    unread_ids: set[str] = set()
    if unread > 0:
        newest = messages_visible_to(user, thread).order_by("-seq").limit(min(unread, UNREAD_SCAN))
        unread_ids = {str(row) for row in await newest.values_list("id", flat=True)}
    wanted = [i.message_id for i in items if i.message_id is not None]
    messages = await Message.filter(id__in=wanted).prefetch_related("author") if wanted else []
    await with_attachments(messages)
    by_id = {m.id: m for m in messages}
    base = f"{settings.base_url}/threads/{thread.id}"
    word = thread.status.value.capitalize()
    entries: list[Entry] = []
    seen: set[tuple[str, str | None]] = set()
    for item in items:
        kind = KINDS[item.kind]
        if (kind.name, item.message_id) in seen:
            continue
        seen.add((kind.name, item.message_id))
        if kind.about_message:
            message = by_id.get(item.message_id or "")
            if message is None or not visible_to(user, thread, message):
                continue  # deleted, hidden, held, or a staff note for a customer
            if message.id not in unread_ids:
                continue  # read meanwhile
            words = Words(_, ngettext, _author(message, _), _plain(message, _), 0, _(word))
            note = message.audience == Audience.STAFF
            entries.append(
                Entry(kind.body(words), f"{base}#msg-{message.id}", item.created_at, note)
            )
            continue
        if read is not None and read.updated_at >= item.created_at:
            continue  # the person opened the thread since
        status = await kind.status(thread) if kind.status else word
        line = kind.body(Words(_, ngettext, status=_(status)))
        entries.append(Entry(line, _link(settings, kind, thread.id), item.created_at))
    return entries


def _link(settings: Settings, kind: Kind, thread_id: str) -> str:
    path = kind.link(thread_id) if kind.link is not None else f"/threads/{thread_id}"
    return settings.base_url + path


def _author(message: Message, _: Callable[[str], str]) -> str:
    author = message.author.display_name
    if message.author.is_staff:
        author += f" ({_('staff')})"
    return author


def _plain(message: Message, _: Callable[[str], str]) -> str:
    """The message as plain text (tags stripped, entities undone), with what it carries."""
    text = html.unescape(nh3.clean(message.html, tags=set())).strip()
    if len(text) > TEXT_MAX_CHARS:
        text = text[: TEXT_MAX_CHARS - 1].rstrip() + "…"
    return " ".join(filter(None, [attachment_word(message, _), text]))
