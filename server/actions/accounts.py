"""Accounts: sign-up, staff accounts, password, language, API tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from tortoise.exceptions import IntegrityError

from server.actions.sessions import close_sockets, end_other_sessions
from server.auth import (
    PASSWORD_MIN_CHARS,
    TOKEN_DAYS_MAX,
    TokenUse,
    hash_password,
    new_token,
    verify_password,
)
from server.errors import ActionError, Conflict
from server.i18n import LANGUAGES, N_
from server.models import ApiToken, Role, User
from server.publisher import Publisher
from server.text import has_control_character, without_control_characters

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
NAME_MAX_CHARS = 80
PASSWORD_MAX_CHARS = 1024  # argon2 handles more, but nobody types that; limits hashing cost
TOKEN_ID_MAX = 2**31 - 1  # the id column is a 32-bit integer


def clean_email(email: object) -> str:
    if not isinstance(email, str) or not EMAIL_RE.match(email.strip()) or not email.isprintable():
        raise ActionError(
            "invalid_email", N_("{email!r:.80} is not an e-mail address"), email=email
        )
    return email.strip().lower()


def clean_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ActionError("invalid_name", N_("the name is empty"))
    text = " ".join(name.split())
    if has_control_character(text):
        raise ActionError("invalid_name", N_("the name contains a control character"))
    if len(text) > NAME_MAX_CHARS:
        raise ActionError(
            "invalid_name", N_("the name is longer than {limit} characters"), limit=NAME_MAX_CHARS
        )
    return text


def clean_password(password: object) -> str:
    if not isinstance(password, str) or len(password) < PASSWORD_MIN_CHARS:
        raise ActionError(
            "weak_password",
            N_("the password needs at least {minimum} characters"),
            minimum=PASSWORD_MIN_CHARS,
        )
    if len(password) > PASSWORD_MAX_CHARS:
        raise ActionError("invalid_password", N_("the password is too long"))
    return password


async def create_user(
    email: object,
    display_name: object,
    password: object,
    role: Role = Role.CUSTOMER,
    team: str = "",
    *,
    verified: bool | None = None,
) -> User:
    """Create an account; customers sign up themselves, staff are created by an admin.

    `verified`: the address counts as confirmed (server/mail/policy.py); by default staff
    addresses do (an admin made them), a customer's waits for the link mailed to it."""
    address = clean_email(email)
    name = clean_name(display_name)
    secret = clean_password(password)
    if await User.exists(email=address):
        raise Conflict(N_("an account for {email!r} exists already"), email=address)
    confirmed = role != Role.CUSTOMER if verified is None else verified
    try:
        return await User.create(
            email=address,
            display_name=name,
            role=role,
            team=team.strip()[:60],
            password_hash=hash_password(secret),
            email_verified_at=datetime.now(UTC) if confirmed else None,
        )
    except IntegrityError:
        raise Conflict(N_("an account for {email!r} exists already"), email=address) from None


async def change_password(
    publisher: Publisher, user: User, current: object, new: object, keep: str | None
) -> tuple[int, int]:
    """Replace a password after checking the current one; end every session but `keep` and
    revoke every API token (whoever knew the old password is locked out). Return how many
    sessions ended and how many tokens were revoked."""
    if not isinstance(current, str) or not verify_password(user.password_hash, current):
        raise ActionError("wrong_password", N_("the current password is wrong"))
    secret = clean_password(new)
    user.password_hash = hash_password(secret)
    await user.save(update_fields=["password_hash"])
    sessions = await end_other_sessions(publisher, user, keep or "")
    return sessions, await revoke_all_tokens(publisher, user)


async def set_language(user: User, language: object) -> None:
    """Set the UI language ("" follows the browser)."""
    if language not in ("", *LANGUAGES):
        raise ActionError(
            "invalid_language", N_("unknown language {language!r:.20}"), language=language
        )
    user.language = str(language)
    await user.save(update_fields=["language"])


def token_expiry(days: object) -> datetime | None:
    """Return when a token made now for `days` days expires (None or "": never)."""
    if days is None or days == "":
        return None
    if isinstance(days, str) and days.isascii() and days.isdigit() and len(days) <= 5:
        days = int(days)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= TOKEN_DAYS_MAX:
        raise ActionError(
            "invalid_expiry",
            N_("a token expires after 1 to {limit} days, not {days!r:.20}"),
            limit=TOKEN_DAYS_MAX, days=days,
        )  # fmt: skip
    return datetime.now(UTC) + timedelta(days=days)


async def create_token(
    user: User, name: str, expires_in_days: object = None
) -> tuple[str, ApiToken]:
    """Create an API token for non-browser clients, valid until revoked or for some days;
    only its hash is stored. Return the token (shown once) and its row."""
    expires_at = token_expiry(expires_in_days)
    token, digest = new_token()
    label = without_control_characters(name).strip()[:80]  # shown in lists, one line
    row = await ApiToken.create(
        user=user, token_hash=digest, name=label or "token", expires_at=expires_at
    )
    return token, row


async def note_token_use(use: TokenUse) -> None:
    """Note that a token is in use, at most once a minute (not a write per request)."""
    now = datetime.now(UTC)
    if use.note_due(now):
        await ApiToken.filter(id=use.token_id).update(last_used_at=now)


async def revoke_token(publisher: Publisher, user: User, token_id: object) -> bool:
    """Revoke one of the user's API tokens; close its sockets. Return whether it existed."""
    if isinstance(token_id, str) and token_id.isascii() and token_id.isdigit():
        token_id = int(token_id) if len(token_id) <= 10 else 0
    if isinstance(token_id, bool) or not isinstance(token_id, int):
        return False
    if not 1 <= token_id <= TOKEN_ID_MAX:
        return False
    if not await ApiToken.filter(id=token_id, user_id=user.id).delete():
        return False
    await close_sockets(publisher, user, [f"token:{token_id}"])
    return True


async def revoke_all_tokens(publisher: Publisher, user: User) -> int:
    """Revoke every API token of the user; close their sockets. Return how many there were."""
    ids = await ApiToken.filter(user_id=user.id).values_list("id", flat=True)
    if not ids:
        return 0
    await ApiToken.filter(id__in=list(ids)).delete()
    await close_sockets(publisher, user, [f"token:{i}" for i in ids])
    return len(ids)
