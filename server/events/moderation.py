"""Events of moderation: a message hidden, shown again or let out of review, a thread hidden.

A hidden message's fragment and payload carry a line with the reason and never its text (staff
fetch that alone, server/views/moderation.py), so no frame, replay or listing leaks it. A
thread's lock and title go out as `thread.updated`; its hiding as `thread.hidden`, the one event
customers still get from a hidden thread (their page then drops it).
"""

from __future__ import annotations

from server.events import threads
from server.events.messages import message_event
from server.events.registry import EVENTS, EVERYONE, EventType

HIDDEN = message_event(
    "message.hidden", "a moderator hid a message: replace it (a line with the reason, no text)"
)
RESTORED = message_event(
    "message.restored", "a moderator showed a hidden message again: replace it"
)
APPROVED = message_event(
    "message.approved",
    "a moderator let a post held for review out: add it (or replace it, for its author)",
    in_lists=True,
)
THREAD_HIDDEN = EVENTS.add(
    EventType(
        name="thread.hidden",
        summary='a moderator hid the thread: replace `id="thread-head"`; customers drop the '
        "thread (its author keeps it, with the reason)",
        visible=EVERYONE,
        payload=threads.payload,
        html=threads.html,
        load=threads.load,
        in_lists=True,
        by_role=True,
        shown_when_hidden=True,
    )
)
