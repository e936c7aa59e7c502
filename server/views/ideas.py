"""Ideas: the board (`/ideas`), a new idea, voting, the roadmap (`/roadmap`)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server import ideas as reads
from server.actions.ideas import submit_idea, vote
from server.errors import NotFound
from server.i18n import N_, localize
from server.models import IdeaStatus, User
from server.terms import QueryError
from server.views.common import is_htmx, language_of, page, publisher_of, signed_in

ECHO_MAX_CHARS = 200  # the search field echoes what was typed, not a pasted novel


def _board_url(filters: reads.Filters, **changed: str) -> str:
    """The board's address with these filters (and any changed), without defaults."""
    wanted = {"sort": filters.sort, "status": filters.status, "tag": filters.tag,
              "q": filters.q, **changed}  # fmt: skip
    defaults = {"sort": "top", "status": "open"}
    shown = {k: v for k, v in wanted.items() if v and defaults.get(k) != v}
    return "/ideas" + ("?" + urlencode(shown) if shown else "")


@signed_in
async def board_page(request: Request, user: User) -> Response:
    """The ideas board; htmx asks for the list alone (a new sort, filter, words, next page)."""
    params = dict(request.query_params)
    error = ""
    try:
        filters = reads.clean_filters(params)
        found = await reads.board(user, filters, params.get("after") or None)
    except QueryError as err:
        filters = reads.Filters(params.get("sort", "top"), "open")
        found = reads.Board([])
        error = localize(err.template, err.params, language_of(request, user))
    context: dict[str, Any] = {
        "filters": filters, "board": found, "error": error, "q": filters.q[:ECHO_MAX_CHARS],
        "board_url": lambda **changed: _board_url(filters, **changed),
        "statuses": reads.STATUS_FILTERS, "sorts": reads.SORTS,
    }  # fmt: skip
    if is_htmx(request):
        template = "_idea_cards.html" if params.get("after") else "_idea_list.html"
        return page(request, user, template, **context)
    return page(request, user, "ideas.html", tags=await reads.tags_in_use(user), **context)


@signed_in
async def new_idea_form(request: Request, user: User) -> Response:
    return page(request, user, "new_idea.html", client_id=uuid.uuid4().hex)


@signed_in
async def create_idea(request: Request, user: User) -> Response:
    form = await request.form()
    thread, _, _ = await submit_idea(
        publisher_of(request), user, form.get("title"), form.get("body"), form.get("tags"),
        form.get("client_id") or uuid.uuid4().hex,
    )  # fmt: skip
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": f"/threads/{thread.id}"})
    return RedirectResponse(f"/threads/{thread.id}", status_code=303)


@signed_in
async def cast_vote(request: Request, user: User) -> Response:
    """Vote (`vote=1`) or take it back (`vote=0`); answer with the vote button or the board's
    card (`card=1`) as it is now, for this person (the live event tells everyone else)."""
    form = await request.form()
    thread_id = request.path_params["thread_id"]
    state, voted = await vote(publisher_of(request), user, thread_id, form.get("vote"))
    if not is_htmx(request):
        back = "/ideas" if form.get("card") == "1" else f"/threads/{state.thread_id}"
        return RedirectResponse(back, status_code=303)
    if form.get("card") == "1":
        found = await reads.card_for(user, state.thread_id)
        if found is None:
            raise NotFound(N_("idea not found"))
        return page(request, user, "_idea_card.html", card=found)
    return page(request, user, "_idea_vote.html", idea=state, voted=voted)


@signed_in
async def roadmap_page(request: Request, user: User) -> Response:
    columns = await reads.roadmap(user)
    return page(request, user, "roadmap.html", columns=columns, done=IdeaStatus.DONE)
