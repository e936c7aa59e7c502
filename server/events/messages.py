"""Events about messages: created, edited, deleted."""

from __future__ import annotations

from collections.abc import Sequence

from server import payloads
from server.events.registry import EVENTS, EventType, Rule
from server.models import Audience, Event, Message, Thread
from server.queries import with_attachments
from server.templating import Viewpoint, render


class MessageEvent(payloads.Out):
    """A message event's fields in JSON mode."""

    id: str
    client_id: str
    message: payloads.Message


def payload(msg: Message) -> MessageEvent:
    return MessageEvent(msg.id, msg.client_id, payloads.message_of(msg))


def html(msg: Message, view: Viewpoint) -> str:
    """The message as the thread shows it: the page, the POST answer and live events alike."""
    return render(view.language, "_message.html", m=msg, view=view)


def refs(msg: Message) -> dict[str, str]:
    return {"id": msg.id, "client_id": msg.client_id}


async def load(thread: Thread, rows: Sequence[Event]) -> list[Message | None]:
    """Load the messages of stored events, with their authors and attachments, as they are
    now."""
    ids = list({row.message_id for row in rows if row.message_id is not None})
    messages = await Message.filter(id__in=ids).prefetch_related("author")
    await with_attachments(messages)
    found = {m.id: m for m in messages}
    return [found.get(row.message_id or "") for row in rows]


def _audience(msg: Message) -> Audience:
    return Audience.STAFF if msg.held_at is not None else msg.audience


def _held_author(msg: Message) -> str | None:
    return msg.author_id if msg.held_at is not None and msg.audience == Audience.ALL else None


# Everyone who may see the thread sees a message, except a staff note: only staff see it, and
# a post held for review: only its author and staff, until a moderator approves it.
BY_AUDIENCE: Rule[Message] = Rule(
    "everyone; staff only for a staff note; the author and staff for a post held for review",
    _audience,
    also=_held_author,
)
AUTHOR_AND_STAFF: Rule[Message] = Rule(
    "the message's author and staff", lambda msg: Audience.STAFF, also=lambda msg: msg.author_id
)


def message_event(name: str, summary: str, in_lists: bool = False) -> EventType[Message]:
    """Declare an event whose subject is a message, shown by its fragment."""
    return EVENTS.add(
        EventType(
            name=name,
            summary=summary,
            visible=BY_AUDIENCE,
            payload=payload,
            html=html,
            load=load,
            refs=refs,
            message_id=lambda msg: msg.id,
            in_lists=in_lists,
        )
    )


CREATED = message_event(
    "message.created", 'a new message; the fragment has `id="msg-<id>"`', in_lists=True
)
EDITED = message_event(
    "message.edited",
    'a message\'s text changed; replace the element with the same id (shows "edited")',
)
DELETED = message_event("message.deleted", "a message was deleted; replace it (shows a tombstone)")
