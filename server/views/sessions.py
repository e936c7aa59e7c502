"""Where you are signed in: list your sessions, end one, or end all others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.actions.sessions import end_other_sessions, end_session
from server.auth import SESSION_DAYS, signed_in_session
from server.errors import NotFound
from server.i18n import N_
from server.models import User
from server.people import sessions_of, tokens_of
from server.views.common import is_htmx, page, publisher_of, signed_in


async def sessions_context(request: Request, user: User) -> dict[str, Any]:
    """What `_sessions.html` needs: the user's sessions and which one is this browser."""
    current = await signed_in_session(request)
    return {
        "sessions": await sessions_of(user, datetime.now(UTC) - timedelta(days=SESSION_DAYS)),
        "current_session": current.session_id if current is not None else None,
    }


async def _answer(request: Request, user: User) -> Response:
    if is_htmx(request):
        return page(request, user, "_sessions.html", **await sessions_context(request, user))
    return RedirectResponse("/settings#sessions", status_code=303)


@signed_in
async def end_one(request: Request, user: User) -> Response:
    """Sign out one browser; this one, too, if asked (then to the sign-in page)."""
    session_id = request.path_params["session_id"]
    if not await end_session(publisher_of(request), user, session_id):
        raise NotFound(N_("this session has already ended"))
    current = await signed_in_session(request)
    if current is not None and current.session_id == session_id:
        request.session.clear()
        if is_htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)
    return await _answer(request, user)


@signed_in
async def end_others(request: Request, user: User) -> Response:
    """Sign out every browser but this one."""
    current = await signed_in_session(request)
    keep = current.session_id if current is not None else ""
    await end_other_sessions(publisher_of(request), user, keep)
    return await _answer(request, user)


# -- API tokens --------------------------------------------------------------------------------

TOKEN_DAY_CHOICES = (30, 90, 365)  # the form's expiry choices, besides "never"


async def tokens_context(user: User, **extra: object) -> dict[str, Any]:
    """What `_tokens.html` needs: the user's API tokens."""
    return {
        "tokens": await tokens_of(user),
        "token_days": TOKEN_DAY_CHOICES,
        "now": datetime.now(UTC),
        **extra,
    }
