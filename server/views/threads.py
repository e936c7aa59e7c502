"""Thread list, thread view, and the forms that post into them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.actions.claims import Claimed, claim_thread, release_thread
from server.actions.messages import audience_of, delete_message, edit_message, send_message
from server.actions.reads import mark_read
from server.actions.threads import start_thread, update_thread
from server.community import first_message_id, helpful_counts
from server.desk import teams as all_teams
from server.errors import NotFound
from server.events import claims, community, desk, ideas, threads
from server.events.claims import ClaimState
from server.i18n import N_
from server.models import ThreadStatus, User
from server.queries import (
    follow_state,
    latest_messages,
    message_for,
    own_thread_rows,
    thread_for,
    thread_row,
    thread_rows,
)
from server.templating import Viewpoint
from server.views.common import (
    claim_minutes,
    is_htmx,
    language_of,
    page,
    publisher_of,
    signed_in,
)

MESSAGES_PER_PAGE = 50


def viewpoint(request: Request, user: User) -> Viewpoint:
    """Render fragments for this viewer: their controls only, staff controls only for staff."""
    company: str = request.app.state.settings.company
    return Viewpoint(language_of(request, user), user.is_staff, user.id, company)


async def home(request: Request) -> Response:
    return RedirectResponse("/threads", status_code=303)


@signed_in
async def thread_list(request: Request, user: User) -> Response:
    # A customer's start page begins with their own questions and how they are doing.
    mine = None if user.is_staff else await own_thread_rows(user)
    if is_htmx(request) and request.query_params.get("mine") == "1":
        return page(request, user, "_my_questions.html", mine=mine or [])
    rows = await thread_rows(user)
    template = "_thread_list.html" if is_htmx(request) else "threads.html"
    return page(request, user, template, rows=rows, mine=mine, current=_open_thread(request))


def _open_thread(request: Request) -> str | None:
    """The thread open beside a list refreshed by htmx (a desk shows both), to mark it."""
    path = urlsplit(request.headers.get("HX-Current-URL", "")).path
    prefix, _, thread_id = path.rpartition("/")
    return thread_id if prefix == "/threads" and thread_id not in ("", "new") else None


@signed_in
async def new_thread_form(request: Request, user: User) -> Response:
    return page(
        request, user, "new_thread.html", client_id=uuid.uuid4().hex, teams=await all_teams()
    )


@signed_in
async def create_thread(request: Request, user: User) -> Response:
    form = await request.form()
    thread, _, _ = await start_thread(
        publisher_of(request),
        user,
        form.get("title"),
        form.get("body"),
        form.get("client_id") or uuid.uuid4().hex,
        form.get("kind") or "question",
        form.get("visibility") or "public",
        form.get("team"),
        form.get("space") or None,
    )
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/threads/{thread.id}"})
    return RedirectResponse(f"/threads/{thread.id}", status_code=303)


@signed_in
async def thread_page(request: Request, user: User) -> Response:
    thread = await thread_for(user, request.path_params["thread_id"])
    if thread is None:
        raise NotFound()
    found = await latest_messages(user, thread, MESSAGES_PER_PAGE)
    row = await thread_row(user, thread)
    await mark_read(publisher_of(request), user, thread)
    rows = await thread_rows(user)  # after the read mark: this thread shows no unread count
    view = viewpoint(request, user)
    helpful = await helpful_counts(user, found)  # one query for every message shown
    first = await first_message_id(thread.id)  # its question: no "Helpful" on it
    # The page shows each message and the header as their live events do (one fragment each).
    return page(
        request, user, "thread.html", thread=thread, seq=row.seq,
        head=threads.UPDATED.html(thread, view),
        claim=claims.CHANGED.html(await claims.state_of(thread), view) if user.is_staff else "",
        answering=desk.ANSWERING.html(await claims.state_of(thread), view),
        answer=desk.ANSWER.html(await desk.answer_of(thread), view),
        desk_panel=desk.ROUTED.html(await desk.desk_state(thread), view) if user.is_staff else "",
        idea_panel=await ideas.panel_for(user, thread, view),
        messages=[community.message_html(m, view, helpful.get(m.id), first) for m in found],
        client_id=uuid.uuid4().hex, statuses=list(ThreadStatus), thread_id=thread.id,
        follow=await follow_state(user, thread.id), rows=rows, current=thread.id,
        muted=user.muted_until is not None and user.muted_until > datetime.now(UTC),
    )  # fmt: skip


def _message_answer(request: Request, user: User, msg: object, url: str) -> Response:
    if is_htmx(request):
        return page(request, user, "_message.html", m=msg, view=viewpoint(request, user))
    return RedirectResponse(url, status_code=303)


@signed_in
async def post_message(request: Request, user: User) -> Response:
    """Form fallback for sending (the socket is the fast path); returns the message fragment."""
    form = await request.form()
    msg, _ = await send_message(
        publisher_of(request), user, request.path_params["thread_id"], form.get("body"),
        form.get("client_id"), audience_of(form.get("audience")), form.getlist("attachments"),
    )  # fmt: skip
    return _message_answer(request, user, msg, f"/threads/{msg.thread_id}#msg-{msg.id}")


@signed_in
async def change_thread(request: Request, user: User) -> Response:
    form = await request.form()
    thread = await update_thread(
        publisher_of(request), user, request.path_params["thread_id"], form.get("title"),
        form.get("status"),
    )  # fmt: skip
    if is_htmx(request):
        view = viewpoint(request, user)
        return page(request, user, "_thread_head.html", thread=thread, view=view)
    return RedirectResponse(f"/threads/{thread.id}", status_code=303)


@signed_in
async def edit_form(request: Request, user: User) -> Response:
    msg = await message_for(user, request.path_params["message_id"])
    if msg is None or msg.author_id != user.id or msg.deleted_at is not None:
        raise NotFound(N_("message not found"))
    return page(request, user, "_message_edit.html", m=msg)


@signed_in
async def show_message(request: Request, user: User) -> Response:
    msg = await message_for(user, request.path_params["message_id"])
    if msg is None:
        raise NotFound(N_("message not found"))
    return page(request, user, "_message.html", m=msg, view=viewpoint(request, user))


@signed_in
async def change_message(request: Request, user: User) -> Response:
    form = await request.form()
    msg = await edit_message(
        publisher_of(request), user, request.path_params["message_id"], form.get("body")
    )
    return _message_answer(request, user, msg, f"/threads/{msg.thread_id}#msg-{msg.id}")


@signed_in
async def remove_message(request: Request, user: User) -> Response:
    msg = await delete_message(publisher_of(request), user, request.path_params["message_id"])
    return _message_answer(request, user, msg, f"/threads/{msg.thread_id}")


@signed_in
async def claim(request: Request, user: User) -> Response:
    """ "I'm answering": claim the thread; refused, show who has it instead."""
    thread_id = request.path_params["thread_id"]
    try:
        state = await claim_thread(publisher_of(request), user, thread_id, claim_minutes(request))
    except Claimed as err:
        return _claim_answer(request, user, err.holder, err.localized(language_of(request, user)))
    return _claim_answer(request, user, state, "")


@signed_in
async def release(request: Request, user: User) -> Response:
    state = await release_thread(publisher_of(request), user, request.path_params["thread_id"])
    return _claim_answer(request, user, state, "")


def _claim_answer(request: Request, user: User, state: ClaimState, refused: str) -> Response:
    if is_htmx(request):
        view = viewpoint(request, user)
        return page(request, user, "_claim.html", claim=state, view=view, refused=refused)
    return RedirectResponse(f"/threads/{state.thread_id}", status_code=303)
