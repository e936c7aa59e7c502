"""Staff forms on ideas: a new status, merging a duplicate, turning a message into an idea."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.actions.idea_promote import (
    promotable,
    promote_message,
    promoted_from,
    suggested_title,
)
from server.actions.idea_status import merge_ideas, set_status
from server.events.ideas import panel_html
from server.ideas import IdeaState
from server.models import User
from server.views.common import is_htmx, page, publisher_of, signed_in, staff_only
from server.views.threads import viewpoint


def _panel(request: Request, user: User, state: IdeaState) -> Response:
    """htmx: the idea's panel as it is now (the live event brings it to everyone else)."""
    if is_htmx(request):
        html = panel_html(state, viewpoint(request, user))
        response = Response(html, media_type="text/html")
        response.headers["Vary"] = "HX-Request, Accept-Language, Cookie"
        return response
    return RedirectResponse(f"/threads/{state.thread_id}", status_code=303)


@signed_in
@staff_only
async def status(request: Request, user: User) -> Response:
    form = await request.form()
    state = await set_status(
        publisher_of(request), user, request.path_params["thread_id"], form.get("status"),
        form.get("reason"), form.get("message"),
    )  # fmt: skip
    return _panel(request, user, state)


@signed_in
@staff_only
async def merge(request: Request, user: User) -> Response:
    form = await request.form()
    dup, _ = await merge_ideas(
        publisher_of(request), user, request.path_params["thread_id"], form.get("into")
    )
    return _panel(request, user, dup)


@signed_in
@staff_only
async def promote_form(request: Request, user: User) -> Response:
    """The form that turns a customer's message into an idea: title prefilled, tags."""
    msg = await promotable(user, request.path_params["message_id"])
    earlier = await promoted_from(msg)
    if earlier is not None:  # promoted already: there it is
        return RedirectResponse(f"/threads/{earlier.id}", status_code=303)
    return page(request, user, "promote.html", m=msg, title=suggested_title(msg))


@signed_in
@staff_only
async def promote(request: Request, user: User) -> Response:
    form = await request.form()
    thread, _ = await promote_message(
        publisher_of(request), user, request.path_params["message_id"], form.get("title"),
        form.get("tags"),
    )  # fmt: skip
    return RedirectResponse(f"/threads/{thread.id}", status_code=303)
