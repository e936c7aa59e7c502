"""@mentions: who a text names, whether they may read where it is written, and who to offer.

A person's handle is their e-mail's local part (`@jan`), a team's its name in lower case with
dashes (`@field-service`, its staff members). Push (push/audiences.py) finds the same people
from the same rules; the send path refuses a mention of someone who could not read the message
(a customer in a staff note or an internal thread, a closed account), so nobody is told of a
thread they cannot open and the writer learns why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.connection import get_connection
from tortoise.expressions import Q

from server.adapters.tortoise import columns_of, from_row
from server.markdown import MENTION_RE
from server.models import Audience, Mention, Message, Role, Thread, User, Visibility
from server.queries import visible_to
from server.txscript import dialect_sql

OFFERED_MAX = 8  # autocomplete suggestions: a phone shows this many without scrolling


def handle_of(user: User) -> str:
    """Return the @handle people use to mention a user: the e-mail's local part."""
    return user.email.split("@", 1)[0].lower()


def team_handle(team: str) -> str:
    return "-".join(team.lower().split())


def mention_names(text: str) -> set[str]:
    """Return the @names a text mentions, lowercased (handles or team handles)."""
    if "@" not in text:
        return set()
    return {m.lower().rstrip("._-") for m in MENTION_RE.findall(text)}


async def staff_teams() -> list[str]:
    """Return the names of the teams staff belong to."""
    found = User.exclude(role=Role.CUSTOMER).exclude(team="").distinct()
    return [team for (team,) in await found.values_list("team")]


async def mention_query(names: set[str]) -> Q | None:
    """Return a filter on users for these @names (by handle or team), None when none can
    match; two queries at most, and no staff list built as models."""
    if not names:
        return None
    query = Q(*[Q(email__istartswith=name + "@") for name in names], join_type="OR")
    teams = [team for team in await staff_teams() if team_handle(team) in names]
    if teams:
        query |= Q(team__in=teams) & ~Q(role=Role.CUSTOMER)
    return query


async def mentioned(text: str) -> list[User]:
    """Return the users a text mentions, by @handle or @team (closed accounts included), in
    one statement: the send path pays for it whenever a text has an @word."""
    names = sorted(mention_names(text))
    if not names:
        return []
    conn = get_connection("default")
    by_handle = " OR ".join("LOWER(email) LIKE ? ESCAPE '!'" for _ in names)
    by_team = ", ".join("?" for _ in names)
    sql = (
        f"SELECT {columns_of(User)} FROM {User._meta.db_table} WHERE {by_handle} "  # noqa: S608
        "OR (role <> ? AND team <> '' "
        f"AND REPLACE(LOWER(team), ' ', '-') IN ({by_team}))"
    )  # team_handle() in SQL; LOWER() folds ASCII only, as team names here are
    likes = [re.sub(r"([!%_])", r"!\1", name) + "@%" for name in names]
    rows = await conn.execute_query_dict(
        dialect_sql(conn, sql), [*likes, Role.CUSTOMER.value, *names]
    )
    return [from_row(User, row) for row in rows]


def may_read(user: User, thread: Thread, audience: Audience) -> bool:
    """Tell whether a mentioned person could open what mentions them."""
    if not user.is_active:
        return False
    if user.is_staff:
        return True
    return (
        audience == Audience.ALL
        and thread.visibility == Visibility.PUBLIC
        and (thread.hidden_at is None or thread.author_id == user.id)
    )


@dataclass(frozen=True)
class Unreachable:
    """A mentioned person who could not read the message, and why (for the writer)."""

    user: User
    closed: bool  # their account is closed; else the place is staff only


async def mentions_in(
    people: list[User], thread: Thread | None, audience: Audience
) -> tuple[list[User], list[Unreachable]]:
    """Return which of the people a text mentions may read it, and who may not."""
    reach: list[User] = []
    miss: list[Unreachable] = []
    for user in people:
        if thread is not None and may_read(user, thread, audience):
            reach.append(user)
        else:
            miss.append(Unreachable(user, closed=not user.is_active))
    return reach, miss


async def offered(
    thread: Thread, audience: Audience, prefix: str, asker: User
) -> list[dict[str, object]]:
    """Return people and teams to offer for an @ being typed in a thread: staff and staff
    teams always; to staff, also customers who wrote in it, where customers can read. A
    handle is an e-mail's local part: one customer is never shown another's."""
    prefix = prefix.lower().lstrip("@")[:40]
    found: list[dict[str, object]] = []
    customers_read = (
        asker.is_staff and audience == Audience.ALL and thread.visibility == Visibility.PUBLIC
    )
    # Who wrote what customers can read there: not a post still held, hidden or deleted.
    writers = Message.filter(
        thread_id=thread.id, audience=Audience.ALL, held_at__isnull=True,
        hidden_at__isnull=True, deleted_at__isnull=True,
    ).values_list("author_id", flat=True)  # fmt: skip
    who = Q(deactivated_at__isnull=True) & ~Q(id=asker.id)
    by_name = Q(email__istartswith=prefix) | Q(display_name__istartswith=prefix)
    if prefix:
        by_name |= Q(display_name__icontains=" " + prefix)
    readers = ~Q(role=Role.CUSTOMER)
    if customers_read:
        readers |= Q(id__in=list(set(await writers)))
    people = await User.filter(who & by_name & readers).order_by("display_name").limit(OFFERED_MAX)
    for user in people:
        found.append({
            "handle": handle_of(user), "name": user.display_name, "staff": user.is_staff,
            "team": user.team if user.is_staff else "",
        })  # fmt: skip
    for team in sorted(await staff_teams()):
        handle = team_handle(team)
        if handle.startswith(prefix) and len(found) < OFFERED_MAX:
            found.append({"handle": handle, "name": team, "staff": True, "team": team})
    return found[:OFFERED_MAX]


MENTIONS_PAGE = 50


async def mentions_of(user: User, limit: int = MENTIONS_PAGE) -> list[Mention]:
    """Return a user's newest mentions in what they may still read (a message since hidden,
    deleted or moved into a staff note drops out), with message, author and thread."""
    found = (
        await Mention.filter(user_id=user.id)
        .order_by("-id")
        .limit(limit)
        .prefetch_related("message__author", "thread")
    )
    return [m for m in found if visible_to(user, m.thread, m.message)]


async def unread_mentions(user: User) -> int:
    """Count a user's unread mentions in messages that still have their text and they may
    read (a customer's count leaves out a post still held for review)."""
    found = Mention.filter(
        user_id=user.id, read_at__isnull=True, message__deleted_at__isnull=True,
        message__hidden_at__isnull=True,
    )  # fmt: skip
    if not user.is_staff:
        found = found.filter(message__held_at__isnull=True)
    return await found.count()
