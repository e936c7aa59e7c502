"""Notification settings: devices, preferences, follow/mute, the VAPID public key."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from push.api import KINDS
from server.actions.notifications import (
    remove_endpoint,
    remove_subscription,
    save_preferences,
    save_subscription,
    send_test,
    set_follow,
    unsubscribe_mail,
)
from server.errors import ActionError, NotFound
from server.i18n import N_
from server.mail.digest import email_choice, unsubscribing
from server.mail.policy import may_mail
from server.models import User
from server.people import devices_of, notification_settings
from server.queries import follow_state, thread_for
from server.views.common import is_htmx, json_error, language_of, page, publisher_of, signed_in


async def vapid_key(request: Request) -> Response:
    """Return the applicationServerKey browsers subscribe with."""
    keys = request.app.state.vapid
    if keys is None:
        return JSONResponse({"error": {"code": "push_disabled", "message": "push is off"}}, 404)
    return JSONResponse({"public_key": keys.public_key}, headers={"Cache-Control": "no-cache"})


async def notification_context(user: User) -> dict[str, Any]:
    """What `_notifications.html` needs: preferences (one per kind a person can choose in
    their role) and devices."""
    prefs = await notification_settings(user)
    return {
        "prefs": prefs,
        "choices": KINDS.preferences(user.role),
        "devices": await devices_of(user),
        # Notifications by e-mail: the choice in effect (the role's default if none saved),
        # and whether the address may get them (confirmed, server/mail/policy.py).
        "email_choice": email_choice(prefs, user.role).value,
        "email_choices": EMAIL_CHOICES,
        "email_confirmed": may_mail(user),
    }


# The e-mail choices as the settings page offers them (values: server/models EmailChoice).
EMAIL_CHOICES = (
    ("no_device", N_("When I have no device for notifications")),
    ("always", N_("Always, besides notifications on my devices")),
    ("never", N_("Never")),
)


@signed_in
async def add_device(request: Request, user: User) -> Response:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        return JSONResponse({"error": {"code": "bad_json", "message": "send JSON"}}, 400)
    raw_keys = data.get("keys")
    keys: dict[str, Any] = raw_keys if isinstance(raw_keys, dict) else {}
    # The device's language (navigator.language); a client that sends none has its browser's.
    language = data.get("language") or request.headers.get("accept-language")
    try:
        device = await save_subscription(
            request.app.state.settings, user, data.get("endpoint"), keys.get("p256dh"),
            keys.get("auth"), data.get("label"), data.get("replaces"), language,
        )  # fmt: skip
    except ActionError as err:  # the page's script shows error.message; an HTML page it cannot
        return json_error(err.status, err.code, err.localized(language_of(request, user)))
    return JSONResponse({"id": device.id}, status_code=201)


@signed_in
async def forget_device(request: Request, user: User) -> Response:
    """Forget a device by endpoint (JSON, from the page or the service worker)."""
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        data = {}
    await remove_endpoint(user, data.get("endpoint") if isinstance(data, dict) else "")
    return Response(status_code=204)


async def _devices_fragment(request: Request, user: User) -> Response:
    return page(request, user, "_devices.html", **await notification_context(user))


@signed_in
async def test_device(request: Request, user: User) -> Response:
    await send_test(publisher_of(request), user, request.path_params["device_id"])
    if is_htmx(request):
        return await _devices_fragment(request, user)
    return RedirectResponse("/settings#devices", status_code=303)


@signed_in
async def delete_device(request: Request, user: User) -> Response:
    await remove_subscription(user, request.path_params["device_id"])
    if is_htmx(request):
        return await _devices_fragment(request, user)
    return RedirectResponse("/settings#devices", status_code=303)


@signed_in
async def devices(request: Request, user: User) -> Response:
    return await _devices_fragment(request, user)


@signed_in
async def preferences(request: Request, user: User) -> Response:
    form = await request.form()
    await save_preferences(user, {k: form.get(k) for k in form})
    return RedirectResponse("/settings?saved=1#notifications", status_code=303)


@signed_in
async def follow(request: Request, user: User) -> Response:
    form = await request.form()
    thread_id = request.path_params["thread_id"]
    state = await set_follow(user, thread_id, form.get("state"))
    if is_htmx(request):
        return page(request, user, "_follow.html", thread_id=thread_id, follow=state)
    return RedirectResponse(f"/threads/{thread_id}", status_code=303)


@signed_in
async def notifications_section(request: Request, user: User) -> Response:
    return page(request, user, "_notifications.html", **await notification_context(user))


@signed_in
async def follow_form(request: Request, user: User) -> Response:
    thread = await thread_for(user, request.path_params["thread_id"])
    if thread is None:
        raise NotFound()
    state = await follow_state(user, thread.id)
    return page(request, user, "_follow.html", thread_id=thread.id, follow=state)


async def unsubscribe_form(request: Request) -> Response:
    """Show the button that turns notification mails off. A GET changes nothing: mail
    scanners and link previews open every link in a mail."""
    settings = request.app.state.settings
    valid = unsubscribing(settings, request.path_params["token"]) is not None
    return page(request, None, "unsubscribe.html", status_code=200 if valid else 404,
                valid=valid, done=False)  # fmt: skip


async def unsubscribe(request: Request) -> Response:
    """Turn notification mails off for the person the link names: the button of the page
    above, or the mail provider's one-click POST (RFC 8058: no session, no CSRF token)."""
    user = await unsubscribe_mail(request.app.state.settings, request.path_params["token"])
    return page(request, None, "unsubscribe.html", status_code=200 if user else 404,
                valid=user is not None, done=user is not None)  # fmt: skip
