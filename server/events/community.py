"""Events of community answers: how many found a message helpful (the accepted answer is
`answer.changed`, server/events/desk.py)."""

from __future__ import annotations

from collections.abc import Sequence

from tortoise.functions import Count

from server import payloads
from server.community import HelpfulCount
from server.events.registry import EVENTS, EventType, Rule
from server.models import Event, Helpful, Message, Thread
from server.templating import Viewpoint, render


class HelpfulEvent(payloads.Out):
    """How many people found a message helpful now (never who)."""

    message: payloads.Id
    count: int


def _payload(state: HelpfulCount) -> HelpfulEvent:
    return HelpfulEvent(state.message_id, state.count)


def _html(state: HelpfulCount, view: Viewpoint) -> str:
    """The count alone: whether the viewer pressed the button stays in their own page."""
    return render(view.language, "_helpful.html", helpful=state, count_only=True, view=view)


async def _load(thread: Thread, rows: Sequence[Event]) -> list[HelpfulCount | None]:
    """A helpful event replays the message's count as it is now."""
    ids = list({row.message_id for row in rows if row.message_id is not None})
    messages = {m.id: m for m in await Message.filter(id__in=ids)}
    counted = (
        await Helpful.filter(message_id__in=ids)
        .annotate(n=Count("id"))
        .group_by("message_id")
        .values_list("message_id", "n")
    )
    counts: dict[str, int] = {str(message_id): int(n) for message_id, n in counted}
    out: list[HelpfulCount | None] = []
    for row in rows:
        msg = messages.get(row.message_id or "")
        out.append(
            None
            if msg is None
            else HelpfulCount(
                msg.id, msg.thread_id, msg.author_id, msg.audience, counts.get(msg.id, 0)
            )  # fmt: skip
        )
    return out


# A staff note's count is for staff, as the note is.
BY_MESSAGE: Rule[HelpfulCount] = Rule(
    "everyone; staff only for a staff note", lambda state: state.audience
)

HELPFUL = EVENTS.add(
    EventType(
        name="message.helpful",
        summary="someone marked a message helpful or took it back: `message`, `count`; the "
        'fragment (the count alone) has `id="helpful-<message id>"`',
        visible=BY_MESSAGE,
        payload=_payload,
        html=_html,
        load=_load,
        message_id=lambda state: state.message_id,
    )
)


def message_html(
    msg: Message, view: Viewpoint, helpful: HelpfulCount | None, first_id: str | None
) -> str:
    """A message's fragment for one viewer, with its helpful count and their own mark (the
    thread page: a live `message.*` frame is shared and carries neither); the thread's first
    message (`first_id`) is no reply, so nobody marks it helpful."""
    return render(view.language, "_message.html", m=msg, view=view, helpful=helpful,
                  first_id=first_id)  # fmt: skip
