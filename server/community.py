"""Community answers, read: "Helpful" counts on a thread's messages, and a person's
recognition (accepted answers, helpful marks, badges).

A person's recognition is public: it counts only what everyone may see (public replies in
public threads, neither deleted, hidden nor held), so a profile tells no one about staff notes
or internal threads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tortoise.connection import get_connection
from tortoise.expressions import Q

from server.adapters.tortoise import column_of, table_of
from server.models import (
    Audience,
    Helpful,
    Message,
    Thread,
    ThreadKind,
    User,
    Visibility,
)
from server.txscript import dialect_sql

# Badges by accepted answers, highest first. One accepted answer is worth celebrating (the
# first time a customer helps another); five is a regular; twenty-five answers more questions
# than a new employee does in their first months.
BADGES: tuple[tuple[int, str], ...] = ((25, "expert"), (5, "helper"), (1, "first_answer"))


@dataclass(frozen=True)
class HelpfulCount:
    """How many people found a message helpful, and (for one viewer) whether they did: `mine`
    None is a rendering shared by many viewers, which names nobody's choice."""

    message_id: str
    thread_id: str
    author_id: str
    audience: Audience  # the message's: a staff note's count reaches staff alone
    count: int = 0
    mine: bool | None = None


@dataclass(frozen=True)
class Recognition:
    """What a person's public profile says of their help to others."""

    accepted: int = 0  # public questions whose accepted answer is theirs
    helpful: int = 0  # marks on their public replies
    badges: tuple[str, ...] = ()  # earned, highest first

    @property
    def badge(self) -> str | None:
        """The highest badge earned (shown beside their name on an accepted answer)."""
        return self.badges[0] if self.badges else None


def badges_for(accepted: int) -> tuple[str, ...]:
    """The badges a number of accepted answers earns, highest first."""
    return tuple(name for threshold, name in BADGES if accepted >= threshold)


def _shown(prefix: str) -> Q:
    """A message everyone may read, in a thread everyone may read (`prefix`: the path to the
    message from the queried model, "" for Message itself)."""
    p = f"{prefix}__" if prefix else ""
    filters: dict[str, Any] = {
        f"{p}audience": Audience.ALL,
        f"{p}deleted_at__isnull": True,
        f"{p}hidden_at__isnull": True,
        f"{p}held_at__isnull": True,
        f"{p}thread__visibility": Visibility.PUBLIC,
        f"{p}thread__hidden_at__isnull": True,
    }
    return Q(**filters)


async def accepted_answers(person_id: str) -> int:
    """Count public questions whose accepted answer is this person's visible reply."""
    return await Thread.filter(
        _shown("answer"), kind=ThreadKind.QUESTION, answer__author_id=person_id
    ).count()


async def recognition(person_id: str) -> Recognition:
    """A person's accepted answers, helpful marks and badges, as anyone may see them."""
    accepted = await accepted_answers(person_id)
    helpful = await Helpful.filter(_shown("message"), message__author_id=person_id).count()
    return Recognition(accepted, helpful, badges_for(accepted))


async def helpful_counts(viewer: User, messages: Sequence[Message]) -> dict[str, HelpfulCount]:
    """Each message's helpful count and whether the viewer marked it, in one query."""
    ids = [m.id for m in messages]
    found: dict[str, tuple[int, bool]] = {}
    if ids:
        table = table_of(Helpful)
        message, user = column_of(Helpful, "message_id"), column_of(Helpful, "user_id")
        sql = (
            f'SELECT "{message}" AS message_id, COUNT(*) AS n, '  # noqa: S608
            f'SUM(CASE WHEN "{user}" = ? THEN 1 ELSE 0 END) AS mine FROM "{table}" '
            f'WHERE "{message}" IN ({", ".join("?" * len(ids))}) GROUP BY "{message}"'
        )
        conn = get_connection("default")
        for row in await conn.execute_query_dict(dialect_sql(conn, sql), [viewer.id, *ids]):
            found[row["message_id"]] = (int(row["n"]), bool(row["mine"]))
    return {
        m.id: HelpfulCount(m.id, m.thread_id, m.author_id, m.audience, *found.get(m.id, (0, False)))
        for m in messages
    }


async def first_message_id(thread_id: str) -> str | None:
    """The id of a thread's first message: the question itself, never its answer."""
    first = await Message.filter(thread_id=thread_id).order_by("seq", "created_at").first()
    return first.id if first is not None else None
