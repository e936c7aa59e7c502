"""Notification choices: devices (Web Push subscriptions), follows, preferences, tests."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.transactions import in_transaction

from push.api import KINDS, TEST, EndpointRefused, check_endpoint
from server.actions.audit import record
from server.errors import ActionError, NotFound
from server.i18n import N_, negotiate
from server.mail.digest import unsubscribing
from server.models import (
    AuditAction,
    EmailChoice,
    Follow,
    FollowState,
    NotificationSettings,
    PushJob,
    PushSubscription,
    User,
)
from server.people import notification_settings
from server.publisher import Publisher
from server.queries import is_id, thread_for
from server.settings import Settings
from server.text import has_control_character, without_control_characters

KEY_MAX_CHARS = 128  # a base64url P-256 point is 87 characters, an auth secret 22
LABEL_MAX_CHARS = 80
DEVICES_MAX = 20  # per user: phones, tablets, desktops, a few browsers each


async def save_subscription(
    settings: Settings,
    user: User,
    endpoint: object,
    p256dh: object,
    auth: object,
    label: object,
    replaces: object = None,
    language: object = None,
) -> PushSubscription:
    """Save a device's subscription; an endpoint moves to whoever subscribed it last.

    `replaces` is the endpoint of the user's subscription that the push service replaced
    (the service worker's "pushsubscriptionchange"): that device goes, and its name stays.
    `language` is what the device reported (`navigator.language`, or an Accept-Language
    header): pushes speak the nearest language we have while the person's setting is "".
    """
    if not isinstance(endpoint, str) or not endpoint:
        raise ActionError("invalid_endpoint", N_("the subscription has no endpoint"))
    if has_control_character(endpoint):
        raise ActionError("invalid_endpoint", N_("the endpoint contains a control character"))
    for name, value in (("p256dh", p256dh), ("auth", auth)):
        text = value if isinstance(value, str) else ""
        if not 1 <= len(text) <= KEY_MAX_CHARS or not (text.isascii() and text.isprintable()):
            raise ActionError(
                "invalid_keys", N_("the subscription's {name} key is missing or invalid"), name=name
            )
    try:
        await check_endpoint(settings, endpoint)
    except EndpointRefused as err:
        raise ActionError(
            "endpoint_refused",
            N_("this browser's push service cannot be used: {reason}"),
            reason=str(err),
        ) from None
    text = label.strip()[:LABEL_MAX_CHARS] if isinstance(label, str) else ""
    text = without_control_characters(text)  # one line in the device list
    spoken = device_language(language)
    async with in_transaction() as conn:
        if isinstance(replaces, str) and replaces and replaces != endpoint:
            renewed = PushSubscription.filter(endpoint=replaces, user_id=user.id).using_db(conn)
            old = await renewed.first()
            if old is not None:
                text = text or old.label
                await old.delete(using_db=conn)
        existing = await PushSubscription.filter(endpoint=endpoint).using_db(conn).first()
        if existing is not None and existing.user_id != user.id:
            # The browser now belongs to someone else (shared tablet): the old owner's
            # device row and its queued notifications go, and the audit trail says so (a
            # takeover is also what an attacker holding the endpoint would do).
            previous = await User.filter(id=existing.user_id).using_db(conn).first()
            await record(
                conn, user, AuditAction.PUSH_DEVICE_MOVED, previous,
                device=existing.label, push_service=urlsplit(endpoint).hostname or "",
            )  # fmt: skip
            await existing.delete(using_db=conn)
            existing = None
        if existing is None:
            if await PushSubscription.filter(user_id=user.id).using_db(conn).count() >= DEVICES_MAX:
                raise ActionError(
                    "too_many_devices",
                    N_("at most {limit} devices per person"),
                    limit=DEVICES_MAX,
                )
            created: PushSubscription = await PushSubscription.create(
                user=user, endpoint=endpoint, p256dh=p256dh, auth=auth, label=text,
                language=spoken, using_db=conn,
            )  # fmt: skip
            return created
        existing.p256dh, existing.auth = str(p256dh), str(auth)
        existing.label = text or existing.label
        existing.language = spoken or existing.language
        await existing.save(using_db=conn, update_fields=["p256dh", "auth", "label", "language"])
        return existing


LANGUAGE_TAG_MAX_CHARS = 200  # an Accept-Language header of a browser with many languages


def device_language(reported: object) -> str:
    """Return the language we speak nearest to what a device reported ("de-AT" -> "de"),
    or "" if it reported none."""
    if not isinstance(reported, str) or not reported.strip():
        return ""
    return negotiate(reported[:LANGUAGE_TAG_MAX_CHARS])


async def remove_subscription(user: User, device_id: object) -> None:
    if not is_id(device_id):
        raise NotFound(N_("device not found"))
    deleted = await PushSubscription.filter(id=device_id, user_id=user.id).delete()
    if not deleted:
        raise NotFound(N_("device not found"))


async def remove_endpoint(user: User, endpoint: object) -> None:
    """Forget a device by its endpoint (the browser unsubscribed)."""
    if not isinstance(endpoint, str) or has_control_character(endpoint):
        return  # no device has such an endpoint
    await PushSubscription.filter(endpoint=str(endpoint), user_id=user.id).delete()


async def send_test(publisher: Publisher, user: User, device_id: object) -> None:
    """Queue a test notification to one of the user's devices."""
    if not is_id(device_id):
        raise NotFound(N_("device not found"))
    device = await PushSubscription.get_or_none(id=device_id, user_id=user.id)
    if device is None:
        raise NotFound(N_("device not found"))
    await PushJob.create(
        subscription=device, user=user, kind=TEST.name, not_before=datetime.now(UTC)
    )
    publisher.wake_push()


async def set_follow(user: User, thread_id: object, state: object) -> FollowState | None:
    """Follow, mute, or go back to the default (participants follow) for a thread."""
    thread = await thread_for(user, thread_id)
    if thread is None:
        raise NotFound()
    if state in ("", "none", None):
        await Follow.filter(user_id=user.id, thread_id=thread.id).delete()
        return None
    try:
        chosen = FollowState(str(state))
    except ValueError:
        raise ActionError(
            "invalid_state", N_("unknown follow state {state!r:.20}"), state=state
        ) from None
    await Follow.update_or_create(defaults={"state": chosen}, user_id=user.id, thread_id=thread.id)
    return chosen


def _clock(value: object, end: bool = False, work: bool = False) -> str:
    text = str(value or "")
    try:
        hours, minutes = (int(part) for part in text.split(":", 1))
        valid = 0 <= hours < 24 and 0 <= minutes < 60
    except ValueError:
        valid = False
    if not valid and work:
        raise ActionError(
            "invalid_time",
            N_("working hours must look like 08:00, not {value!r:.10}"),
            value=text,
        )
    if not valid:
        # One sentence per field, so each can be translated whole.
        if end:
            raise ActionError(
                "invalid_time",
                N_("quiet hours end must look like 22:00, not {value!r:.10}"),
                value=text,
            )
        raise ActionError(
            "invalid_time",
            N_("quiet hours start must look like 22:00, not {value!r:.10}"),
            value=text,
        )
    return f"{hours:02d}:{minutes:02d}"


async def save_preferences(user: User, form: Mapping[str, object]) -> NotificationSettings:
    """Save which kinds notify, and quiet hours in the user's time zone."""
    zone = str(form.get("time_zone") or "Europe/Berlin")
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ActionError(
            "invalid_time_zone", N_("unknown time zone {zone!r:.40}"), zone=zone
        ) from None
    # One switch per kind a person can turn off; one they cannot choose in their role (a
    # customer's moderator alerts) keeps its value.
    current = await notification_settings(user)
    values: dict[str, object] = {
        kind.preference: bool(form.get(kind.preference)) if user.role in kind.roles
        else getattr(current, kind.preference)
        for kind in KINDS if kind.preference is not None
    }  # fmt: skip
    values |= {
        "quiet_hours": bool(form.get("quiet_hours")),
        "quiet_start": _clock(form.get("quiet_start") or "22:00"),
        "quiet_end": _clock(form.get("quiet_end") or "07:00", end=True),
        "time_zone": zone,
        "urgent_in_quiet_hours": bool(form.get("urgent_in_quiet_hours")),
    }
    if user.is_staff:  # working hours: outside them, no routine desk alert (push/recipients.py)
        values |= {
            "work_hours": bool(form.get("work_hours")),
            "work_start": _clock(form.get("work_start") or "08:00", work=True),
            "work_end": _clock(form.get("work_end") or "17:00", work=True),
            "work_days": "".join(day for day in "1234567" if form.get(f"work_day_{day}")),
        }
    if "email" in form:  # a form without the choice (an older page) keeps it
        values["email"] = _email_choice(form.get("email"))
    prefs, _ = await NotificationSettings.update_or_create(defaults=values, user_id=user.id)
    return prefs


def _email_choice(value: object) -> str:
    try:
        return EmailChoice(str(value)).value
    except ValueError:
        raise ActionError(
            "invalid_email_choice",
            N_("unknown choice for notification e-mails {value!r:.20}"),
            value=value,
        ) from None


async def unsubscribe_mail(settings: Settings, token: str) -> User | None:
    """Turn off the notification mails of the person an unsubscribe link names (RFC 8058:
    the mail provider posts it, without a session); None if the link is not genuine."""
    user_id = unsubscribing(settings, token)
    user = await User.get_or_none(id=user_id) if user_id else None
    if user is None:
        return None
    await NotificationSettings.update_or_create(
        defaults={"email": EmailChoice.NEVER.value}, user_id=user.id
    )
    return user
