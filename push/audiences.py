"""Finding the people a notification kind may reach: followers, mentioned people, moderators.

Each finder returns the candidates of one intent, each with the kinds it could be for them,
most specific first (a mentioned follower: mention, then reply). Notification kinds name
their finder (push/kinds.py); push/recipients.py then leaves out the person who acted and
anyone who may not see the thread or message.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from server.idea_workflow import watchers
from server.mentions import mentioned as mentioned_in
from server.models import (
    Follow,
    FollowState,
    Message,
    NotificationIntent,
    Role,
    Team,
    Thread,
    User,
)


@dataclass(frozen=True, slots=True)
class Reader:
    """Who may hear about an intent: just what visibility needs, no ORM object (an intent
    on a thread with thousands of followers must not build thousands of models)."""

    id: str
    role: Role

    @property
    def is_staff(self) -> bool:
        return self.role != Role.CUSTOMER


Chosen = dict[str, tuple[Reader, tuple[str, ...]]]
"""user id -> (who, the kinds it could be for them, most specific first)."""

Finder = Callable[[NotificationIntent, Thread, Message | None], Awaitable[Chosen]]


async def mentioned(message: Message) -> list[User]:
    """Return the users a message mentions, by @handle or @team (server/mentions.py)."""
    return await mentioned_in(message.body)


def followers(kind: str) -> Finder:
    """Everyone who followed the thread when it happened hears of it as `kind`."""

    async def find(intent: NotificationIntent, thread: Thread, message: Message | None) -> Chosen:
        # Who followed when it happened: a worker that runs late must not tell someone who
        # started following afterwards about news from before.
        follows = Follow.filter(
            thread_id=thread.id, state=FollowState.FOLLOWING, created_at__lte=intent.created_at
        )
        return {
            user_id: (Reader(user_id, Role(role)), (kind,))
            for user_id, role in await follows.values_list("user_id", "user__role")
        }

    return find


def followers_and_mentioned(kind: str, mention: str) -> Finder:
    """Followers hear of a message as `kind`; people it mentions as `mention`, even in a
    thread they muted (a follower who turned mentions off still hears of the message)."""
    of_followers = followers(kind)

    async def find(intent: NotificationIntent, thread: Thread, message: Message | None) -> Chosen:
        chosen = await of_followers(intent, thread, message)
        if message is not None:
            for user in await mentioned(message):
                _, kinds = chosen.get(user.id, (None, ()))
                chosen[user.id] = (Reader(user.id, user.role), (mention, *kinds))
        return chosen

    return find


def moderators(kind: str) -> Finder:
    """Every moderator and admin hears of it as `kind`."""

    async def find(intent: NotificationIntent, thread: Thread, message: Message | None) -> Chosen:
        people = User.filter(role__in=[Role.MODERATOR, Role.ADMIN]).values_list("id", "role")
        return {user_id: (Reader(user_id, Role(role)), (kind,)) for user_id, role in await people}

    return find


STAFF_ROLES = (Role.EMPLOYEE, Role.MODERATOR, Role.ADMIN)


async def _staff(kind: str, **where: object) -> Chosen:
    people = User.filter(role__in=STAFF_ROLES, deactivated_at__isnull=True, **where)
    return {
        user_id: (Reader(user_id, Role(role)), (kind,))
        for user_id, role in await people.values_list("id", "role")
    }


async def _team_members(kind: str, team_id: str | None) -> Chosen:
    team = await Team.get_or_none(id=team_id) if team_id else None
    return await _staff(kind, team=team.name) if team is not None else {}


def team_or_everyone(kind: str) -> Finder:
    """A new question: the staff of its team, or all staff when it has none (each person's
    working hours then keep it from those off duty: push/recipients.py)."""

    async def find(intent: NotificationIntent, thread: Thread, message: Message | None) -> Chosen:
        if thread.team_id:
            return await _team_members(kind, thread.team_id)
        return await _staff(kind)

    return find


def assignee_or_team(kind: str) -> Finder:
    """An assignment: the employee it names, else the members of the team it names."""

    async def find(intent: NotificationIntent, thread: Thread, message: Message | None) -> Chosen:
        if thread.assignee_id:
            return await _staff(kind, id=thread.assignee_id)
        return await _team_members(kind, thread.team_id)

    return find


def moderators_and_lead(kind: str) -> Finder:
    """An escalation: every moderator and admin, and the lead of the question's team."""
    of_moderators = moderators(kind)

    async def find(intent: NotificationIntent, thread: Thread, message: Message | None) -> Chosen:
        chosen = await of_moderators(intent, thread, message)
        team = await Team.get_or_none(id=thread.team_id) if thread.team_id else None
        if team is not None and team.lead_id:
            chosen.update(await _staff(kind, id=team.lead_id))
        return chosen

    return find


def voters_and_followers(kind: str) -> Finder:
    """An idea's news: its voters and its thread's followers, minus whoever muted it."""

    async def find(intent: NotificationIntent, thread: Thread, message: Message | None) -> Chosen:
        people = await watchers(thread.id, intent.created_at)
        return {user_id: (Reader(user_id, role), (kind,)) for user_id, role in people.items()}

    return find
