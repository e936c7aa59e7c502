"""Sending, editing and deleting messages."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server import sql
from server.actions import events, intents, reads
from server.actions.errors import ActionError, Conflict, Forbidden, NotFound
from server.actions.publishing import publish_event, publish_frames, viewers, wake_push
from server.i18n import N_
from server.markdown import BodyError, clean_body, render
from server.models import Audience, Message, Thread, User, new_id
from server.queries import is_id, message_count_of, thread_for
from server.txscript import run_transaction

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


async def _existing(author: User, client_id: str, thread_id: str) -> Message | None:
    found = await Message.get_or_none(author_id=author.id, client_id=client_id).prefetch_related(
        "author"
    )
    if found is not None and found.thread_id != thread_id:
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
    if not is_id(thread_id):
        raise NotFound()
    cid = clean_client_id(client_id)
    text = checked_body(body)
    if audience == Audience.STAFF and not author.is_staff:
        if await thread_for(author, thread_id) is None:
            raise NotFound()  # as for any thread they cannot see
        raise Forbidden(N_("only staff can write staff notes"))
    new = sql.NewMessage(
        id=new_id(),
        thread_id=thread_id,
        author_id=author.id,
        author_is_staff=author.is_staff,
        client_id=cid,
        public=audience == Audience.ALL,
        body=text,
        html=render(text),
        event_name=events.MESSAGE_CREATED,
        intent_kind=intents.REPLY,
        viewers=" ".join(sorted(viewers(thread_id))),
        now=datetime.now(UTC),
    )
    try:
        # One transaction, one script: the visibility check rides on the thread's UPDATE.
        sent = await run_transaction(sql.send_script(new))
    except IntegrityError:
        # A retry: the (author, client_id) constraint refused a second copy, the whole
        # transaction rolled back, and the stored message is the answer to both.
        found = await _existing(author, cid, thread_id)
        if found is None:
            raise
        return found, False
    if sent is None:
        # Nothing was written. Tell the two reasons apart only to someone who may see it.
        if await thread_for(author, thread_id) is None:
            raise NotFound()
        raise Forbidden(N_("this thread is closed"))
    thread = Thread._init_from_db(**sent.thread)
    message = Message._init_from_db(
        id=new.id, thread_id=thread.id, author_id=author.id, client_id=cid,
        seq=thread.staff_seq, audience=audience, body=text, html=new.html,
        created_at=new.now, edited_at=None, deleted_at=None,
    )  # fmt: skip
    message.author = author
    recorded = events.Recorded(
        events.MESSAGE_CREATED, thread, audience, thread.staff_seq,
        thread.public_seq if new.public else None, message,
    )  # fmt: skip
    await publish_event(recorded.live())
    await publish_frames("list", recorded.list_notice())
    wake_push()
    if sent.read_moved:
        await reads.announce(author, thread, message_count_of(thread, author))
    return message, True


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
