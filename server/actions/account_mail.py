"""Account mails: invitations, password resets, address confirmations and changes.

Links carry signed tokens (server/mail/tokens.py). A password link signs a fingerprint of the
password hash, so it works once: setting a password changes the hash, and every earlier link
dies with it. A confirmation link signs the address it confirms, so it is void once the
account's address (or pending address) is another one.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from server.actions.accounts import clean_email, clean_password, revoke_all_tokens
from server.actions.sessions import end_other_sessions
from server.auth import hash_password, verify_password
from server.errors import ActionError, Conflict
from server.i18n import DEFAULT_LANGUAGE, LANGUAGES, N_
from server.mail.compose import render_mail
from server.mail.outbox import queue_mail
from server.mail.tokens import BadToken, sign, unsign
from server.models import User
from server.publisher import Publisher
from server.settings import Settings

RESET_MAX_AGE_SECONDS = 3600  # long enough to find the mail, short enough that it goes stale
INVITE_MAX_AGE_SECONDS = 7 * 24 * 3600  # an invitation may wait for the weekend
CONFIRM_MAX_AGE_SECONDS = 7 * 24 * 3600
RESET, INVITE, CONFIRM = "reset", "invite", "confirm"  # token purposes


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:20]


def _language(user: User, language: str = "") -> str:
    for choice in (user.language, language):
        if choice in LANGUAGES:
            return choice
    return DEFAULT_LANGUAGE


def password_link(settings: Settings, user: User, purpose: str = RESET) -> str:
    """Return a link that lets the person choose a new password, once."""
    data = {"u": user.id, "p": _fingerprint(user.password_hash)}
    token = sign(str(settings.secret_key), purpose, data)
    return f"{settings.base_url}/password/reset/{token}"


async def send_invitation(settings: Settings, user: User) -> None:
    """Queue a "welcome, choose your password" mail for a user created from an e-mail (M2)."""
    link = password_link(settings, user, INVITE)
    mail = render_mail(
        "invitation", _language(user), user.email, N_("Welcome to {company}"),
        company=settings.company, name=user.display_name, link=link,
        days=INVITE_MAX_AGE_SECONDS // 86400, base_url=settings.base_url,
    )  # fmt: skip
    await queue_mail(mail, f"invite:{user.id}")


async def send_password_reset(settings: Settings, address: object, language: str) -> bool:
    """Queue a password-reset mail if an active account has this address; return whether one
    was queued (the caller answers the same either way)."""
    try:
        email = clean_email(address)
    except ActionError:
        return False
    user = await User.get_or_none(email=email)
    if user is None or not user.is_active:
        return False
    link = password_link(settings, user)
    mail = render_mail(
        "password_reset", _language(user, language), user.email,
        N_("Choose a new password for {company}"),
        company=settings.company, name=user.display_name, link=link,
        minutes=RESET_MAX_AGE_SECONDS // 60, base_url=settings.base_url,
    )  # fmt: skip
    await queue_mail(mail, f"reset:{user.id}:{secrets.token_hex(8)}")  # each request a mail
    return True


async def user_of_password_link(settings: Settings, token: str) -> User:
    """Return whose password a link may set; raise BadToken if it is forged, expired or used."""
    secret = str(settings.secret_key)
    try:
        data = unsign(secret, RESET, token, RESET_MAX_AGE_SECONDS)
    except BadToken as reset_error:
        try:
            data = unsign(secret, INVITE, token, INVITE_MAX_AGE_SECONDS)
        except BadToken:
            raise reset_error from None
    user = await User.get_or_none(id=data.get("u", ""))
    if user is None or not user.is_active or data.get("p") != _fingerprint(user.password_hash):
        raise BadToken(f"the link {token[:12]!r}… has been used or its account is gone")
    return user


async def reset_password(
    publisher: Publisher, settings: Settings, token: str, password: object
) -> User:
    """Set a new password from a mailed link (once); end every session and API token of the
    person, and count the address as confirmed (the mail reached it). Return the person."""
    user = await user_of_password_link(settings, token)
    secret = clean_password(password)
    old_hash, new_hash = user.password_hash, hash_password(secret)
    now = datetime.now(UTC)
    async with in_transaction():
        # Conditional on the old hash: of two tabs sending the same link, one wins.
        won = await User.filter(id=user.id, password_hash=old_hash).update(password_hash=new_hash)
        if not won:
            raise BadToken(f"the link {token[:12]!r}… has been used")
        if user.email_verified_at is None:
            await User.filter(id=user.id).update(email_verified_at=now)
    await user.refresh_from_db()
    await end_other_sessions(publisher, user, "")
    await revoke_all_tokens(publisher, user)
    return user


def confirm_link(settings: Settings, user: User, address: str) -> str:
    """Return a link that confirms `address` for the person."""
    token = sign(str(settings.secret_key), CONFIRM, {"u": user.id, "e": address})
    return f"{settings.base_url}/email/confirm/{token}"


async def send_confirmation(settings: Settings, user: User, language: str = "") -> bool:
    """Queue a mail with a link confirming the person's address (or the pending new one);
    False if there is nothing to confirm."""
    address = user.pending_email or (user.email if user.email_verified_at is None else "")
    if not address:
        return False
    link = confirm_link(settings, user, address)
    mail = render_mail(
        "confirm_email", _language(user, language), address,
        N_("Confirm your e-mail address for {company}"),
        company=settings.company, name=user.display_name, link=link, address=address,
        days=CONFIRM_MAX_AGE_SECONDS // 86400, base_url=settings.base_url,
    )  # fmt: skip
    await queue_mail(mail, f"confirm:{user.id}:{secrets.token_hex(8)}")
    return True


async def confirm_email(settings: Settings, token: str) -> User:
    """Confirm an address from a mailed link: the account's own, or the new one it asked to
    change to (which becomes its address now). Raise BadToken for a void link."""
    data = unsign(str(settings.secret_key), CONFIRM, token, CONFIRM_MAX_AGE_SECONDS)
    user = await User.get_or_none(id=data.get("u", ""))
    address = data.get("e", "")
    if user is None or not user.is_active or address not in (user.email, user.pending_email):
        raise BadToken(f"the link {token[:12]!r}… is for an address no longer asked for")
    now = datetime.now(UTC)
    if address == user.email:
        if user.email_verified_at is None:
            user.email_verified_at = now
            await user.save(update_fields=["email_verified_at"])
        return user
    if await User.exists(email=address):
        raise Conflict(N_("an account for {email!r} exists already"), email=address)
    user.email, user.pending_email, user.email_verified_at = address, "", now
    await user.save(update_fields=["email", "pending_email", "email_verified_at"])
    return user


async def change_email(
    settings: Settings, user: User, address: object, password: object, language: str = ""
) -> str:
    """Ask to change the person's address: it changes once the new one is confirmed by a
    link mailed to it; the old one is told. Return the new address."""
    if not isinstance(password, str) or not verify_password(user.password_hash, password):
        raise ActionError("wrong_password", N_("the current password is wrong"))
    email = clean_email(address)
    if email == user.email:
        raise ActionError("same_email", N_("{email!r} is your address already"), email=email)
    if await User.exists(email=email):
        raise Conflict(N_("an account for {email!r} exists already"), email=email)
    user.pending_email = email
    await user.save(update_fields=["pending_email"])
    await send_confirmation(settings, user, language)
    notice = render_mail(
        "email_change_notice", _language(user, language), user.email,
        N_("Your e-mail address for {company} is being changed"),
        company=settings.company, name=user.display_name, address=email,
        base_url=settings.base_url,
    )  # fmt: skip
    await queue_mail(notice, f"email-change:{user.id}:{secrets.token_hex(8)}")
    return email


async def cancel_email_change(user: User) -> None:
    """Drop a pending change of address (its links become void)."""
    user.pending_email = ""
    await user.save(update_fields=["pending_email"])
