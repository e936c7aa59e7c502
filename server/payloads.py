"""The JSON shapes of the API and of WebSocket frames, typed once (msgspec Structs).

The same types encode what the server sends (API responses, JSON event frames), decode and
validate what clients send, and generate the OpenAPI document (server/openapi.py). Field
types are checked when a request is decoded; limits that need a precise error code (a body
too long, an unknown status) are documented here with `extra_json_schema` and checked by the
actions, which say exactly what is wrong.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Protocol, TypeVar

import msgspec

from server import models
from server.auth import TOKEN_DAYS_MAX
from server.errors import ActionError
from server.i18n import N_
from server.markdown import BODY_MAX_CHARS
from server.queries import attachments_of

ID_MAX_CHARS = 16  # the models' id columns
CLIENT_ID_MAX_CHARS = 64
TITLE_MAX_CHARS = 200
Id = Annotated[str, msgspec.Meta(extra_json_schema={"maxLength": ID_MAX_CHARS})]
Time = Annotated[str, msgspec.Meta(extra_json_schema={"format": "date-time"})]
NOT_BLANK = r"\S"  # the actions refuse text of only white space
Body = Annotated[
    str,
    msgspec.Meta(
        extra_json_schema={
            "maxLength": BODY_MAX_CHARS,
            "pattern": NOT_BLANK,
            "description": "Markdown",
        }
    ),
]
ClientId = Annotated[
    str,
    msgspec.Meta(
        extra_json_schema={
            "minLength": 1,
            "maxLength": CLIENT_ID_MAX_CHARS,
            "pattern": "^[ -~]+$",
            "description": "your id for this send (printable ASCII); a retry with it is "
            "stored once",
        }
    ),
]
Title = Annotated[
    str, msgspec.Meta(extra_json_schema={"maxLength": TITLE_MAX_CHARS, "pattern": NOT_BLANK})
]


def one_of(*values: str, description: str = "") -> msgspec.Meta:
    """Document a string field limited to some values (the action checks it and names the
    allowed ones in its error)."""
    schema: dict[str, Any] = {"enum": list(values)}
    if description:
        schema["description"] = description
    return msgspec.Meta(extra_json_schema=schema)


Kind = Annotated[str, one_of("question", "idea", "discussion")]
Visibility = Annotated[str, one_of("public", "internal", description="internal: staff only")]
Status = Annotated[str, one_of("open", "answered", "closed")]
Audience = Annotated[str, one_of("all", "staff", description="staff: a staff note (staff only)")]


class Out(msgspec.Struct):
    """A shape the server sends."""


class In(msgspec.Struct):
    """A shape clients send: unknown fields are ignored, types are checked.

    `FIELD_CODES` names the error code of a field with the wrong type or missing, the same
    code the action gives for a wrong value, so clients see one code per field.
    """

    FIELD_CODES: ClassVar[dict[str, str]] = {
        "body": "invalid",
        "client_id": "invalid_client_id",
        "title": "empty_title",
        "kind": "invalid_kind",
        "visibility": "invalid_visibility",
        "status": "invalid_status",
        "audience": "invalid_audience",
        "attachments": "invalid_attachments",
    }


T = TypeVar("T", bound=In)


def field_error(err: msgspec.ValidationError, default_code: str) -> ActionError:
    """Turn a type error into an ActionError with the field's documented code."""
    text = str(err)
    field = ""
    if " - at `$." in text:
        field = text.rsplit(" - at `$.", 1)[1].rstrip("`").split(".", 1)[0].split("[", 1)[0]
    elif text.startswith("Object missing required field `"):
        field = text.split("`")[1]
    code = In.FIELD_CODES.get(field, default_code)
    return ActionError(code, N_("invalid input: {detail}"), detail=text)


def refuse_nul(value: In) -> None:
    """Refuse text with a NUL character in it: no field means one, and PostgreSQL cannot
    store or even compare it."""
    for name in value.__struct_fields__:
        text = getattr(value, name)
        if isinstance(text, str) and "\x00" in text:
            raise ActionError(
                In.FIELD_CODES.get(name, "invalid"),
                N_("{field} contains a NUL character"),
                field=name,
            )


def decode(raw: bytes, shape: type[T]) -> T:
    """Decode and type-check a request body, or raise an ActionError that says what is wrong."""
    try:
        found = msgspec.json.decode(raw, type=shape)
        refuse_nul(found)
        return found
    except msgspec.ValidationError as err:
        if " - at `$" not in str(err) and not str(err).startswith("Object missing"):
            raise ActionError("bad_json", N_("the request body must be a JSON object")) from None
        raise field_error(err, "invalid") from None
    except msgspec.DecodeError:
        raise ActionError("bad_json", N_("the request body is not valid JSON")) from None
    except RecursionError:  # msgspec stops at Python's recursion limit (~1,000 levels)
        raise ActionError("bad_json", N_("the request body is nested too deeply")) from None


# -- what the API and JSON frames describe ------------------------------------------------


class Author(Out):
    id: Id
    name: str
    staff: bool
    team: str


class Me(Out):
    id: Id
    name: str
    staff: bool
    team: str
    role: str
    email: str


class Attachment(Out):
    """A photo or file of a message (or uploaded for one)."""

    id: str
    kind: Annotated[str, one_of("image", "file")]
    name: str
    size: Annotated[int, msgspec.Meta(description="bytes, as served")]
    content_type: str
    width: int | None
    height: int | None
    placeholder: Annotated[str, msgspec.Meta(description="a tiny blurred data: URL (images)")]
    url: str
    thumb_url: Annotated[str | None, msgspec.Meta(description="images only")]


class Message(Out):
    id: Id
    thread: Id
    author: Author
    client_id: str
    staff_only: bool
    body: Annotated[str, msgspec.Meta(description="Markdown; empty once deleted or hidden")]
    html: Annotated[str, msgspec.Meta(description="sanitized HTML")]
    created_at: Time
    edited_at: Time | None
    deleted: bool
    hidden: Annotated[
        bool, msgspec.Meta(description="hidden by a moderator: staff fetch the text alone")
    ] = False
    hidden_reason: str = ""
    held: Annotated[
        bool, msgspec.Meta(description="waiting for a moderator: only its author and staff see it")
    ] = False
    attachments: Annotated[
        list[Attachment], msgspec.Meta(description="in display order; none once deleted or hidden")
    ] = []


class ThreadData(Out):
    """A thread as it is, the same for every viewer."""

    id: Id
    title: str
    kind: Kind
    visibility: Visibility
    status: Status
    created_at: Time
    locked: Annotated[bool, msgspec.Meta(description="only moderators may reply")] = False
    hidden: Annotated[bool, msgspec.Meta(description="hidden by a moderator")] = False
    hidden_reason: str = ""


class Thread(Out):
    """A thread as one viewer sees it in a list: counts and sequence in their view."""

    id: Id
    title: str
    kind: Kind
    visibility: Visibility
    status: Status
    created_at: Time
    seq: Annotated[int, msgspec.Meta(description="latest event sequence you can see")]
    last_activity_at: Time
    messages: int
    unread: int


class ErrorDetail(Out):
    code: str
    message: str


class Error(Out):
    error: ErrorDetail


# -- JSON API requests ---------------------------------------------------------------------


class TokenRequest(In):
    email: str = ""  # missing is wrong credentials (401), like a wrong password
    password: str = ""
    name: str = "api"
    expires_in_days: Annotated[
        int | None,
        msgspec.Meta(
            extra_json_schema={
                "minimum": 1,
                "maximum": TOKEN_DAYS_MAX,
                "description": "the token stops working after this many days (none: when "
                "revoked, or when the password changes)",
            }
        ),
    ] = None


class NewThread(In):
    title: Title
    body: Body
    client_id: ClientId
    kind: Kind = "question"
    visibility: Visibility = "public"


class ThreadChange(In):
    title: Title | None = None
    status: Status | None = None


AttachmentIds = Annotated[
    list[str],
    msgspec.Meta(
        extra_json_schema={
            "maxItems": 100,
            "description": "ids of your uploads for this thread, in display order (at most "
            "ATTACHMENTS_PER_MESSAGE); with attachments the body may be empty",
        }
    ),
]
Caption = Annotated[
    str,
    msgspec.Meta(
        extra_json_schema={
            "maxLength": BODY_MAX_CHARS,
            "description": "Markdown; may be empty when the message has attachments",
        }
    ),
]


class NewMessage(In):
    body: Caption
    client_id: ClientId
    audience: Audience = "all"
    attachments: AttachmentIds = []


class MessageChange(In):
    body: Body


# -- JSON API responses --------------------------------------------------------------------


class TokenCreated(Out):
    token: str
    user: Author
    id: int  # as Settings lists it
    expires_at: Time | None


class ThreadPage(Out):
    threads: list[Thread]
    next_cursor: Annotated[
        str | None, msgspec.Meta(description="pass as `cursor` for the next page")
    ]


class ThreadOne(Out):
    thread: Thread


class ThreadStarted(Out):
    thread: Thread
    message: Message


class MessagePage(Out):
    messages: list[Message]
    next_before: Annotated[
        str | None, msgspec.Meta(description="pass as `before` for older messages")
    ]
    seq: int


class MessageOne(Out):
    message: Message


class AttachmentOne(Out):
    attachment: Attachment


# -- from the models -------------------------------------------------------------------------


def author_of(user: models.User) -> Author:
    return Author(user.id, user.display_name, user.is_staff, user.team)


def me_of(user: models.User) -> Me:
    return Me(user.id, user.display_name, user.is_staff, user.team, user.role.value, user.email)


def attachment_of(att: models.Attachment) -> Attachment:
    """Describe an attachment for the API and JSON frames."""
    image = att.kind == models.AttachmentKind.IMAGE
    return Attachment(
        id=att.id, kind=att.kind.value, name=att.name, size=att.size,
        content_type=att.content_type, width=att.width, height=att.height,
        placeholder=att.placeholder, url=f"/files/{att.id}",
        thumb_url=f"/files/{att.id}/thumb" if image else None,
    )  # fmt: skip


def message_of(msg: models.Message) -> Message:
    """Describe a message (its author loaded) for the API and JSON frames."""
    deleted = msg.deleted_at is not None
    hidden = msg.hidden_at is not None
    gone = deleted or hidden  # a hidden message's text is in no frame and no listing
    return Message(
        id=msg.id,
        thread=msg.thread_id,
        author=author_of(msg.author),
        client_id=msg.client_id,
        staff_only=msg.audience == models.Audience.STAFF,
        body="" if gone else msg.body,
        html="" if gone else msg.html,
        created_at=msg.created_at.isoformat(),
        edited_at=msg.edited_at.isoformat() if msg.edited_at else None,
        deleted=deleted,
        hidden=hidden and not deleted,
        hidden_reason=msg.hidden_reason if hidden and not deleted else "",
        held=msg.held_at is not None,
        attachments=[] if gone else [attachment_of(a) for a in attachments_of(msg)],
    )


def thread_data_of(thread: models.Thread) -> ThreadData:
    return ThreadData(
        thread.id, thread.title, thread.kind.value, thread.visibility.value,
        thread.status.value, thread.created_at.isoformat(), thread.locked_at is not None,
        thread.hidden_at is not None, thread.hidden_reason if thread.hidden_at else "",
    )  # fmt: skip


class Row(Protocol):
    """A thread as one viewer sees it (server.queries.ThreadRow)."""

    @property
    def thread(self) -> models.Thread: ...
    @property
    def seq(self) -> int: ...
    @property
    def activity_at(self) -> datetime: ...
    @property
    def message_count(self) -> int: ...
    @property
    def unread(self) -> int: ...


def thread_of(row: Row) -> Thread:
    t = row.thread
    return Thread(
        t.id, t.title, t.kind.value, t.visibility.value, t.status.value,
        t.created_at.isoformat(), row.seq, row.activity_at.isoformat(), row.message_count,
        row.unread,
    )  # fmt: skip


_encoder = msgspec.json.Encoder()


def encode(value: Out | list[Any] | dict[str, Any]) -> bytes:
    """Encode a shape as JSON."""
    return _encoder.encode(value)
