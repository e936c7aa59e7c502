"""People: a person's page (where @mentions link), the Mentions view, and who to offer for an
@ being typed in a composer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server import mentions, search
from server.actions.mentions import read_mentions
from server.community import recognition
from server.errors import NotFound
from server.i18n import N_
from server.models import Audience, User
from server.people import user_by_id
from server.queries import is_id, thread_for
from server.terms import parse
from server.views.common import page, signed_in


@signed_in
async def person_page(request: Request, user: User) -> Response:
    """A person as anyone signed in may see them: name, staff badge and team, recognition
    for their answers, and their posts the viewer may read, newest first."""
    user_id = request.path_params["user_id"]
    person = await user_by_id(user_id) if is_id(user_id) else None
    if person is None:
        raise NotFound(N_("person not found"))
    posts = await search.search(user, parse(""), search.Filters(author=person.id))
    return page(request, user, "person.html", person=person, hits=posts[: search.PAGE],
                handle=mentions.handle_of(person),
                recognition=await recognition(person.id))  # fmt: skip


@signed_in
async def mentions_page(request: Request, user: User) -> Response:
    """Where someone @mentioned you, newest first; what was unread is marked as such on this
    showing, and read from then on."""
    found = await mentions.mentions_of(user)
    response = page(request, user, "mentions.html", found=found)
    if found:
        await read_mentions(user, max(m.id for m in found))
    return response


@signed_in
async def unread_count(request: Request, user: User) -> Response:
    """The Mentions link's badge (htmx asks on load and when a `mentioned` frame arrives)."""
    return page(request, user, "_mention_count.html", unread=await mentions.unread_mentions(user))


@signed_in
async def mentionable(request: Request, user: User) -> Response:
    """People and teams to offer for an @ being typed in a thread's composer (JSON)."""
    thread = await thread_for(user, request.path_params["thread_id"])
    if thread is None:
        raise NotFound()
    note = request.query_params.get("audience") == "staff" and user.is_staff
    audience = Audience.STAFF if note else Audience.ALL
    found = await mentions.offered(thread, audience, request.query_params.get("q", ""), user)
    return JSONResponse(found, headers={"Cache-Control": "no-store"})
