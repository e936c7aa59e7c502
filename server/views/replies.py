"""Saved replies (staff): the page to keep them, and the composer's list of choices."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import replies
from server.actions.replies import create_reply, delete_reply
from server.errors import ActionError, NotFound
from server.i18n import N_
from server.models import User
from server.queries import thread_for
from server.views.common import language_of, page, signed_in, staff_only


async def _replies_page(
    request: Request, user: User, status_code: int = 200, **context: object
) -> Response:
    return page(
        request, user, "replies.html", status_code, replies=await replies.replies_for(user),
        placeholders=replies.PLACEHOLDERS, **context,
    )  # fmt: skip


@signed_in
@staff_only
async def replies_page(request: Request, user: User) -> Response:
    """The employee's saved replies and their team's, with a form to add one."""
    return await _replies_page(request, user)


@signed_in
@staff_only
async def add_reply(request: Request, user: User) -> Response:
    form = await request.form()
    try:
        await create_reply(user, form.get("title"), form.get("body"), form.get("shared"))
    except ActionError as err:
        return await _replies_page(
            request, user, err.status, error=err.localized(language_of(request, user)),
            form={"title": form.get("title") or "", "body": form.get("body") or "",
                  "shared": bool(form.get("shared"))},
        )  # fmt: skip
    return RedirectResponse("/desk/replies", status_code=303)


@signed_in
@staff_only
async def remove_reply(request: Request, user: User) -> Response:
    await delete_reply(user, request.path_params["reply_id"])
    return RedirectResponse("/desk/replies", status_code=303)


@signed_in
@staff_only
async def search(request: Request, user: User) -> Response:
    """The composer's choices for a thread: each reply's text filled in for it."""
    thread = await thread_for(user, request.query_params.get("thread"))
    if thread is None:
        raise NotFound(N_("thread not found"))
    found = await replies.choices(user, thread, request.query_params.get("q", ""))
    return page(request, user, "_reply_choices.html", choices=found)
