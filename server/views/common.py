"""What every view needs: the signed-in user, the language, rendering, errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from server import payloads
from server.actions.accounts import note_token_use
from server.actions.sessions import renew
from server.auth import TOKEN_USE_KEY, signed_in_session, user_from_connection, uses_token
from server.errors import ActionError, NotFound
from server.i18n import N_, gettext_for, negotiate
from server.models import User
from server.publisher import Publisher
from server.templating import render

View = Callable[[Request], Awaitable[Response]]
UserView = Callable[[Request, User], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is asking, and through which session (None: an API token)."""

    user: User
    session_id: str | None


async def identify(conn: HTTPConnection) -> Identity | None:
    """Return who sent a request or opened a socket; note that their session is in use."""
    user = await user_from_connection(conn)
    if user is None:
        return None
    if uses_token(conn):
        await note_token_use(conn.scope[TOKEN_USE_KEY])
        return Identity(user, None)
    signed_in = await signed_in_session(conn)
    if signed_in is None:
        return Identity(user, None)
    await renew(signed_in)
    return Identity(user, signed_in.session_id)


def publisher_of(conn: HTTPConnection) -> Publisher:
    """The process's publisher, which actions hand their committed changes to."""
    publisher: Publisher = conn.app.state.publisher
    return publisher


def language_of(request: Request, user: User | None) -> str:
    return negotiate(request.headers.get("accept-language"), user.language if user else "")


def is_htmx(request: Request) -> bool:
    return request.headers.get("HX-Request") == "true"


def csrf_token(request: Request) -> str:
    getter = request.scope.get("csrftoken")
    return getter() if callable(getter) else ""


def page(
    request: Request,
    user: User | None,
    template: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a full page or, for htmx, a fragment, in the viewer's language."""
    lang = language_of(request, user)
    html = render(lang, template, request=request, me=user, csrf=csrf_token(request), **context)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Vary"] = "HX-Request, Accept-Language, Cookie"
    return response


def translate(request: Request, user: User | None, text: str) -> str:
    return gettext_for(language_of(request, user)).gettext(text)


def error_page(request: Request, user: User | None, error: ActionError) -> Response:
    """Show an error the user can act on, in their language; htmx gets a fragment for the slot."""
    status = error.status
    text = error.localized(language_of(request, user))
    if is_htmx(request):
        response = HTMLResponse(f'<p class="error" role="alert">{escape(text)}</p>', status)
        response.headers["HX-Retarget"] = "#form-error"
        response.headers["HX-Reswap"] = "innerHTML"
        response.headers["Vary"] = "HX-Request, Accept-Language, Cookie"
        return response
    return page(request, user, "error.html", status_code=status, status=status, message=text)


def escape(text: str) -> str:
    from markupsafe import escape as _escape

    return str(_escape(text))


def signed_in(view: UserView) -> View:
    """Require a signed-in user; send others to the sign-in page (or 401 for htmx)."""

    @wraps(view)
    async def wrapper(request: Request) -> Response:
        identity = await identify(request)
        if identity is None:
            if is_htmx(request):
                return Response(status_code=401, headers={"HX-Redirect": "/login"})
            return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
        try:
            return await view(request, identity.user)
        except ActionError as err:
            return error_page(request, identity.user, err)

    return wrapper


def staff_only(view: UserView) -> UserView:
    @wraps(view)
    async def wrapper(request: Request, user: User) -> Response:
        if not user.is_staff:
            return error_page(request, user, NotFound(N_("page not found")))
        return await view(request, user)

    return wrapper


def json_error(status: int, code: str, message: str) -> Response:
    """The API's one error shape: `{"error": {"code", "message"}}` with an HTTP status."""
    body = payloads.encode(payloads.Error(payloads.ErrorDetail(code, message)))
    return Response(body, status_code=status, media_type="application/json")


def claim_minutes(request: Request) -> float:
    """How long "I'm answering" holds without a reply (CLAIM_MINUTES)."""
    minutes: float = request.app.state.settings.claim_minutes
    return minutes
