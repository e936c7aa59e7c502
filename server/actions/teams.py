"""Teams, managed by admins: questions are routed to a team, saved replies shared in it.

A team's members are the employees whose `User.team` is its name (the admin page sets it), so
`@team` mentions and staff badges keep working as they did before teams were data.
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError

from server.errors import ActionError, Conflict, Forbidden
from server.i18n import N_
from server.models import Role, Team, User
from server.queries import is_id

TEAM_NAME_MAX_CHARS = 60  # as User.team


async def create_team(actor: User, name: object, lead: object = None) -> Team:
    """Add a team (admins only), with an optional lead who hears of escalations."""
    if actor.role != Role.ADMIN or not actor.is_active:
        raise Forbidden(N_("only an admin may manage teams"))
    if not isinstance(name, str) or not " ".join(name.split()):
        raise ActionError("empty_name", N_("the team needs a name"))
    clean = " ".join(name.split())
    if len(clean) > TEAM_NAME_MAX_CHARS:
        raise ActionError(
            "name_too_long", N_("the name is {length} characters; the limit is {limit}"),
            length=len(clean), limit=TEAM_NAME_MAX_CHARS,
        )  # fmt: skip
    leader = None
    if lead not in (None, ""):
        leader = await User.get_or_none(id=lead) if is_id(lead) else None
        if leader is None or not leader.is_staff:
            raise ActionError("invalid_lead", N_("a team's lead must be an employee"))
    try:
        return await Team.create(name=clean, lead_id=leader.id if leader else None)
    except IntegrityError:
        raise Conflict(N_("there is a team called {name!r} already"), name=clean) from None
