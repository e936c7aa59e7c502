"""The JSON API for threads and messages; its OpenAPI document is generated from these
declarations (server/openapi.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from server import payloads as p
from server.actions.accounts import create_token
from server.actions.accounts import revoke_token as revoke_token_of
from server.actions.claims import claim_thread, release_thread
from server.actions.messages import audience_of, delete_message, edit_message, send_message
from server.actions.sanctions import suspended
from server.actions.threads import start_thread, update_thread
from server.auth import TOKEN_SCOPE_KEY, verify_password
from server.errors import ActionError, NotFound
from server.events.claims import ClaimEvent
from server.events.claims import payload as claim_payload
from server.i18n import N_
from server.people import user_by_email
from server.queries import (
    PAGE_SIZE_MAX,
    is_id,
    message_for,
    messages_page,
    page_threads,
    thread_for,
    thread_row,
)
from server.views.common import claim_minutes, json_error, publisher_of
from server.views.endpoint import Call, Link, Operation, Param, endpoint, json, public_endpoint

THREAD_ID = Param("thread_id", "path", {"type": "string"})
MESSAGE_ID = Param("message_id", "path", {"type": "string"})
LIMIT = Param("limit", "query", {"type": "integer", "minimum": 1, "maximum": PAGE_SIZE_MAX},
              "page size (50 by default)")  # fmt: skip
# Where an answer leads, for clients (and the fuzzer) that follow links.
THREAD_MESSAGES = Link(
    "ThreadMessages", "list_messages", {"path.thread_id": "$response.body#/message/thread"}
)


def limit_of(request: Request, default: int = 50) -> int:
    raw = request.query_params.get("limit", str(default))
    if not (raw.isascii() and raw.isdigit()):  # int() would take " 5", "5_0" and other digits
        raise ActionError("bad_limit", N_("limit must be a number, not {value!r:.20}"), value=raw)
    value = int(raw)
    if not 1 <= value <= PAGE_SIZE_MAX:
        raise ActionError(
            "bad_limit", N_("limit must be between 1 and {limit}"), limit=PAGE_SIZE_MAX
        )
    return value


@endpoint(Operation("Who am I", responses={200: p.Me}, errors=(401,)))
async def me(call: Call) -> Response:
    return json(p.me_of(call.user))


@public_endpoint(
    Operation(
        "Trade e-mail and password for an API token (rate-limited like sign-in)",
        body=p.TokenRequest,
        responses={201: p.TokenCreated},
        public=True,
        errors=(400, 401, 403, 429),
    )  # fmt: skip
)
async def issue_token(request: Request, body: p.TokenRequest) -> Response:
    email = body.email.strip().lower()
    client = request.client.host if request.client else "unknown"
    if not await request.app.state.login_limiter.allow("email:" + email, "ip:" + client):
        return json_error(429, "rate_limited", "too many attempts; wait a minute")
    user = await user_by_email(email)
    if user is None or not verify_password(user.password_hash, body.password):
        return json_error(401, "bad_credentials", "e-mail or password is wrong")
    if not user.is_active:  # told only to whoever knows the password
        return json_error(403, "deactivated", "this account is deactivated; ask an admin")
    if suspended(user):
        until = user.suspended_until.isoformat() if user.suspended_until else ""
        return json_error(403, "suspended", f"this account is suspended until {until}")
    token, row = await create_token(user, body.name, body.expires_in_days)
    expires = row.expires_at.isoformat() if row.expires_at is not None else None
    return json(p.TokenCreated(token, p.author_of(user), row.id, expires), 201)


@endpoint(
    Operation(
        "Revoke the token this request carries; its sockets close (4401)",
        responses={204: None},
    )
)
async def revoke_token(call: Call) -> Response:
    token_id = call.request.scope.get(TOKEN_SCOPE_KEY)  # set when the request's token was checked
    if token_id is None or not await revoke_token_of(publisher_of(call.request), call.user,
                                                     token_id):  # fmt: skip
        return json_error(400, "no_token", "send the token to revoke as 'Authorization: Bearer'")
    return Response(status_code=204)


@endpoint(
    Operation(
        "Threads you can see, newest activity first",
        responses={200: p.ThreadPage},
        params=(LIMIT, Param("cursor", "query", {"type": "string"}, "next_cursor of a page")),
        links=(
            Link("NextThreads", "list_threads", {"query.cursor": "$response.body#/next_cursor"}),
            Link("Thread", "get_thread", {"path.thread_id": "$response.body#/threads/0/id"}),
        ),
    )
)
async def list_threads(call: Call) -> Response:
    limit = limit_of(call.request)
    cursor = None
    raw = call.request.query_params.get("cursor")
    if raw:
        try:
            at, tid = raw.split("~", 1)
            when = datetime.fromisoformat(at)
            # Ours always carry +00:00 (a naive time is not ours), and an id as stored.
            if when.tzinfo is None or not is_id(tid):
                raise ValueError(at)
            cursor = (when.astimezone(UTC), tid)
        except (ValueError, OverflowError):  # also a time beyond year 1 to 9999 in UTC
            raise ActionError(
                "bad_cursor", N_("unknown cursor {cursor!r:.60}"), cursor=raw
            ) from None
    rows = await page_threads(call.user, limit, cursor)
    nxt = None
    if len(rows) == limit:
        last = rows[-1]
        nxt = f"{last.activity_at.isoformat()}~{last.thread.id}"
    return json(p.ThreadPage([p.thread_of(r) for r in rows], nxt))


@endpoint(
    Operation(
        "Start a thread with its first message (idempotent by client_id)",
        body=p.NewThread,
        responses={201: p.ThreadStarted, 200: p.ThreadStarted},
        errors=(400, 401, 403, 413),
        links=(
            Link("Thread", "get_thread", {"path.thread_id": "$response.body#/thread/id"}),
            Link("ChangeThread", "patch_thread", {"path.thread_id": "$response.body#/thread/id"}),
            Link("Messages", "list_messages", {"path.thread_id": "$response.body#/thread/id"}),
            Link("Reply", "post_message", {"path.thread_id": "$response.body#/thread/id"}),
            Link(
                "EditFirstMessage",
                "patch_message",
                {"path.message_id": "$response.body#/message/id"},
            ),
            Link(
                "DeleteFirstMessage",
                "remove_message",
                {"path.message_id": "$response.body#/message/id"},
            ),
        ),
    )  # fmt: skip
)
async def create_thread(call: Call) -> Response:
    body: p.NewThread = call.body
    thread, msg, created = await start_thread(
        publisher_of(call.request), call.user, body.title, body.body, body.client_id,
        body.kind, body.visibility,
    )  # fmt: skip
    await msg.fetch_related("author")
    row = await thread_row(call.user, thread)
    return json(p.ThreadStarted(p.thread_of(row), p.message_of(msg)), 201 if created else 200)


@endpoint(Operation("One thread", responses={200: p.ThreadOne}, params=(THREAD_ID,)))
async def get_thread(call: Call) -> Response:
    thread = await thread_for(call.user, call.path("thread_id"))
    if thread is None:
        raise NotFound()
    return json(p.ThreadOne(p.thread_of(await thread_row(call.user, thread))))


@endpoint(
    Operation(
        "Change title or status (the author or staff)",
        body=p.ThreadChange,
        responses={200: p.ThreadOne},
        params=(THREAD_ID,),
        errors=(400, 401, 403, 404, 413),
    )  # fmt: skip
)
async def patch_thread(call: Call) -> Response:
    body: p.ThreadChange = call.body
    thread = await update_thread(
        publisher_of(call.request), call.user, call.path("thread_id"), body.title, body.status
    )
    return json(p.ThreadOne(p.thread_of(await thread_row(call.user, thread))))


@endpoint(
    Operation(
        'Claim the thread: "I\'m answering" (staff; 409 names who has it)',
        responses={200: ClaimEvent},
        params=(THREAD_ID,),
        errors=(401, 403, 404, 409),
    )  # fmt: skip
)
async def post_claim(call: Call) -> Response:
    minutes = claim_minutes(call.request)
    state = await claim_thread(publisher_of(call.request), call.user, call.path("thread_id"),
                               minutes)  # fmt: skip
    return json(claim_payload(state))


@endpoint(
    Operation(
        "End one's own claim on the thread (staff)",
        responses={200: ClaimEvent},
        params=(THREAD_ID,),
        errors=(401, 403, 404),
    )  # fmt: skip
)
async def remove_claim(call: Call) -> Response:
    state = await release_thread(publisher_of(call.request), call.user, call.path("thread_id"))
    return json(claim_payload(state))


@endpoint(
    Operation(
        "Messages, newest first; pass next_before as before for older ones",
        responses={200: p.MessagePage},
        params=(
            THREAD_ID,
            LIMIT,
            Param("before", "query", {"type": "string"}, "the oldest message you have"),
        ),
    )  # fmt: skip
)
async def list_messages(call: Call) -> Response:
    """Page through messages newest first; `before` is the id of the oldest one you have."""
    thread = await thread_for(call.user, call.path("thread_id"))
    if thread is None:
        raise NotFound()
    limit = limit_of(call.request)
    anchor = None
    before = call.request.query_params.get("before")
    if before:
        anchor = await message_for(call.user, before)
        if anchor is None or anchor.thread_id != thread.id:
            raise ActionError("bad_cursor", N_("unknown message {id!r:.40}"), id=before)
    rows = await messages_page(call.user, thread, limit, anchor)
    nxt = rows[-1].id if len(rows) == limit else None
    seq = (await thread_row(call.user, thread)).seq
    return json(p.MessagePage([p.message_of(m) for m in rows], nxt, seq))


@endpoint(
    Operation(
        "Send a message (idempotent by client_id: a retry answers 200 with the stored one)",
        body=p.NewMessage,
        responses={201: p.MessageOne, 200: p.MessageOne},
        params=(THREAD_ID,),
        errors=(400, 401, 403, 404, 409, 413),
        links=(
            THREAD_MESSAGES,
            Link("Edit", "patch_message", {"path.message_id": "$response.body#/message/id"}),
            Link("Delete", "remove_message", {"path.message_id": "$response.body#/message/id"}),
        ),
    )
)
async def post_message(call: Call) -> Response:
    body: p.NewMessage = call.body
    msg, created = await send_message(
        publisher_of(call.request), call.user, call.path("thread_id"), body.body,
        body.client_id, audience_of(body.audience), body.attachments,
    )  # fmt: skip
    return json(p.MessageOne(p.message_of(msg)), 201 if created else 200)


@endpoint(
    Operation(
        "Edit your message",
        body=p.MessageChange,
        responses={200: p.MessageOne},
        params=(MESSAGE_ID,),
        errors=(400, 401, 403, 404, 413),
    )  # fmt: skip
)
async def patch_message(call: Call) -> Response:
    body: p.MessageChange = call.body
    msg = await edit_message(publisher_of(call.request), call.user, call.path("message_id"),
                             body.body)  # fmt: skip
    return json(p.MessageOne(p.message_of(msg)))


@endpoint(
    Operation(
        "Delete your message (a tombstone stays)",
        responses={200: p.MessageOne},
        params=(MESSAGE_ID,),
        errors=(400, 401, 403, 404),
    )  # fmt: skip
)
async def remove_message(call: Call) -> Response:
    msg = await delete_message(publisher_of(call.request), call.user, call.path("message_id"))
    return json(p.MessageOne(p.message_of(msg)))
