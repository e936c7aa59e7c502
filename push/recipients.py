"""Who hears about what: followers, mentions, moderators, filtered by their preferences."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tortoise.expressions import Q

from server.models import (
    Follow,
    FollowState,
    Message,
    NotificationIntent,
    NotificationSettings,
    Role,
    Thread,
    User,
)
from server.queries import visible_to

MENTION_RE = re.compile(r"(?<![\w@])@([a-z0-9][a-z0-9._-]{0,62})", re.IGNORECASE)
URGENT_KINDS = ("mention", "moderation")


def handle_of(user: User) -> str:
    """Return the @handle people use to mention a user: the e-mail's local part."""
    return user.email.split("@", 1)[0].lower()


def team_handle(team: str) -> str:
    return "-".join(team.lower().split())


def mention_names(text: str) -> set[str]:
    """Return the @names a text mentions, lowercased (handles or team handles)."""
    return {m.lower().rstrip("._-") for m in MENTION_RE.findall(text)}


async def mention_query(names: set[str]) -> Q | None:
    """Return a filter on users for these @names (by handle or team), None when none can
    match; two queries at most, and no staff list built as models."""
    if not names:
        return None
    query = Q(*[Q(email__istartswith=name + "@") for name in names], join_type="OR")
    staff_teams = User.exclude(role=Role.CUSTOMER).exclude(team="").distinct()
    teams = [
        team for (team,) in await staff_teams.values_list("team") if team_handle(team) in names
    ]
    if teams:
        query |= Q(team__in=teams) & ~Q(role=Role.CUSTOMER)
    return query


async def mentioned(message: Message) -> list[User]:
    """Return the users a message mentions, by @handle or @team."""
    query = await mention_query(mention_names(message.body))
    return [] if query is None else await User.filter(query)


@dataclass(frozen=True, slots=True)
class Reader:
    """Who may hear about an intent: just what visibility needs, no ORM object (an intent
    on a thread with thousands of followers must not build thousands of models)."""

    id: str
    role: Role

    @property
    def is_staff(self) -> bool:
        return self.role != Role.CUSTOMER


Candidate = tuple[Reader, tuple[str, ...]]


async def candidates(intent: NotificationIntent) -> list[Candidate]:
    """Return who an intent may notify, each with the kinds it could be, most specific first
    (a mentioned follower: mention, then reply), before preferences and quiet hours."""
    thread = await Thread.get_or_none(id=intent.thread_id)
    if thread is None:
        return []
    message = await Message.get_or_none(id=intent.message_id) if intent.message_id else None
    chosen: dict[str, Candidate] = {}
    if intent.kind == "moderation":
        moderators = User.filter(role__in=[Role.MODERATOR, Role.ADMIN])
        for user_id, role in await moderators.values_list("id", "role"):
            chosen[user_id] = (Reader(user_id, Role(role)), ("moderation",))
    else:
        # Who followed when it happened: a worker that runs late must not tell someone who
        # started following afterwards about news from before.
        follows = Follow.filter(
            thread_id=thread.id, state=FollowState.FOLLOWING, created_at__lte=intent.created_at
        )
        kind = "reply" if intent.kind == "reply" else "status"
        for user_id, role in await follows.values_list("user_id", "user__role"):
            chosen[user_id] = (Reader(user_id, Role(role)), (kind,))
        if message is not None and intent.kind == "reply":
            for user in await mentioned(message):
                # A mention also reaches a muted thread; a follower who turned mentions off
                # still hears about the reply.
                _, kinds = chosen.get(user.id, (None, ()))
                chosen[user.id] = (Reader(user.id, user.role), ("mention", *kinds))
    chosen.pop(intent.actor_id, None)
    return [(r, k) for r, k in chosen.values() if visible_to(r, thread, message)]


async def recipients(intent: NotificationIntent) -> list[tuple[User, str]]:
    """Return (user, kind) pairs an intent notifies, before preferences and quiet hours."""
    found = await candidates(intent)
    users = await User.in_bulk([reader.id for reader, _ in found], "id")
    return [(users[reader.id], kinds[0]) for reader, kinds in found]


def _clock(value: str) -> time:
    hours, minutes = value.split(":", 1)
    return time(int(hours), int(minutes))


def in_quiet_hours(prefs: NotificationSettings, now: datetime) -> bool:
    """Tell whether `now` falls in the user's quiet hours, in the user's own time zone."""
    if not prefs.quiet_hours:
        return False
    try:
        local = now.astimezone(ZoneInfo(prefs.time_zone)).time()
        start, end = _clock(prefs.quiet_start), _clock(prefs.quiet_end)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    if start <= end:
        return start <= local < end
    return local >= start or local < end  # spans midnight, e.g. 22:00–07:00


def first_wanted(
    prefs: NotificationSettings | None, kinds: tuple[str, ...], now: datetime
) -> str | None:
    """Return the first of the kinds the user's preferences let through now, if any."""
    return next((kind for kind in kinds if wants(prefs, kind, now)), None)


def wants(prefs: NotificationSettings | None, kind: str, now: datetime) -> bool:
    """Apply a user's preferences for one kind of notification at this moment."""
    if prefs is None:
        return True
    enabled = {
        "reply": prefs.replies,
        "mention": prefs.mentions,
        "status": prefs.status_changes,
        "moderation": prefs.moderation,
        "test": True,
    }.get(kind, True)
    if not enabled:
        return False
    if kind == "test" or not in_quiet_hours(prefs, now):
        return True
    return kind in URGENT_KINDS and prefs.urgent_in_quiet_hours
