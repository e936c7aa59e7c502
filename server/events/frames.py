"""Event frames: built once per view and format from the registry, then sent as they are.

A frame key is "<view>:<format>", view being "staff", "all" (what customers see) or "own" (the
one person an event's rule names besides staff, who gets it unnumbered), and format "json" or
"html:<language>". Live events carry every key their audience may read; replays build the one
key a connection needs. Nothing in a frame for view "all" mentions staff-only content: its
sequence number is the public one and its counts are public counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

from server.events.registry import EVENTS, EventType
from server.fanout import LiveEvent
from server.i18n import LANGUAGES
from server.models import Audience, Event, Thread, User, Visibility
from server.protocol import EVENT_TYPE, Activity, encode
from server.settings import DEFAULT_COMPANY
from server.templating import Viewpoint

FORMATS = ("json",) + tuple(f"html:{lang}" for lang in LANGUAGES)
OWN = "own"  # the view of the person a rule names besides staff

_encoder = msgspec.json.Encoder()


def views_for(
    thread: Thread, audience: Audience, shown_when_hidden: bool = False
) -> tuple[Audience, ...]:
    """Return the views that may see an event of this audience in this thread (of a hidden
    thread only staff, but for the event that tells customers it is gone)."""
    if audience == Audience.STAFF or thread.visibility == Visibility.INTERNAL:
        return (Audience.STAFF,)
    if thread.hidden_at is not None and not shown_when_hidden:
        return (Audience.STAFF,)
    return (Audience.STAFF, Audience.ALL)


def event_frame(
    event_type: EventType[Any],
    thread_id: str,
    seq: int | None,
    fmt: str,
    subject: Any,
    staff: bool = False,
    company: str = DEFAULT_COMPANY,
) -> str:
    """Build one event frame in one format for staff or not (seq None: outside the viewer's
    numbering). Its fragment is shared by everyone of that view: it names no viewer."""
    head: dict[str, Any] = {"type": EVENT_TYPE, "thread": thread_id, "seq": seq,
                            "name": event_type.name}  # fmt: skip
    if fmt == "json":
        body = _encoder.encode(event_type.payload(subject))
        if body == b"{}":
            return _encoder.encode(head).decode()
        return _encoder.encode(head)[:-1].decode() + "," + body[1:].decode()
    head.update(event_type.refs(subject))
    head["html"] = event_type.html(subject, Viewpoint(fmt[5:], staff=staff, company=company))
    return _encoder.encode(head).decode()


@dataclass(slots=True)
class Recorded:
    """An event stored in a transaction, to be published after commit."""

    type: EventType[Any]
    thread: Thread  # as the event's transaction left it: counters, title, status
    subject: Any
    audience: Audience
    staff_seq: int
    public_seq: int | None
    also: str | None  # a person who sees it besides staff, unnumbered

    def live(self, company: str = DEFAULT_COMPANY) -> LiveEvent:
        """Render the event once per view and format, for the broker."""
        return LiveEvent(
            self.thread.id,
            self.staff_seq,
            self.public_seq,
            live_frames(
                self.type,
                self.thread,
                self.audience,
                self.staff_seq,
                self.public_seq,
                self.subject,
                self.also,
                company,
            ),  # fmt: skip
            self.also,
        )

    def activity(self) -> dict[str, str]:
        """The thread-list notice of this event, per view that may see it."""
        return activity_frames(self.thread, self.audience, self.type.name)


def live_frames(
    event_type: EventType[Any],
    thread: Thread,
    audience: Audience,
    staff_seq: int,
    public_seq: int | None,
    subject: Any,
    also: str | None = None,
    company: str = DEFAULT_COMPANY,
) -> dict[str, str]:
    """Build every frame of an event: each view that may see it, each format once (twice for a
    fragment with staff controls: staff get theirs, nobody else receives them)."""
    frames: dict[str, str] = {}
    views = views_for(thread, audience, event_type.shown_when_hidden)
    for fmt in FORMATS:
        # Render the fragment once (once per role if it has staff controls), number it per view.
        apart = event_type.by_role and fmt != "json"
        staff_once = event_frame(event_type, thread.id, -1, fmt, subject, True, company)
        once = (
            event_frame(event_type, thread.id, -1, fmt, subject, False, company)
            if apart and (Audience.ALL in views or also is not None)
            else staff_once
        )
        for view in views:
            seq = staff_seq if view == Audience.STAFF else public_seq
            frame = staff_once if view == Audience.STAFF else once
            frames[f"{view.value}:{fmt}"] = frame.replace(',"seq":-1,', f',"seq":{seq},', 1)
        if also is not None:
            frames[f"{OWN}:{fmt}"] = once.replace(',"seq":-1,', ',"seq":null,', 1)
    return frames


def number_for(viewer: User, row: Event) -> tuple[bool, int | None]:
    """Tell whether a viewer may see a stored event, and its number in their view (None: they
    get it unnumbered, as the person its rule names besides staff)."""
    if viewer.is_staff:
        return True, row.staff_seq
    if row.public_seq is not None:
        return True, row.public_seq
    return row.also_id == viewer.id, None


def replay_frames(viewer: User, thread: Thread, rows: list[Event], subjects: list[Any],
                  fmt: str, company: str = DEFAULT_COMPANY,
                  ) -> list[tuple[int | None, str]]:  # fmt: skip
    """Build the frames of stored events for one viewer: (their number or None, frame)."""
    out: list[tuple[int | None, str]] = []
    for row, subject in zip(rows, subjects, strict=True):
        visible, seq = number_for(viewer, row)
        if not visible or subject is None or row.name not in EVENTS.types:
            continue
        frame = event_frame(EVENTS[row.name], thread.id, seq, fmt, subject, viewer.is_staff,
                            company)  # fmt: skip
        out.append((seq, frame))
    return out


def activity_frames(thread: Thread, audience: Audience, kind: str) -> dict[str, str]:
    """Build the thread-list notice of activity in a thread, per view that may see it."""
    frames: dict[str, str] = {}
    for view in views_for(thread, audience):
        staff = view == Audience.STAFF
        at = thread.staff_activity_at if staff else thread.public_activity_at
        frames[view.value] = encode(
            Activity(
                kind=kind,
                thread=thread.id,
                title=thread.title,
                status=thread.status.value,
                count=thread.staff_messages if staff else thread.public_messages,
                at=at.isoformat(),
            )
        )
    return frames
