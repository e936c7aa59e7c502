"""Sending, editing and deleting messages."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.actions import events, intents, reads
from server.actions.errors import ActionError, Conflict, Forbidden, NotFound
from server.actions.publishing import publish_event, publish_frames, wake_push
from server.i18n import N_
from server.markdown import BodyError, clean_body, render
from server.models import Audience, Message, Thread, ThreadStatus, User
from server.queries import message_count_of, thread_for

CLIENT_ID_MAX_CHARS = 64


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


def checked_body(body: object) -> str:
    try:
        return clean_body(body)
    except BodyError as err:
        raise ActionError(err.code, err.template, **err.params) from None


def audience_of(value: object) -> Audience:
    """Parse the optional audience of a send ("all" by default, "staff" for staff notes)."""
    if value is None or value == Audience.ALL.value:
        return Audience.ALL
    if value == Audience.STAFF.value:
        return Audience.STAFF
    raise ActionError(
        "invalid_audience", N_("audience must be 'all' or 'staff', not {value!r:.20}"), value=value
    )


async def _existing(author: User, client_id: str, thread: Thread) -> Message | None:
    found = await Message.get_or_none(author_id=author.id, client_id=client_id).prefetch_related(
        "author"
    )
    if found is not None and found.thread_id != thread.id:
        raise Conflict(
            N_("client_id {client_id!r} was already used for another thread"), client_id=client_id
        )
    return found


async def send_message(
    author: User,
    thread_id: object,
    body: object,
    client_id: object,
    audience: Audience = Audience.ALL,
) -> tuple[Message, bool]:
    """Store a message once per (author, client_id); return it and whether it is new."""
    thread = await thread_for(author, thread_id)
    if thread is None:
        raise NotFound()
    cid = clean_client_id(client_id)
    text = checked_body(body)
    if audience == Audience.STAFF and not author.is_staff:
        raise Forbidden(N_("only staff can write staff notes"))
    if thread.status == ThreadStatus.CLOSED and not author.is_staff:
        raise Forbidden(N_("this thread is closed"))
    html = render(text)

    async def create(seq: int) -> Message:
        return await Message.create(
            thread_id=thread.id,
            author=author,
            client_id=cid,
            seq=seq,
            audience=audience,
            body=text,
            html=html,
            using_db=conn,
        )

    try:
        async with in_transaction() as conn:
            recorded = await events.record(
                conn, thread, events.MESSAGE_CREATED, audience, create_message=create
            )
            assert recorded.message is not None
            await intents.participate(conn, author.id, thread.id)
            await intents.intend(conn, intents.REPLY, thread.id, author.id, recorded.message.id)
            # Whoever writes has read the thread, whether from the socket, a form or the API.
            read_moved = await reads.advance(conn, author, recorded.thread)
    except IntegrityError:
        # A retry: the (author, client_id) constraint refused a second copy, the whole
        # transaction rolled back, and the stored message is the answer to both.
        found = await _existing(author, cid, thread)
        if found is None:
            raise
        return found, False
    assert recorded.message is not None
    await publish_event(recorded.live())
    await publish_frames("list", recorded.list_notice())
    wake_push()
    if read_moved:
        await reads.announce(author, recorded.thread, message_count_of(recorded.thread, author))
    return recorded.message, True


async def _own_message(actor: User, message_id: object) -> Message:
    from server.queries import message_for

    msg = await message_for(actor, message_id)
    if msg is None:
        raise NotFound(N_("message not found"))
    if msg.author_id != actor.id:
        raise Forbidden(N_("only the author can change a message"))
    if msg.deleted_at is not None:
        raise ActionError("deleted", N_("this message was deleted"))
    return msg


async def edit_message(actor: User, message_id: object, body: object) -> Message:
    """Replace a message's text; everyone sees it marked as edited."""
    msg = await _own_message(actor, message_id)
    text = checked_body(body)
    if text == msg.body:
        return msg
    async with in_transaction() as conn:
        msg.body = text
        msg.html = render(text)
        msg.edited_at = datetime.now(UTC)
        await msg.save(using_db=conn, update_fields=["body", "html", "edited_at"])
        recorded = await events.record(conn, msg.thread, events.MESSAGE_EDITED, msg.audience, msg)
    await publish_event(recorded.live())
    return msg


async def delete_message(actor: User, message_id: object) -> Message:
    """Delete a message's content; a tombstone stays so the thread keeps its shape."""
    msg = await _own_message(actor, message_id)
    async with in_transaction() as conn:
        msg.body = ""
        msg.html = ""
        msg.deleted_at = datetime.now(UTC)
        await msg.save(using_db=conn, update_fields=["body", "html", "deleted_at"])
        recorded = await events.record(conn, msg.thread, events.MESSAGE_DELETED, msg.audience, msg)
    await publish_event(recorded.live())
    return msg
