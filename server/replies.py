"""Saved replies, for staff: the ones an employee may insert (their own and their team's), and
a reply's text filled in for the thread it goes into.

A reply may hold placeholders, filled in from the thread: `{first_name}` (the asker's first
name) and `{title}` (the thread's title). Any other `{…}` is refused when the reply is saved.
"""

from __future__ import annotations

import re

from tortoise.expressions import Q

from server.desk import team_of
from server.models import SavedReply, Thread, User

PLACEHOLDERS = ("first_name", "title")  # what fill() knows; the form's hint lists them
PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
REPLIES_SHOWN_MAX = 20  # the composer's list: an employee types more, not scrolls
QUERY_MAX_CHARS = 80  # as long as a title: a longer search finds nothing anyway


def unknown_placeholders(body: str) -> list[str]:
    """Return the `{names}` in a body that fill() would not know, in order."""
    return [name for name in PLACEHOLDER_RE.findall(body) if name not in PLACEHOLDERS]


async def replies_for(user: User, query: str = "") -> list[SavedReply]:
    """Return the saved replies an employee may use whose title or body contains `query`."""
    if not user.is_staff:
        return []
    mine = Q(owner_id=user.id)
    team = await team_of(user)
    if team is not None:
        mine |= Q(team_id=team.id)
    found = SavedReply.filter(mine)
    query = query.strip()[:QUERY_MAX_CHARS]
    if query:
        found = found.filter(Q(title__icontains=query) | Q(body__icontains=query))
    return await found.order_by("title", "id").limit(REPLIES_SHOWN_MAX)


def fill(reply_body: str, thread: Thread, asker: User) -> str:
    """Return a reply's body with its placeholders filled in for a thread and its asker."""
    names = asker.display_name.split()
    values = {"first_name": names[0] if names else "", "title": thread.title}
    return PLACEHOLDER_RE.sub(lambda m: values.get(m.group(1), m.group(0)), reply_body)


async def choices(user: User, thread: Thread, query: str = "") -> list[tuple[SavedReply, str]]:
    """Return the replies an employee may use in a thread, each with its text filled in."""
    asker = await User.get(id=thread.author_id)
    return [(r, fill(r.body, thread, asker)) for r in await replies_for(user, query)]
