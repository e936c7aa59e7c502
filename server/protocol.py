"""WebSocket frames, typed once (msgspec): what clients send, and what the server answers.

Event frames (`type: "event"`) are built by the event registry (server/events/), one shape per
event type; everything else a socket says is declared here. docs/protocol.md describes both,
and tests keep the two in step.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from server.errors import ActionError
from server.i18n import N_
from server.payloads import In, Out, field_error, refuse_nul

# -- client → server -------------------------------------------------------------------------


class ClientFrame(In, tag_field="type"):
    """A frame a client sends; `type` names it."""


class Subscribe(ClientFrame, tag="subscribe"):
    thread: str
    since: int | None = None


class Unsubscribe(ClientFrame, tag="unsubscribe"):
    thread: str


class Send(ClientFrame, tag="send"):
    thread: str
    client_id: str
    body: str  # may be "" when the message has attachments
    audience: str = "all"
    attachments: list[str] = []  # ids of one's uploads for the thread, in display order


class Edit(ClientFrame, tag="edit"):
    id: str
    body: str


class Delete(ClientFrame, tag="delete"):
    id: str


class Typing(ClientFrame, tag="typing"):
    thread: str
    audience: str = "all"  # "staff" while writing a staff note: customers are not told


class Read(ClientFrame, tag="read"):
    thread: str


class Ping(ClientFrame, tag="ping"):
    t: Any = None


CLIENT_FRAMES: tuple[type[ClientFrame], ...] = (
    Subscribe, Unsubscribe, Send, Edit, Delete, Typing, Read, Ping,
)  # fmt: skip
_decoder = msgspec.json.Decoder(
    Subscribe | Unsubscribe | Send | Edit | Delete | Typing | Read | Ping
)
REF_FIELDS = ("thread", "client_id", "id")  # echoed in an error, so a client knows which frame


def decode(raw: str) -> ClientFrame:
    """Decode and type-check a client frame, or raise an ActionError that says what is wrong."""
    try:
        frame: ClientFrame = _decoder.decode(raw)
    except msgspec.DecodeError:
        pass
    except RecursionError:  # msgspec stops at Python's recursion limit (~1,000 levels)
        raise ActionError("bad_frame", N_("frame is nested too deeply")) from None
    else:
        refuse_nul(frame)
        return frame
    # The slow path, for a frame that was refused: tell the client precisely why.
    try:
        data = json.loads(raw)
    except ValueError:
        raise ActionError("bad_frame", N_("frame is not JSON")) from None
    except RecursionError:
        raise ActionError("bad_frame", N_("frame is nested too deeply")) from None
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        raise ActionError("bad_frame", N_("frame must be a JSON object with a string 'type'"))
    kind = data["type"]
    if kind not in {f.__struct_config__.tag for f in CLIENT_FRAMES}:
        raise ActionError("unknown_type", N_("unknown frame type {type!r:.40}"), type=kind)
    try:
        msgspec.convert(data, type=_frame_type(kind))
    except msgspec.ValidationError as err:
        raise field_error(err, "bad_frame") from None
    # json accepts what msgspec refuses (NaN, Infinity): not JSON as the protocol means it.
    raise ActionError("bad_frame", N_("frame is not JSON"))


def _frame_type(tag: str) -> type[ClientFrame]:
    return next(f for f in CLIENT_FRAMES if f.__struct_config__.tag == tag)


def refs(raw: str) -> dict[str, Any]:
    """Return the fields of a (possibly invalid) frame that an error echoes."""
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return {}
    return {k: data[k] for k in REF_FIELDS if k in data} if isinstance(data, dict) else {}


# -- server → client (event frames: server/events/) --------------------------------------------


class ServerFrame(Out, tag_field="type"):
    """A frame the server sends; `type` names it."""


class Hello(ServerFrame, tag="hello"):
    user: str
    staff: bool
    format: str


class Subscribed(ServerFrame, tag="subscribed"):
    thread: str
    seq: int


class Reset(ServerFrame, tag="reset"):
    thread: str
    seq: int


class Unsubscribed(ServerFrame, tag="unsubscribed"):
    thread: str


class Ack(ServerFrame, tag="ack", omit_defaults=True):
    id: str
    thread: str
    client_id: str | None = None
    duplicate: bool | None = None


class TypingNotice(ServerFrame, tag="typing"):
    thread: str
    user: str
    name: str
    staff: bool


class Activity(ServerFrame, tag="activity"):
    kind: str
    thread: str
    title: str
    status: str
    count: int
    at: str


class ReadNotice(ServerFrame, tag="read"):
    thread: str
    count: int


class Mentioned(ServerFrame, tag="mentioned"):
    """On every socket of someone a new message @mentions (and may read): their Mentions
    count went up."""

    thread: str
    message: str


KNOWLEDGE_CHANNEL = "knowledge"  # the fan-out channel of ArticleSaved frames


class ArticleSaved(ServerFrame, tag="article"):
    """Staff only, on sockets opened with `?knowledge=1` (an article's page or editor): a new
    revision of an article was saved; an editor who started from an older one is warned."""

    article: str
    revision: int
    by: str


DESK_CHANNEL = "desk"  # the fan-out channel of DeskNotice frames


class DeskNotice(ServerFrame, tag="desk"):
    """Staff only, on sockets opened with `?desk=1`: a question on the desk changed."""

    thread: str


class Assigned(ServerFrame, tag="assigned"):
    """To the assignee alone (their `user:` channel): a colleague assigned them a question."""

    thread: str
    title: str
    by: str


MODERATION_CHANNEL = "moderation"  # the fan-out channel of Alert frames


class Alert(ServerFrame, tag="alert"):
    """Moderators and admins only, on every socket of theirs: the moderation queue changed
    (`kind` "flag": a new flag, "held": a post waits for approval, "decided": a colleague
    acted), or a customer's question waits too long ("waiting"). `url` opens the item."""

    kind: str
    thread: str
    title: str
    url: str


IDEAS_CHANNEL = "ideas"  # the fan-out channel of IdeaCount frames


class IdeaCount(ServerFrame, tag="idea"):
    """On sockets opened with `?ideas=1` (the ideas board, the roadmap): an idea's vote count
    or status changed. `idea` is its thread; `seq` its thread's public event number, so a
    board keeps the newest of two counts that arrive out of order."""

    idea: str
    votes: int
    status: str
    seq: int


class IdeaNews(ServerFrame, tag="idea_status"):
    """To each voter and follower of an idea but who changed it (their `user:` channel): its
    status changed, or it was merged into another. `label` is the status in their language."""

    thread: str
    title: str
    status: str
    label: str


CUSTOMERS_CHANNEL = "customers"  # the fan-out channel of CustomerChanged frames


class CustomerChanged(ServerFrame, tag="customer"):
    """Staff only, on sockets opened with `?customer=1` (a customer profile): a colleague
    changed the staff tags or notes of a customer (`section` "tags" or "notes")."""

    customer: str
    section: str


class Pong(ServerFrame, tag="pong"):
    t: Any = None


SERVER_FRAMES: tuple[type[ServerFrame], ...] = (
    Hello, Subscribed, Reset, Unsubscribed, Ack, TypingNotice, Activity, ReadNotice, Mentioned,
    ArticleSaved, DeskNotice, Assigned, Alert, IdeaCount, IdeaNews, CustomerChanged, Pong,
)  # fmt: skip
ERROR_TYPE = "error"  # {type, code, message, and the refs of the refused frame}
EVENT_TYPE = "event"  # built by server/events/frames.py

_encoder = msgspec.json.Encoder()


def encode(frame: ServerFrame) -> str:
    """Encode a frame as the text a socket sends."""
    return _encoder.encode(frame).decode()


def error_frame(code: str, message: str, **ref: Any) -> str:
    return json.dumps(
        {"type": ERROR_TYPE, "code": code, "message": message, **ref},
        separators=(",", ":"),
        ensure_ascii=False,
    )
