"""Sending, editing and deleting messages."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from push.api import REPLY
from server.actions.attachments import (
    AttachmentNotFound,
    attach,
    attached_to,
    clean_attachment_ids,
)
from server.actions.claims import end_on_reply
from server.actions.desk import after_message
from server.actions.mentions import checked_mentions, record_mentions
from server.actions.reviews import hold, should_hold
from server.actions.sanctions import require_voice
from server.actions.writes import advance_read, follow, intend, record
from server.adapters.tortoise import update
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.events import desk as desk_events
from server.events import messages
from server.events.registry import EventType
from server.i18n import N_
from server.markdown import clean_body, render
from server.models import Audience, Message, ThreadStatus, User, new_id
from server.payloads import CLIENT_ID_MAX_CHARS
from server.publisher import Change, Publisher
from server.queries import ATTACHED, is_id, message_by_client_id, message_for, thread_for
from server.terms import terms
from server.txscript import Script, run_transaction


def clean_client_id(client_id: object) -> str:
    """Return a valid client-generated message id or raise."""
    if not isinstance(client_id, str) or not (1 <= len(client_id) <= CLIENT_ID_MAX_CHARS):
        raise ActionError(
            "invalid_client_id",
            N_("client_id must be 1 to {limit} characters, got {client_id!r:.80}"),
            limit=CLIENT_ID_MAX_CHARS,
            client_id=client_id,
        )
    if not client_id.isascii() or not client_id.isprintable():
        raise ActionError(
            "invalid_client_id",
            N_("client_id must be printable ASCII: {client_id!r:.80}"),
            client_id=client_id,
        )
    return client_id


def audience_of(value: object) -> Audience:
    """Parse the optional audience of a send ("all" by default, "staff" for staff notes)."""
    if value is None or value == Audience.ALL.value:
        return Audience.ALL
    if value == Audience.STAFF.value:
        return Audience.STAFF
    raise ActionError(
        "invalid_audience", N_("audience must be 'all' or 'staff', not {value!r:.20}"), value=value
    )


def _send(
    change: Change, author: User, message: Message, viewers: set[str], now: datetime,
    mentioned: Collection[str] = (), attachments: Sequence[str] = (),
) -> Script[bool | None]:  # fmt: skip
    """Store a new message with its attachments, event, the author's follow, a push intent
    and the author's read mark; None if the author may not write in the thread (nothing
    written)."""
    recorded = yield from record(
        change, messages.CREATED, message.thread_id, message, now,
        new_message=message, writer_is_staff=author.is_staff, writer_id=author.id,
        locked_ok=author.moderates or message.audience == Audience.STAFF,
    )  # fmt: skip
    if recorded is None:
        return None
    if not (yield from attach(message, attachments, now)):
        raise AttachmentNotFound()  # rolls the whole send back
    yield from follow(author.id, message.thread_id, now)
    yield from record_mentions(change, message, mentioned, now)
    if message.held_at is not None:  # nobody hears of it but moderators, until approved
        yield from hold(change, recorded.thread, message, now)
        return (yield from advance_read(change, author, recorded.thread, now))
    if message.audience == Audience.ALL:
        yield from end_on_reply(change, recorded.thread, author, now)  # "I'm answering" done
        yield from after_message(change, recorded.thread, author, message, now)  # status
    yield from intend(
        change, REPLY, message.thread_id, author.id, now, message_id=message.id, viewers=viewers
    )
    # Whoever writes has read the thread, whether from the socket, a form or the API.
    return (yield from advance_read(change, author, recorded.thread, now))


async def send_message(
    publisher: Publisher,
    author: User,
    thread_id: object,
    body: object,
    client_id: object,
    audience: Audience = Audience.ALL,
    attachments: object = (),
) -> tuple[Message, bool]:
    """Store a message once per (author, client_id) with its attachments (ids of the author's
    uploads for the thread, in order); return it and whether it is new."""
    if not is_id(thread_id):
        raise NotFound()
    cid = clean_client_id(client_id)
    files = clean_attachment_ids(attachments, publisher.policy.attachments_per_message)
    # A photo may go without a caption.
    text = "" if files and _blank(body) else clean_body(body)
    require_voice(author)
    if audience == Audience.STAFF and not author.is_staff:
        if await thread_for(author, thread_id) is None:
            raise NotFound()  # as for any thread they cannot see
        raise Forbidden(N_("only staff can write staff notes"))
    mentioned = await checked_mentions(
        text, lambda: thread_for(author, thread_id), audience, author
    )
    now = datetime.now(UTC)
    html = render(text, mentioned.links)
    try:
        await publisher.policy.admit(author, html, now)
    except ActionError:
        # A retry of a message stored before (an outbox after a reconnect) is not a new post.
        found = await message_by_client_id(author, cid)
        if found is None or found.thread_id != thread_id:
            raise
        return found, False
    message = Message(
        id=new_id(), thread_id=thread_id, author_id=author.id, client_id=cid,
        audience=audience, body=text, html=html, terms=terms(text), created_at=now,
        held_at=now if audience == Audience.ALL and await should_hold(publisher.policy, author)
        else None,
    )  # fmt: skip
    message.author = author
    change = Change()
    try:
        # One transaction, one script: the visibility check rides on the thread's UPDATE.
        sent = await run_transaction(
            _send(
                change, author, message, publisher.viewers(thread_id), now, mentioned.ids, files
            )  # fmt: skip
        )
    except IntegrityError:
        # A retry: the (author, client_id) constraint refused a second copy, the whole
        # transaction rolled back, and the stored message is the answer to both.
        found = await message_by_client_id(author, cid)
        if found is None:
            raise
        if found.thread_id != thread_id:
            raise Conflict(
                N_("client_id {client_id!r} was already used for another thread"),
                client_id=cid,
            ) from None
        return found, False
    if sent is None:
        # Nothing was written. Tell the two reasons apart only to someone who may see it.
        thread = await thread_for(author, thread_id)
        if thread is None:
            raise NotFound()
        if thread.locked_at is not None and thread.status != ThreadStatus.CLOSED:
            raise Forbidden(N_("a moderator locked this thread: no new replies"))
        raise Forbidden(N_("this thread is closed"))
    # The live frame renders this very object: it carries its attachments.
    setattr(message, ATTACHED, await attached_to(message) if files else [])
    await publisher.publish(change)
    return message, True


def _blank(body: object) -> bool:
    """Tell whether a caption is missing (a form without the field) or only white space."""
    return body is None or (isinstance(body, str) and not body.strip())


async def _own_message(actor: User, message_id: object) -> Message:
    msg = await message_for(actor, message_id)
    if msg is None:
        raise NotFound(N_("message not found"))
    if msg.author_id != actor.id:
        raise Forbidden(N_("only the author can change a message"))
    if msg.deleted_at is not None:
        raise ActionError("deleted", N_("this message was deleted"))
    return msg


def _change(
    change: Change,
    msg: Message,
    fields: tuple[str, ...],
    event: EventType[Message],
    now: datetime,
    unmark_answer: bool = False,
    mentioned: Collection[str] = (),
) -> Script[None]:
    """Write changed fields of a message and record the event that tells everyone (and that
    the official answer is gone, when it was this message)."""
    yield update(msg, fields)
    yield from record(change, event, msg.thread_id, msg, now)
    yield from record_mentions(change, msg, mentioned, now)
    if unmark_answer:
        state = desk_events.AnswerState(msg.thread_id)
        yield from record(change, desk_events.ANSWER, msg.thread_id, state, now)


async def edit_message(
    publisher: Publisher, actor: User, message_id: object, body: object
) -> Message:
    """Replace a message's text; everyone sees it marked as edited."""
    msg = await _own_message(actor, message_id)
    require_voice(actor)
    if msg.hidden_at is not None:
        raise Forbidden(N_("a moderator hid this message; it cannot be edited"))
    text = clean_body(body)
    if text == msg.body:
        return msg
    mentioned = await checked_mentions(text, msg.thread, msg.audience, actor)
    now = datetime.now(UTC)
    html = render(text, mentioned.links)
    publisher.policy.check_links(actor, html, now)  # no links edited in past the newcomer rule
    msg.body, msg.html, msg.terms, msg.edited_at = text, html, terms(text), now
    change = Change()
    edited = ("body", "html", "terms", "edited_at")
    await run_transaction(
        _change(change, msg, edited, messages.EDITED, now, mentioned=mentioned.ids)
    )
    await publisher.publish(change)
    return msg


async def delete_message(publisher: Publisher, actor: User, message_id: object) -> Message:
    """Delete a message's content; a tombstone stays so the thread keeps its shape."""
    msg = await _own_message(actor, message_id)
    now = datetime.now(UTC)
    msg.body, msg.html, msg.terms, msg.deleted_at = "", "", "", now
    change = Change()
    await run_transaction(
        _change(
            change,
            msg,
            ("body", "html", "terms", "deleted_at"),
            messages.DELETED,
            now,
            unmark_answer=msg.thread.answer_id == msg.id,
        )  # fmt: skip
    )
    await publisher.publish(change)
    return msg
