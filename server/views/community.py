"""Community answers: accept a reply as the answer, mark a reply "Helpful"."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.actions.community import accept_answer, mark_helpful
from server.models import User
from server.views.common import is_htmx, page, publisher_of, signed_in
from server.views.threads import viewpoint


@signed_in
async def accept(request: Request, user: User) -> Response:
    """Accept a reply as the answer (or take it back); htmx gets the answer under the question."""
    state = await accept_answer(publisher_of(request), user, request.path_params["message_id"])
    if is_htmx(request):
        view = viewpoint(request, user)
        return page(request, user, "_answer.html", answer=state, view=view)
    return RedirectResponse(f"/threads/{state.thread_id}", status_code=303)


@signed_in
async def helpful(request: Request, user: User) -> Response:
    """Mark a reply helpful (`on=1`) or take it back (`on=0`); htmx gets the viewer's button."""
    form = await request.form()
    state = await mark_helpful(
        publisher_of(request), user, request.path_params["message_id"], form.get("on")
    )
    if is_htmx(request):
        view = viewpoint(request, user)
        return page(request, user, "_helpful.html", helpful=state, view=view)
    return RedirectResponse(f"/threads/{state.thread_id}#msg-{state.message_id}", status_code=303)
