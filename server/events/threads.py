"""Events about a thread itself: its title or status changed."""

from __future__ import annotations

from collections.abc import Sequence

from server import payloads
from server.events.registry import EVENTS, EVERYONE, EventType
from server.models import Event, Thread
from server.templating import Viewpoint, render


class ThreadEvent(payloads.Out):
    """A thread event's fields in JSON mode."""

    thread_data: payloads.ThreadData


def payload(thread: Thread) -> ThreadEvent:
    return ThreadEvent(payloads.thread_data_of(thread))


def html(thread: Thread, view: Viewpoint) -> str:
    """The thread's header: the status form is the author's own control, or staff's."""
    return render(view.language, "_thread_head.html", thread=thread, view=view)


async def load(thread: Thread, rows: Sequence[Event]) -> list[Thread]:
    """A thread event replays the thread as it is now."""
    return [thread for _ in rows]


UPDATED = EVENTS.add(
    EventType(
        name="thread.updated",
        summary='title or status changed; the fragment has `id="thread-head"`',
        visible=EVERYONE,
        payload=payload,
        html=html,
        load=load,
        in_lists=True,  # thread lists show the new title and status chip
        by_role=True,  # staff get the status form; customers only on their own thread
    )
)
