"""Spaces: staff make them, join them (and so follow what is posted in them), and leave."""

from __future__ import annotations

import contextlib

from tortoise.exceptions import IntegrityError

from server.actions.sanctions import require_voice
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.i18n import N_
from server.models import Space, SpaceMember, Team, User
from server.spaces import space_for
from server.text import has_control_character

NAME_MAX_CHARS = 60
DESCRIPTION_MAX_CHARS = 300


def clean_name(name: object) -> str:
    text = " ".join(name.split()) if isinstance(name, str) else ""
    if not text:
        raise ActionError("empty_title", N_("the space needs a name"))
    if has_control_character(text) or len(text) > NAME_MAX_CHARS:
        raise ActionError(
            "invalid", N_("a space's name is at most {limit} characters of text"),
            limit=NAME_MAX_CHARS,
        )  # fmt: skip
    return text


async def create_space(
    actor: User, name: object, description: object = "", team: object = None,
    company: bool = False,
) -> Space:  # fmt: skip
    """Make a space (any employee may). `team`: a team's own space; `company`: the whole
    company's, everyone on staff belongs."""
    if not actor.is_staff:
        raise Forbidden(N_("only staff can make spaces"))
    require_voice(actor)
    clean = clean_name(name)
    about = " ".join(description.split())[:DESCRIPTION_MAX_CHARS] if isinstance(
        description, str) else ""  # fmt: skip
    team_id = None
    if team:
        found = (
            await Team.get_or_none(id=team) if isinstance(team, str) and len(team) <= 16 else None
        )
        if found is None:
            raise NotFound(N_("team not found"))
        team_id = found.id
    try:
        space = await Space.create(name=clean, description=about, team_id=team_id,
                                   company=company, created_by_id=actor.id)  # fmt: skip
    except IntegrityError:
        raise Conflict(N_("a space called {name!r} exists already"), name=clean) from None
    await SpaceMember.create(space_id=space.id, user_id=actor.id)  # who makes it follows it
    return space


async def join_space(actor: User, space_id: object, join: bool) -> bool:
    """Join (follow what is posted from now on) or leave a space; return whether a member."""
    space = await space_for(actor, space_id)
    if space is None:
        raise NotFound(N_("space not found"))
    if join:
        with contextlib.suppress(IntegrityError):  # joined already (another tab)
            await SpaceMember.create(space_id=space.id, user_id=actor.id)
    else:
        await SpaceMember.filter(space_id=space.id, user_id=actor.id).delete()
    return join
