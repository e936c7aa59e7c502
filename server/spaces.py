"""Spaces as staff see them (customers see none): who belongs, and what is in them."""

from __future__ import annotations

from tortoise.expressions import Q

from server.models import Role, Space, SpaceMember, Team, Thread, User
from server.queries import is_id

SPACE_THREADS = 50


async def spaces_for(user: User) -> list[Space]:
    """Every space, by name, for staff; none for customers."""
    if not user.is_staff:
        return []
    return await Space.all().order_by("-company", "name").prefetch_related("team")


async def space_for(user: User, space_id: object) -> Space | None:
    """Return a space for staff, or None (missing, or a customer asking)."""
    if not user.is_staff or not is_id(space_id):
        return None
    return await Space.get_or_none(id=space_id).prefetch_related("team")


async def members_of(space: Space) -> list[User]:
    """Who belongs: everyone who joined, and the team's staff for a team's space (everyone on
    staff belongs to the company's space; it lists those who joined)."""
    joined = SpaceMember.filter(space_id=space.id).values_list("user_id", flat=True)
    who = Q(id__in=list(await joined))
    team = await Team.get_or_none(id=space.team_id) if space.team_id else None
    if team is not None:
        who |= Q(team=team.name) & ~Q(role=Role.CUSTOMER)
    return await User.filter(who, deactivated_at__isnull=True).order_by("display_name")


async def joined(user: User, space: Space) -> bool:
    return await SpaceMember.exists(space_id=space.id, user_id=user.id)


async def joined_ids(user: User) -> set[str]:
    found = SpaceMember.filter(user_id=user.id).values_list("space_id", flat=True)
    return {str(space_id) for space_id in await found}


async def threads_in(space: Space, limit: int = SPACE_THREADS) -> list[Thread]:
    """A space's threads and posts, most recently active first, with their authors."""
    found = Thread.filter(space_id=space.id).order_by("-staff_activity_at").limit(limit)
    return await found.prefetch_related("author")
