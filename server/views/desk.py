"""The care desk (staff): the queue of customer questions, routing."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import desk
from server.actions.desk import assign_thread
from server.models import User
from server.views.common import is_htmx, page, publisher_of, signed_in, staff_only
from server.views.threads import viewpoint


@signed_in
@staff_only
async def desk_page(request: Request, user: User) -> Response:
    """The queue: waiting questions oldest first, a tab per filter with its count; htmx asks
    for the list alone when a desk notice says something changed."""
    name = desk.clean_filter(request.query_params.get("filter"))
    status = desk.clean_status(request.query_params.get("status"))
    team = request.query_params.get("team", "")
    rows = await desk.queue(user, name, status, team)
    template = "_desk_queue.html" if is_htmx(request) else "desk.html"
    return page(
        request, user, template, rows=rows, counts=await desk.counts(user), filter=name,
        status=status.value if status else "", team=team, teams=await desk.teams(),
        medians=await desk.medians() if not is_htmx(request) else [],
    )  # fmt: skip


@signed_in
async def assign(request: Request, user: User) -> Response:
    form = await request.form()
    state = await assign_thread(
        publisher_of(request), user, request.path_params["thread_id"], form.get("assignee"),
        form.get("team"), form.get("note"),
    )  # fmt: skip
    if is_htmx(request):
        return page(request, user, "_desk_panel.html", desk=state, view=viewpoint(request, user))
    return RedirectResponse(f"/threads/{state.thread_id}", status_code=303)
