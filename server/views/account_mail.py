"""Pages behind the links in account mails: forgot password, choose a new one, confirm an
address; and the settings that send them (change address, send the confirmation again)."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.actions.account_mail import (
    cancel_email_change,
    change_email,
    confirm_email,
    reset_password,
    send_confirmation,
    send_password_reset,
    user_of_password_link,
)
from server.actions.sanctions import suspended
from server.errors import ActionError
from server.mail.tokens import BadToken
from server.models import User
from server.settings import Settings
from server.views.accounts import settings_with, sign_in
from server.views.common import identify, language_of, page, publisher_of, signed_in, translate


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _wake(request: Request) -> None:
    worker = getattr(request.app.state, "mail_worker", None)
    if worker is not None:
        worker.wake()


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def forgot_form(request: Request) -> Response:
    return page(request, None, "password_forgot.html", email=request.query_params.get("email", ""))


async def forgot(request: Request) -> Response:
    """Send a reset link if the address has an account; answer the same either way."""
    form = await request.form()
    email = str(form.get("email", "")).strip().lower()[:254]
    if not await request.app.state.mail_limiter.allow("reset:" + email, "ip:" + _client(request)):
        msg = translate(request, None, "Too many requests. Wait a minute and try again.")
        return page(request, None, "password_forgot.html", 429, error=msg, email=email)
    language = language_of(request, None)

    async def send() -> None:
        if await send_password_reset(_settings(request), email, language):
            _wake(request)

    response = page(request, None, "password_forgot.html", sent=True, email=email)
    # After the answer, so it takes as long whether or not the address has an account.
    response.background = BackgroundTask(send)
    return response


async def reset_form(request: Request) -> Response:
    token = request.path_params["token"]
    try:
        user = await user_of_password_link(_settings(request), token)
    except BadToken as err:
        return _bad_link(request, err)
    response = page(request, None, "password_reset.html", token=token, email=user.email)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token stays on this site
    return response


async def reset(request: Request) -> Response:
    """Set the new password, end every session and token, and sign in here afresh."""
    token = request.path_params["token"]
    form = await request.form()
    try:
        user = await reset_password(
            publisher_of(request), _settings(request), token, form.get("password")
        )
    except BadToken as err:
        return _bad_link(request, err)
    except ActionError as err:
        error = err.localized(language_of(request, None))
        return page(request, None, "password_reset.html", err.status, token=token, error=error)
    if suspended(user):  # the login page says why and until when
        request.session.clear()
        return RedirectResponse("/login?reset=1", status_code=303)
    await sign_in(request, user)
    return RedirectResponse("/threads", status_code=303)


def _bad_link(request: Request, err: BadToken) -> Response:
    status = 410 if err.expired else 400
    return page(request, None, "password_reset.html", status, bad_link=True, expired=err.expired)


async def confirm(request: Request) -> Response:
    """Confirm an address from the link mailed to it."""
    identity = await identify(request)
    me = identity.user if identity is not None else None
    try:
        user = await confirm_email(_settings(request), request.path_params["token"])
    except BadToken as err:
        status = 410 if err.expired else 400
        return page(request, me, "email_confirmed.html", status, bad_link=True,
                    expired=err.expired)  # fmt: skip
    except ActionError as err:
        error = err.localized(language_of(request, me))
        return page(request, me, "email_confirmed.html", err.status, bad_link=True, error=error)
    if me is not None and me.id == user.id:
        me = user  # show the confirmed address
    return page(request, me, "email_confirmed.html", address=user.email)


@signed_in
async def new_email(request: Request, user: User) -> Response:
    """Ask to change one's address: a link goes to the new one, a notice to the old one."""
    form = await request.form()
    if not await request.app.state.login_limiter.allow(
        "email:" + user.email, "ip:" + _client(request)
    ):  # the current password is checked: count it as a sign-in attempt
        msg = translate(request, user, "Too many attempts. Wait a minute and try again.")
        return await settings_with(request, user, 429, email_error=msg)
    try:
        await change_email(
            _settings(request), user, form.get("email"), form.get("password"),
            language_of(request, user),
        )  # fmt: skip
    except ActionError as err:
        error = err.localized(language_of(request, user))
        return await settings_with(request, user, err.status, email_error=error,
                                   new_email=str(form.get("email", ""))[:254])  # fmt: skip
    _wake(request)
    return RedirectResponse("/settings?email=sent#email", status_code=303)


@signed_in
async def confirm_again(request: Request, user: User) -> Response:
    """Send the confirmation link again (to the pending new address, if any)."""
    if not await request.app.state.mail_limiter.allow("confirm:" + user.id):
        msg = translate(request, user, "Too many requests. Wait a minute and try again.")
        return await settings_with(request, user, 429, email_error=msg)
    if await send_confirmation(_settings(request), user, language_of(request, user)):
        _wake(request)
    return RedirectResponse("/settings?email=sent#email", status_code=303)


@signed_in
async def cancel_change(request: Request, user: User) -> Response:
    await cancel_email_change(user)
    return RedirectResponse("/settings#email", status_code=303)
