"""Notification mails: who chose them, and their unsubscribe links (RFC 8058 one-click).

The push worker puts the link into every notification mail (push/mailing.py); the view at
/mail/unsubscribe/{token} shows a button on GET and turns the person's notification mails off
on POST, without a session: the mail provider posts there on the person's behalf.
"""

from __future__ import annotations

from server.mail.tokens import BadToken, sign, unsign
from server.models import EmailChoice, NotificationSettings, Role
from server.settings import Settings

PURPOSE = "unsubscribe"
UNSUBSCRIBE_PATH = "/mail/unsubscribe/"
# None: no expiry. Mails stay in an inbox for years and their link must still work; all a
# token can do is turn its one person's notification mails off.
TOKEN_MAX_AGE_SECONDS: float | None = None


def email_choice(prefs: NotificationSettings | None, role: Role) -> EmailChoice:
    """Return when a person gets notifications by mail: as chosen, else their role's default
    (customers while they have no device for push, staff never: they work in the app)."""
    chosen = prefs.email if prefs is not None else ""
    if chosen in EmailChoice.__members__.values():
        return EmailChoice(chosen)
    return EmailChoice.NO_DEVICE if role == Role.CUSTOMER else EmailChoice.NEVER


def unsubscribe_url(settings: Settings, user_id: str) -> str:
    """Return the link that turns this person's notification mails off."""
    token = sign(str(settings.secret_key), PURPOSE, {"user": user_id})
    return f"{settings.base_url}{UNSUBSCRIBE_PATH}{token}"


def unsubscribing(settings: Settings, token: str) -> str | None:
    """Return the user id a genuine unsubscribe token names, None for anything else."""
    try:
        data = unsign(str(settings.secret_key), PURPOSE, token, TOKEN_MAX_AGE_SECONDS)
    except BadToken:
        return None
    return data.get("user") or None


def unsubscribe_headers(url: str) -> dict[str, str]:
    """The headers that let a mail program offer a one-click unsubscribe (RFC 2369, 8058)."""
    return {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
