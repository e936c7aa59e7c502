"""Starting threads and changing their title or status."""

from __future__ import annotations

from typing import TypeVar

from tortoise.transactions import in_transaction

from server.actions import events, intents
from server.actions.errors import ActionError, Forbidden, NotFound
from server.actions.messages import checked_body, clean_client_id
from server.actions.publishing import publish_event, publish_frames, wake_push
from server.i18n import N_
from server.markdown import render
from server.models import Audience, Message, Thread, ThreadKind, ThreadStatus, User, Visibility
from server.queries import thread_for

TITLE_MAX_CHARS = 200


def clean_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise ActionError("empty_title", N_("the title is empty"))
    text = " ".join(title.split())
    if len(text) > TITLE_MAX_CHARS:
        raise ActionError(
            "title_too_long",
            N_("the title is {length} characters; the limit is {limit}"),
            length=len(text),
            limit=TITLE_MAX_CHARS,
        )
    return text


E = TypeVar("E", ThreadKind, Visibility, ThreadStatus)


def _enum(kind: type[E], value: object, what: str) -> E:
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise ActionError(
            f"invalid_{what}",
            N_("{field} must be one of {allowed}, not {value!r:.40}"),
            field=what,
            allowed=allowed,
            value=value,
        ) from None


async def start_thread(
    author: User,
    title: object,
    body: object,
    client_id: object,
    kind: object = ThreadKind.QUESTION.value,
    visibility: object = Visibility.PUBLIC.value,
) -> tuple[Thread, Message, bool]:
    """Open a thread with its first message; a retried start returns the first thread."""
    clean = clean_title(title)
    text = checked_body(body)
    cid = clean_client_id(client_id)
    thread_kind = _enum(ThreadKind, kind, "kind")
    vis = _enum(Visibility, visibility, "visibility")
    if vis == Visibility.INTERNAL and not author.is_staff:
        raise Forbidden(N_("only staff can start internal threads"))
    earlier = await Message.get_or_none(author_id=author.id, client_id=cid).prefetch_related(
        "thread", "author"
    )
    if earlier is not None:
        return earlier.thread, earlier, False
    html = render(text)
    async with in_transaction() as conn:
        thread = await Thread.create(
            title=clean, kind=thread_kind, visibility=vis, author=author, using_db=conn
        )

        async def create(seq: int) -> Message:
            return await Message.create(
                thread_id=thread.id, author=author, client_id=cid, seq=seq,
                audience=Audience.ALL, body=text, html=html, using_db=conn,
            )  # fmt: skip

        recorded = await events.record(
            conn, thread, events.MESSAGE_CREATED, Audience.ALL, create_message=create
        )
        assert recorded.message is not None
        await intents.participate(conn, author.id, thread.id)
        # Followers are only the author yet, but the first message may mention people.
        await intents.intend(conn, intents.REPLY, thread.id, author.id, recorded.message.id)
    await publish_event(recorded.live())
    await publish_frames("list", recorded.list_notice())
    wake_push()
    return recorded.thread, recorded.message, True


async def update_thread(
    actor: User, thread_id: object, title: object = None, status: object = None
) -> Thread:
    """Change a thread's title and/or status (its author or staff)."""
    thread = await thread_for(actor, thread_id)
    if thread is None:
        raise NotFound()
    if thread.author_id != actor.id and not actor.is_staff:
        raise Forbidden(N_("only the author or staff can change this thread"))
    fields: dict[str, object] = {}
    if title is not None:
        fields["title"] = clean_title(title)
    if status is not None:
        new_status = _enum(ThreadStatus, status, "status")
        fields["status"] = new_status
    changed = {k: v for k, v in fields.items() if getattr(thread, k) != v}
    if not changed:
        return thread
    async with in_transaction() as conn:
        await Thread.filter(id=thread.id).using_db(conn).update(**changed)
        recorded = await events.record(conn, thread, events.THREAD_UPDATED, Audience.ALL)
        if "status" in changed:
            await intents.intend(conn, intents.STATUS, thread.id, actor.id)
    await publish_event(recorded.live())
    await publish_frames("list", recorded.list_notice())
    wake_push()
    return recorded.thread
