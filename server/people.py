"""Reads about accounts: people, their sign-ins, API tokens, push devices and notification
settings, and the audit log. As in server/queries.py, what depends on who asks takes them."""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.expressions import Q

from server.models import (
    ApiToken,
    AuditEntry,
    NotificationSettings,
    PushSubscription,
    Role,
    Session,
    User,
)


async def user_by_id(user_id: str) -> User | None:
    """Return an account by id, whoever asks (moderators acting on a person check roles)."""
    return await User.get_or_none(id=user_id)


async def user_by_email(email: str) -> User | None:
    """Return the account with this (lowercased) e-mail address, if any."""
    if "\x00" in email:  # no address has one, and PostgreSQL refuses it in a query
        return None
    return await User.get_or_none(email=email)


async def staff_members() -> list[User]:
    """Every staff account, deactivated ones too, by name (the admin page)."""
    return await User.exclude(role=Role.CUSTOMER).order_by("display_name", "id")


PEOPLE_FOUND_MAX = 20  # an admin looking for one person types more, not scrolls


async def people_matching(query: str) -> list[User]:
    """Accounts of any role whose e-mail or name contains `query` (the admin page's search)."""
    query = query.strip()
    if not query:
        return []
    found = User.filter(Q(email__icontains=query) | Q(display_name__icontains=query))
    return await found.order_by("display_name", "id").limit(PEOPLE_FOUND_MAX)


async def live_session(key_hash: str, since: datetime) -> Session | None:
    """Return the session with this key hash, last used after `since`, of an active account,
    with its user."""
    return (
        await Session.filter(
            not_suspended(),
            key_hash=key_hash,
            last_seen_at__gte=since,
            user__deactivated_at__isnull=True,
        )  # fmt: skip
        .select_related("user")
        .first()
    )


def not_suspended() -> Q:
    """Accounts a moderator has not suspended, as of now (a suspension ends by itself)."""
    return Q(user__suspended_until__isnull=True) | Q(user__suspended_until__lte=datetime.now(UTC))


async def token_holder(token_hash: str) -> ApiToken | None:
    """Return the API token with this hash, of an active account, with its user (expired or
    not: the caller tells an expired token apart)."""
    return (
        await ApiToken.filter(
            not_suspended(), token_hash=token_hash, user__deactivated_at__isnull=True
        )
        .select_related("user")
        .first()
    )


async def tokens_of(user: User) -> list[ApiToken]:
    """The user's API tokens, newest first (Settings)."""
    return await ApiToken.filter(user_id=user.id).order_by("-created_at", "-id")


AUDIT_PAGE = 50  # the admin page shows this many of the latest entries


async def audit_entries(viewer: User, limit: int = AUDIT_PAGE) -> list[AuditEntry]:
    """The latest audit entries, newest first: for moderators and admins only."""
    if not viewer.moderates or not viewer.is_active:
        return []
    return await AuditEntry.all().order_by("-id").limit(limit)


async def sessions_of(user: User, since: datetime) -> list[Session]:
    """The user's sessions used after `since`, the most recently used first."""
    return await Session.filter(user_id=user.id, last_seen_at__gte=since).order_by(
        "-last_seen_at", "-created_at"
    )


async def session_ids_of(user: User, but: str) -> list[str]:
    """The ids of the user's sessions but one."""
    found = await Session.filter(user_id=user.id).exclude(id=but).values_list("id", flat=True)
    return [str(i) for i in found]


async def notification_settings(user: User) -> NotificationSettings:
    """The user's push preferences (the defaults if never saved)."""
    found = await NotificationSettings.get_or_none(user_id=user.id)
    return found or NotificationSettings(user_id=user.id)


async def devices_of(user: User) -> list[PushSubscription]:
    """The user's push devices, newest first."""
    return await PushSubscription.filter(user_id=user.id).order_by("-created_at")
