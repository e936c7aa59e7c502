"""Search (`/search`): one field on every page; results as one types (htmx asks for the list)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from server import search as finder
from server.desk import teams
from server.i18n import localize
from server.models import User
from server.spaces import spaces_for
from server.terms import QueryError, parse
from server.views.common import is_htmx, language_of, page, signed_in

ECHO_MAX_CHARS = 1000  # a pasted novel is refused, and not sent back whole either


@signed_in
async def search_page(request: Request, user: User) -> Response:
    """Search what the user may see; a bad query or filter is answered with a sentence and
    an empty list (400 for a page, 200 for the list htmx swaps in while someone types)."""
    params = dict(request.query_params)
    text = params.get("q", "")
    typing = params.get("typing") == "1"
    try:
        number = int(params.get("page", "1"))
    except ValueError:
        number = 1
    error, hits = "", []
    try:
        filters = finder.clean_filters(params)
        query = parse(text, typing=typing)
        hits = await finder.search(user, query, filters, number)
    except QueryError as err:
        filters = finder.Filters()
        error = localize(err.template, err.params, language_of(request, user))
    more = len(hits) > finder.PAGE
    context: dict[str, Any] = {
        "q": text[:ECHO_MAX_CHARS], "hits": hits[: finder.PAGE], "more": more, "page": number,
        "filters": filters, "error": error, "first": (number - 1) * finder.PAGE + 1,
        "page_url": lambda n: "/search?" + urlencode({**params, "page": n}),
    }  # fmt: skip
    status = 400 if error and not is_htmx(request) else 200
    if is_htmx(request):
        return page(request, user, "_search_results.html", **context)
    return page(request, user, "search.html", status_code=status, teams=await teams(),
                spaces=await spaces_for(user), **context)  # fmt: skip
