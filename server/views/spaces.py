"""Spaces (`/spaces`, staff only): employees' places for a team, the company or a subject,
with their threads and posts; join one to follow what is posted in it."""

from __future__ import annotations

import uuid

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import spaces
from server.actions.spaces import create_space, join_space
from server.desk import teams
from server.errors import NotFound
from server.i18n import N_
from server.models import User
from server.views.common import page, signed_in, staff_only


@signed_in
@staff_only
async def spaces_page(request: Request, user: User) -> Response:
    return page(request, user, "spaces.html", spaces=await spaces.spaces_for(user),
                joined=await spaces.joined_ids(user), teams=await teams())  # fmt: skip


@signed_in
@staff_only
async def add_space(request: Request, user: User) -> Response:
    form = await request.form()
    space = await create_space(user, form.get("name"), form.get("description"), form.get("team"))
    return RedirectResponse(f"/spaces/{space.id}", status_code=303)


@signed_in
@staff_only
async def space_page(request: Request, user: User) -> Response:
    space = await spaces.space_for(user, request.path_params["space_id"])
    if space is None:
        raise NotFound(N_("space not found"))
    return page(
        request, user, "space.html", space=space, members=await spaces.members_of(space),
        joined=await spaces.joined(user, space), threads=await spaces.threads_in(space),
        client_id=uuid.uuid4().hex,
    )  # fmt: skip


@signed_in
@staff_only
async def membership(request: Request, user: User) -> Response:
    form = await request.form()
    space_id = request.path_params["space_id"]
    await join_space(user, space_id, form.get("join") == "1")
    return RedirectResponse(f"/spaces/{space_id}", status_code=303)
