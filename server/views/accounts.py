"""Sign in, sign up, sign out, settings."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.actions.account_mail import send_confirmation
from server.actions.accounts import (
    change_password,
    create_token,
    create_user,
    revoke_token,
    set_language,
)
from server.actions.admin import change_role, deactivate, reactivate
from server.actions.sanctions import suspended
from server.actions.sessions import end_session, start_session
from server.actions.teams import create_team
from server.auth import signed_in_session, verify_password
from server.desk import teams as all_teams
from server.errors import ActionError, NotFound
from server.i18n import N_
from server.models import Role, User
from server.people import audit_entries, people_matching, staff_members, user_by_email
from server.publisher import Publisher
from server.views.common import (
    error_page,
    identify,
    is_htmx,
    language_of,
    page,
    publisher_of,
    signed_in,
    translate,
)
from server.views.notifications import notification_context
from server.views.sessions import sessions_context, tokens_context

STAFF_ROLES = (Role.EMPLOYEE, Role.MODERATOR, Role.ADMIN)


def _safe_next(value: object) -> str:
    """Only follow local paths after sign-in (no open redirect)."""
    if (
        isinstance(value, str)
        and value.startswith("/")
        and not value.startswith("//")
        and "\\" not in value
        and value.isprintable()
        and " " not in value
    ):
        return value
    return "/threads"


async def login_form(request: Request) -> Response:
    if await identify(request) is not None:
        return RedirectResponse("/threads", status_code=303)
    return page(request, None, "login.html", next=_safe_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()
    password = str(form.get("password", ""))
    nxt = _safe_next(form.get("next"))
    client = request.client.host if request.client else "unknown"
    limiter = request.app.state.login_limiter
    if not await limiter.allow("email:" + email, "ip:" + client):
        msg = translate(request, None, "Too many sign-in attempts. Wait a minute and try again.")
        return page(request, None, "login.html", 429, error=msg, email=email, next=nxt)
    user = await user_by_email(email)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        msg = translate(request, None, "E-mail or password is wrong.")
        return page(request, None, "login.html", 400, error=msg, email=email, next=nxt)
    if not user.is_active:  # said only to whoever knows the password
        msg = translate(
            request, None, "This account is deactivated. Ask an administrator to reactivate it."
        )
        return page(request, None, "login.html", 403, error=msg, email=email, next=nxt)
    if suspended(user):  # said only to whoever knows the password
        assert user.suspended_until is not None
        msg = translate(
            request, None, "This account is suspended until {until} UTC: {reason}"
        ).format(until=user.suspended_until.strftime("%Y-%m-%d %H:%M"),
                 reason=user.sanction_reason)  # fmt: skip
        return page(request, None, "login.html", 403, error=msg, email=email, next=nxt)
    await sign_in(request, user)
    return RedirectResponse(nxt, status_code=303)


async def sign_in(request: Request, user: User) -> None:
    """Start a session in a fresh cookie (a session id planted before sign-in is dropped)."""
    signed_in = await signed_in_session(request)
    if signed_in is not None:  # signing in again in the same browser replaces its session
        await end_session(publisher_of(request), signed_in.user, signed_in.session_id)
    request.session.clear()
    request.session["key"] = await start_session(user, request.headers.get("user-agent", ""))


async def logout(request: Request) -> Response:
    signed_in = await signed_in_session(request)
    if signed_in is not None:
        await end_session(publisher_of(request), signed_in.user, signed_in.session_id)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def signup_form(request: Request) -> Response:
    return page(request, None, "signup.html")


async def signup(request: Request) -> Response:
    form = await request.form()
    values = {k: str(form.get(k, "")) for k in ("email", "name", "password")}
    try:
        user = await create_user(values["email"], values["name"], values["password"])
    except ActionError as err:
        error = err.localized(language_of(request, None))
        return page(
            request, None, "signup.html", err.status, error=error,
            email=values["email"], name=values["name"],
        )  # fmt: skip
    settings = request.app.state.settings
    if await send_confirmation(settings, user, language_of(request, None)):
        worker = getattr(request.app.state, "mail_worker", None)
        if worker is not None:
            worker.wake()
    await sign_in(request, user)
    return RedirectResponse("/threads", status_code=303)


@signed_in
async def settings_page(request: Request, user: User) -> Response:
    return await settings_with(request, user)


async def settings_with(
    request: Request, user: User, status: int = 200, **extra: object
) -> Response:
    """Render the settings page (with a section's message or error)."""
    return page(
        request, user, "settings.html", status,
        **await notification_context(user), **await sessions_context(request, user),
        **await tokens_context(user), mail_enabled=request.app.state.settings.mail_enabled,
        **extra,
    )  # fmt: skip


@signed_in
async def new_password(request: Request, user: User) -> Response:
    """Change the password; every other browser is signed out, this one stays."""
    client = request.client.host if request.client else "unknown"
    if not await request.app.state.login_limiter.allow("email:" + user.email, "ip:" + client):
        msg = translate(request, user, "Too many attempts. Wait a minute and try again.")
        return await settings_with(request, user, 429, password_error=msg)
    form = await request.form()
    current = await signed_in_session(request)
    try:
        await change_password(
            publisher_of(request), user, form.get("current_password"), form.get("new_password"),
            current.session_id if current is not None else None,
        )  # fmt: skip
    except ActionError as err:
        error = err.localized(language_of(request, user))
        return await settings_with(request, user, err.status, password_error=error)
    return RedirectResponse("/settings?password=1#password", status_code=303)


async def _tokens(request: Request, user: User, status: int = 200, **extra: object) -> Response:
    """Answer a change to the tokens: the section for htmx, else the whole page."""
    if is_htmx(request):
        return page(request, user, "_tokens.html", status, **await tokens_context(user, **extra))
    return await settings_with(request, user, status, **extra)


@signed_in
async def new_token(request: Request, user: User) -> Response:
    """Create an API token and show it once (only its hash is kept)."""
    form = await request.form()
    try:
        token, _ = await create_token(
            user, str(form.get("name", "")), form.get("expires_in_days") or None
        )
    except ActionError as err:
        error = err.localized(language_of(request, user))
        return await _tokens(request, user, err.status, token_error=error)
    return await _tokens(request, user, new_token=token)


@signed_in
async def revoke_one_token(request: Request, user: User) -> Response:
    """Revoke one of your API tokens: scripts using it stop at once, its sockets too (4401)."""
    if not await revoke_token(publisher_of(request), user, request.path_params["token_id"]):
        raise NotFound(N_("this token has already been revoked"))
    if is_htmx(request):
        return page(request, user, "_tokens.html", **await tokens_context(user))
    return RedirectResponse("/settings#tokens", status_code=303)


@signed_in
async def save_settings(request: Request, user: User) -> Response:
    form = await request.form()
    await set_language(user, str(form.get("language", "")))
    return RedirectResponse("/settings?saved=1", status_code=303)


def _not_admin(user: User) -> bool:
    return user.role != Role.ADMIN


async def _admin(request: Request, user: User, status: int = 200, **extra: object) -> Response:
    query = request.query_params.get("q", "")[:80]
    return page(
        request, user, "admin.html", status, staff=await staff_members(), roles=STAFF_ROLES,
        all_roles=list(Role), audit=await audit_entries(user), query=query,
        found=await people_matching(query), teams=await all_teams(), **extra,
    )  # fmt: skip


@signed_in
async def admin_page(request: Request, user: User) -> Response:
    if _not_admin(user):
        return error_page(request, user, NotFound(N_("page not found")))
    return await _admin(request, user)


@signed_in
async def admin_create_user(request: Request, user: User) -> Response:
    if _not_admin(user):
        return error_page(request, user, NotFound(N_("page not found")))
    form = await request.form()
    role = str(form.get("role", ""))
    if role not in {r.value for r in STAFF_ROLES}:
        return error_page(
            request, user, ActionError("invalid_role", N_("unknown role {role!r:.20}"), role=role)
        )
    await create_user(
        form.get("email"), form.get("name"), form.get("password"), Role(role),
        str(form.get("team", "")),
    )  # fmt: skip
    return RedirectResponse("/admin?created=1", status_code=303)


@signed_in
async def admin_create_team(request: Request, user: User) -> Response:
    if _not_admin(user):
        return error_page(request, user, NotFound(N_("page not found")))
    form = await request.form()
    await create_team(user, form.get("name"), form.get("lead"))
    return RedirectResponse("/admin?team=1", status_code=303)


async def _account_change(request: Request, user: User, change: AccountChange) -> Response:
    """Run an admin's change to an account; show what went wrong on the admin page."""
    if _not_admin(user):
        return error_page(request, user, NotFound(N_("page not found")))
    form = await request.form()
    try:
        target = await change(publisher_of(request), user, request.path_params["user_id"], form)
    except ActionError as err:
        error = err.localized(language_of(request, user))
        return await _admin(request, user, err.status, error=error)
    if target.id == user.id and not target.is_active:  # deactivated themselves: signed out
        request.session.clear()
        return RedirectResponse("/login", status_code=303)
    return RedirectResponse("/admin?changed=1", status_code=303)


AccountChange = Callable[[Publisher, User, str, FormData], Awaitable[User]]


@signed_in
async def admin_role(request: Request, user: User) -> Response:
    """Give a person another role; their open sockets close and reconnect with it."""
    return await _account_change(
        request, user, lambda pub, admin, uid, form: change_role(pub, admin, uid, form.get("role"))
    )


@signed_in
async def admin_deactivate(request: Request, user: User) -> Response:
    """Lock a person out: sessions, tokens, push devices and sockets end at once."""
    return await _account_change(
        request, user, lambda pub, admin, uid, form: deactivate(pub, admin, uid)
    )


@signed_in
async def admin_reactivate(request: Request, user: User) -> Response:
    return await _account_change(
        request, user, lambda pub, admin, uid, form: reactivate(admin, uid)
    )
