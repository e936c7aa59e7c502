"""WebSocket frames: built once per audience and format, then sent as they are.

A frame key is "<view>:<format>", view being "staff" or "all" (what customers see) and format
"json" or "html:<language>". Live events carry every key their audience may read; replays build
the one key the connection needs. Nothing in a frame for view "all" mentions staff-only content:
its sequence number is the public one and its counts are public counts.
"""

from __future__ import annotations

import json
from typing import Any

from server.i18n import LANGUAGES
from server.models import Audience, Event, Message, Thread, User, Visibility
from server.templating import render

FORMATS = ("json",) + tuple(f"html:{lang}" for lang in LANGUAGES)


def dumps(data: dict[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def views_for(thread: Thread, audience: Audience) -> tuple[Audience, ...]:
    """Return the views that may see an event of this audience in this thread."""
    if audience == Audience.STAFF or thread.visibility == Visibility.INTERNAL:
        return (Audience.STAFF,)
    return (Audience.STAFF, Audience.ALL)


def author_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "name": user.display_name, "staff": user.is_staff, "team": user.team}


def message_json(msg: Message) -> dict[str, Any]:
    """Describe a message for the JSON API and JSON frames."""
    deleted = msg.deleted_at is not None
    return {
        "id": msg.id,
        "thread": msg.thread_id,
        "author": author_json(msg.author),
        "client_id": msg.client_id,
        "staff_only": msg.audience == Audience.STAFF,
        "body": "" if deleted else msg.body,
        "html": "" if deleted else msg.html,
        "created_at": msg.created_at.isoformat(),
        "edited_at": msg.edited_at.isoformat() if msg.edited_at else None,
        "deleted": deleted,
    }


def thread_json(thread: Thread) -> dict[str, Any]:
    return {
        "id": thread.id,
        "title": thread.title,
        "kind": thread.kind.value,
        "visibility": thread.visibility.value,
        "status": thread.status.value,
        "created_at": thread.created_at.isoformat(),
    }


def message_html(msg: Message, language: str) -> str:
    return render(language, "_message.html", m=msg)


def thread_head_html(thread: Thread, language: str) -> str:
    return render(language, "_thread_head.html", thread=thread)


def event_frame(name: str, thread: Thread, seq: int, fmt: str, message: Message | None) -> str:
    """Build one event frame in one format."""
    frame: dict[str, Any] = {"type": "event", "thread": thread.id, "seq": seq, "name": name}
    if message is not None:
        frame["id"] = message.id
        frame["client_id"] = message.client_id
        if fmt == "json":
            frame["message"] = message_json(message)
        else:
            frame["html"] = message_html(message, fmt[5:])
    elif fmt == "json":
        frame["thread_data"] = thread_json(thread)
    else:
        frame["html"] = thread_head_html(thread, fmt[5:])
    return dumps(frame)


def live_frames(
    name: str,
    thread: Thread,
    audience: Audience,
    staff_seq: int,
    public_seq: int | None,
    message: Message | None,
) -> dict[str, str]:
    """Build every frame of a new event: each view that may see it, each format once."""
    frames: dict[str, str] = {}
    rendered: dict[str, str] = {}  # the fragment is identical for both views; render it once
    for view in views_for(thread, audience):
        seq = staff_seq if view == Audience.STAFF else public_seq
        assert seq is not None
        for fmt in FORMATS:
            if fmt not in rendered:
                rendered[fmt] = event_frame(name, thread, -1, fmt, message)
            frames[f"{view.value}:{fmt}"] = rendered[fmt].replace(',"seq":-1,', f',"seq":{seq},', 1)
    return frames


def replay_frame(event: Event, thread: Thread, viewer: User, fmt: str) -> str:
    """Build the frame of a stored event for one viewer."""
    seq = event.staff_seq if viewer.is_staff else event.public_seq
    assert seq is not None
    return event_frame(event.name, thread, seq, fmt, event.message)


def list_frames(thread: Thread, audience: Audience, kind: str) -> dict[str, str]:
    """Build the thread-list notice of activity in a thread, per view that may see it."""
    frames: dict[str, str] = {}
    for view in views_for(thread, audience):
        staff = view == Audience.STAFF
        frames[view.value] = dumps(
            {
                "type": "activity",
                "kind": kind,
                "thread": thread.id,
                "title": thread.title,
                "status": thread.status.value,
                "count": thread.staff_messages if staff else thread.public_messages,
                "at": (
                    thread.staff_activity_at if staff else thread.public_activity_at
                ).isoformat(),
            }
        )
    return frames
