"""@mentions: refuse one that would reach nobody, record the rest, mark them read."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from inspect import isawaitable

from server.adapters.tortoise import new_row
from server.errors import ActionError
from server.i18n import N_
from server.mentions import handle_of, mention_names, mentioned, mentions_in
from server.models import Audience, Mention, Message, Thread, User
from server.protocol import Mentioned, encode
from server.publisher import Change
from server.txscript import Script


@dataclass(frozen=True)
class Mentions:
    """Who a text mentions: the people to tell (not its author), and each mentioned
    person's handle with their id, to link them in the rendered text."""

    ids: list[str] = field(default_factory=list)
    links: dict[str, str] = field(default_factory=dict)


async def checked_mentions(
    text: str,
    thread: Thread | Callable[[], Awaitable[Thread | None]] | None,
    audience: Audience,
    author: User,
) -> Mentions:
    """Return who a text mentions; refuse it, naming the person, if one of them could not
    read it (the writer can see the thread; the person learns nothing). `thread` may be a
    loader: it is read only when the text does name someone."""
    people = await mentioned(text) if "@" in text else []
    if not people:
        return Mentions()
    place = thread() if callable(thread) else thread
    reach, miss = await mentions_in(people, await place if isawaitable(place) else place, audience)
    for unreachable in miss:
        if unreachable.user.id == author.id:
            continue
        name = unreachable.user.display_name
        if unreachable.closed:
            raise ActionError(
                "mention_unreachable",
                N_("{name}’s account is closed, so the mention would reach nobody. "
                   "Write the name without @."),
                name=name,
            )  # fmt: skip
        raise ActionError(
            "mention_unreachable",
            N_("{name} cannot read this (it is for staff only), so they would not see the "
               "mention. Write the name without @, or answer in public."),
            name=name,
        )  # fmt: skip
    names = mention_names(text)
    return Mentions(
        ids=[user.id for user in reach if user.id != author.id],
        links={handle_of(u): u.id for u in reach if handle_of(u) in names},
    )


def record_mentions(
    change: Change, message: Message, user_ids: Collection[str], now: datetime
) -> Script[None]:
    """Add each mentioned person's Mention of a message (once, whatever the retries), and
    tell their open apps after commit (not of a post held for review: not yet)."""
    for user_id in user_ids:
        sql, params = new_row(
            Mention, user_id=user_id, message_id=message.id, thread_id=message.thread_id,
            created_at=now,
        )  # fmt: skip
        added = yield sql + " ON CONFLICT (user_id, message_id) DO NOTHING RETURNING id", params
        if added and message.held_at is None:
            frame = encode(Mentioned(thread=message.thread_id, message=message.id))
            change.notices.append((f"user:{user_id}", {"any": frame}))


async def read_mentions(user: User, up_to: int) -> int:
    """Mark a user's mentions up to an id as read (they have seen the list); return how many."""
    return await Mention.filter(user_id=user.id, id__lte=up_to, read_at__isnull=True).update(
        read_at=datetime.now(UTC)
    )
