"""The JSON API for threads and messages (described in server/openapi.py)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import wraps
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.actions.accounts import create_token
from server.actions.accounts import revoke_token as revoke_token_of
from server.actions.errors import ActionError
from server.actions.messages import audience_of, delete_message, edit_message, send_message
from server.actions.threads import start_thread, update_thread
from server.auth import TOKEN_SCOPE_KEY, user_from_connection, verify_password
from server.frames import author_json, message_json, thread_json
from server.i18n import N_
from server.models import Message, User
from server.queries import (
    PAGE_SIZE_MAX,
    ThreadRow,
    message_for,
    messages_visible_to,
    page_threads,
    thread_for,
    thread_row,
)
from server.views.common import json_error

ApiView = Callable[[Request, User], Awaitable[Response]]


def api(view: ApiView) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate by token or session; turn action errors into JSON errors."""

    @wraps(view)
    async def wrapper(request: Request) -> Response:
        user = await user_from_connection(request)
        if user is None:
            return json_error(401, "unauthenticated", "send 'Authorization: Bearer <token>'")
        try:
            return await view(request, user)
        except ActionError as err:
            return json_error(err.status, err.code, err.message)

    return wrapper


async def json_body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise ActionError("bad_json", N_("the request body is not valid JSON")) from None
    if not isinstance(data, dict):
        raise ActionError("bad_json", N_("the request body must be a JSON object"))
    return data


def limit_of(request: Request, default: int = 50) -> int:
    raw = request.query_params.get("limit", str(default))
    try:
        value = int(raw)
    except ValueError:
        raise ActionError(
            "bad_limit", N_("limit must be a number, not {value!r:.20}"), value=raw
        ) from None
    if not 1 <= value <= PAGE_SIZE_MAX:
        raise ActionError(
            "bad_limit", N_("limit must be between 1 and {limit}"), limit=PAGE_SIZE_MAX
        )
    return value


def row_json(row: ThreadRow) -> dict[str, Any]:
    return {
        **thread_json(row.thread),
        "seq": row.seq,
        "last_activity_at": row.activity_at.isoformat(),
        "messages": row.message_count,
        "unread": row.unread,
    }


@api
async def me(request: Request, user: User) -> Response:
    return JSONResponse({**author_json(user), "role": user.role.value, "email": user.email})


async def issue_token(request: Request) -> Response:
    """Trade e-mail and password for an API token (rate-limited like sign-in)."""
    try:
        data = await json_body(request)
    except ActionError as err:
        return json_error(400, err.code, err.message)
    email = str(data.get("email", "")).strip().lower()
    client = request.client.host if request.client else "unknown"
    if not await request.app.state.login_limiter.allow("email:" + email, "ip:" + client):
        return json_error(429, "rate_limited", "too many attempts; wait a minute")
    user = await User.get_or_none(email=email)
    if user is None or not verify_password(user.password_hash, str(data.get("password", ""))):
        return json_error(401, "bad_credentials", "e-mail or password is wrong")
    token = await create_token(user, str(data.get("name", "api")))
    return JSONResponse({"token": token, "user": author_json(user)}, status_code=201)


@api
async def revoke_token(request: Request, user: User) -> Response:
    """Revoke the token this request carries (a script signing out); its sockets close."""
    token_id = request.scope.get(TOKEN_SCOPE_KEY)  # set when the request's token was checked
    if token_id is None or not await revoke_token_of(user, token_id):
        return json_error(400, "no_token", "send the token to revoke as 'Authorization: Bearer'")
    return Response(status_code=204)


@api
async def list_threads(request: Request, user: User) -> Response:
    limit = limit_of(request)
    cursor = None
    raw = request.query_params.get("cursor")
    if raw:
        try:
            at, tid = raw.split("~", 1)
            cursor = (datetime.fromisoformat(at), tid)
            if cursor[0].tzinfo is None:  # ours always carry +00:00; a naive time is not ours
                raise ValueError(at)
        except ValueError:
            raise ActionError(
                "bad_cursor", N_("unknown cursor {cursor!r:.60}"), cursor=raw
            ) from None
    rows = await page_threads(user, limit, cursor)
    nxt = None
    if len(rows) == limit:
        last = rows[-1]
        nxt = f"{last.activity_at.isoformat()}~{last.thread.id}"
    return JSONResponse({"threads": [row_json(r) for r in rows], "next_cursor": nxt})


@api
async def create_thread(request: Request, user: User) -> Response:
    data = await json_body(request)
    thread, msg, created = await start_thread(
        user, data.get("title"), data.get("body"), data.get("client_id"),
        data.get("kind", "question"), data.get("visibility", "public"),
    )  # fmt: skip
    await msg.fetch_related("author")
    row = await thread_row(user, thread)
    return JSONResponse(
        {"thread": row_json(row), "message": message_json(msg)}, status_code=201 if created else 200
    )


@api
async def get_thread(request: Request, user: User) -> Response:
    thread = await thread_for(user, request.path_params["thread_id"])
    if thread is None:
        return json_error(404, "not_found", "thread not found")
    return JSONResponse({"thread": row_json(await thread_row(user, thread))})


@api
async def patch_thread(request: Request, user: User) -> Response:
    data = await json_body(request)
    thread = await update_thread(
        user, request.path_params["thread_id"], data.get("title"), data.get("status")
    )
    return JSONResponse({"thread": row_json(await thread_row(user, thread))})


@api
async def list_messages(request: Request, user: User) -> Response:
    """Page through messages newest first; `before` is the id of the oldest one you have."""
    thread = await thread_for(user, request.path_params["thread_id"])
    if thread is None:
        return json_error(404, "not_found", "thread not found")
    limit = limit_of(request)
    query = messages_visible_to(user, thread)
    before = request.query_params.get("before")
    if before:
        anchor = await message_for(user, before)
        if anchor is None or anchor.thread_id != thread.id:
            raise ActionError("bad_cursor", N_("unknown message {id!r:.40}"), id=before)
        query = query.filter(seq__lt=anchor.seq)
    rows: list[Message] = await query.order_by("-seq").limit(limit).prefetch_related("author")
    nxt = rows[-1].id if len(rows) == limit else None
    return JSONResponse(
        {
            "messages": [message_json(m) for m in rows],
            "next_before": nxt,
            "seq": (await thread_row(user, thread)).seq,
        }
    )


@api
async def post_message(request: Request, user: User) -> Response:
    data = await json_body(request)
    msg, created = await send_message(
        user,
        request.path_params["thread_id"],
        data.get("body"),
        data.get("client_id"),
        audience_of(data.get("audience")),
    )
    return JSONResponse({"message": message_json(msg)}, status_code=201 if created else 200)


@api
async def patch_message(request: Request, user: User) -> Response:
    data = await json_body(request)
    msg = await edit_message(user, request.path_params["message_id"], data.get("body"))
    await msg.fetch_related("author")
    return JSONResponse({"message": message_json(msg)})


@api
async def remove_message(request: Request, user: User) -> Response:
    msg = await delete_message(user, request.path_params["message_id"])
    await msg.fetch_related("author")
    return JSONResponse({"message": message_json(msg)})
