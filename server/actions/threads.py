"""Starting threads and changing their title or status."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar

from push.api import QUESTION, REPLY, STATUS
from server import sql
from server.actions.desk import notify_desk, on_desk, status_fields, team_by_id
from server.actions.mentions import checked_mentions, record_mentions
from server.actions.messages import clean_client_id
from server.actions.reviews import HELD_THREAD, hold, should_hold
from server.actions.sanctions import require_voice
from server.actions.writes import follow, intend, record
from server.adapters.tortoise import insert, update
from server.errors import ActionError, Forbidden, NotFound
from server.events import messages, threads
from server.i18n import N_
from server.ideas import clean_tags
from server.markdown import clean_body, render
from server.models import (
    Audience,
    Idea,
    IdeaTag,
    Message,
    Thread,
    ThreadKind,
    ThreadStatus,
    User,
    Visibility,
)
from server.payloads import TITLE_MAX_CHARS
from server.publisher import Change, Publisher
from server.queries import message_by_client_id, thread_for
from server.spaces import space_for
from server.terms import terms
from server.text import has_control_character
from server.txscript import Script, run_transaction


def clean_title(title: object) -> str:
    if not isinstance(title, str) or not title.strip():
        raise ActionError("empty_title", N_("the title is empty"))
    text = " ".join(title.split())
    if has_control_character(text):
        raise ActionError("invalid_title", N_("the title contains a control character"))
    if len(text) > TITLE_MAX_CHARS:
        raise ActionError(
            "title_too_long",
            N_("the title is {length} characters; the limit is {limit}"),
            length=len(text),
            limit=TITLE_MAX_CHARS,
        )
    return text


E = TypeVar("E", ThreadKind, Visibility, ThreadStatus)


def _enum(kind: type[E], value: object, what: str) -> E:
    try:
        return kind(str(value))
    except ValueError:
        allowed = ", ".join(v.value for v in kind)
        raise ActionError(
            f"invalid_{what}",
            N_("{field} must be one of {allowed}, not {value!r:.40}"),
            field=what,
            allowed=allowed,
            value=value,
        ) from None


def _start(
    change: Change, thread: Thread, first: Message, now: datetime, mentioned: list[str],
    idea: Idea | None = None, tags: Sequence[str] = (),
) -> Script[None]:  # fmt: skip
    yield insert(thread)
    if idea is not None:  # a thread of kind idea has its Idea, however it was started
        yield insert(idea)
        for tag in tags:
            yield insert(IdeaTag(idea_id=idea.id, tag=tag))
    yield from record(change, messages.CREATED, thread.id, first, now, new_message=first)
    yield from follow(thread.author_id, thread.id, now)
    if thread.space_id is not None:  # who joined the space follows what is posted in it
        yield from sql.follow_space(thread.id, thread.space_id, now)
    yield from record_mentions(change, first, mentioned, now)
    if first.held_at is not None:  # a newcomer's thread: only moderators hear of it
        yield from hold(change, thread, first, now)
        return
    # Followers are only the author yet, but the first message may mention people.
    yield from intend(change, REPLY, thread.id, thread.author_id, now, message_id=first.id)
    if thread.waiting_since is not None:  # a customer asks: the desk hears of it
        yield from intend(change, QUESTION, thread.id, thread.author_id, now, message_id=first.id)
        notify_desk(change, thread.id)


async def start_thread(
    publisher: Publisher,
    author: User,
    title: object,
    body: object,
    client_id: object,
    kind: object = ThreadKind.QUESTION.value,
    visibility: object = Visibility.PUBLIC.value,
    team: object = None,
    space: object = None,
    *,
    tags: object = None,
    source: str | None = None,
    author_override: User | None = None,
) -> tuple[Thread, Message, bool]:
    """Open a thread with its first message; a retried start returns the first thread.
    In a `space` (staff only) it is internal, and the space's members follow it. An idea
    (kind `idea`, public) gets its Idea row and `tags`; staff may open one in the name of
    `author_override`, from the message `source` (promoting it)."""
    clean = clean_title(title)
    text = clean_body(body)
    cid = clean_client_id(client_id)
    require_voice(author)
    thread_kind = _enum(ThreadKind, kind, "kind")
    vis = _enum(Visibility, visibility, "visibility")
    is_idea = thread_kind == ThreadKind.IDEA
    idea_tags = clean_tags(tags) if is_idea else []
    if is_idea and (vis != Visibility.PUBLIC or space):
        raise ActionError("invalid", N_("an idea is public: it cannot be internal or in a space"))
    if author_override is not None and not (is_idea and author.is_staff):
        raise Forbidden(N_("only staff can open an idea in someone else's name"))
    actor, author = author, author_override or author
    in_space = await space_for(author, space) if space else None
    if space and in_space is None:
        raise NotFound(N_("space not found"))  # customers see no space
    if in_space is not None:
        vis = Visibility.INTERNAL
    if thread_kind == ThreadKind.POST and in_space is None:
        raise ActionError("invalid", N_("a post belongs in a space"))
    if vis == Visibility.INTERNAL and not author.is_staff:
        raise Forbidden(N_("only staff can start internal threads"))
    chosen = await team_by_id(team)
    earlier = await message_by_client_id(author, cid)
    if earlier is not None:
        await earlier.fetch_related("thread")
        return earlier.thread, earlier, False
    now = datetime.now(UTC)
    thread = Thread(
        title=clean, terms=terms(clean), kind=thread_kind, visibility=vis, author_id=author.id,
        created_at=now,
        staff_activity_at=now, public_activity_at=now,
        team_id=chosen.id if chosen else None, space_id=in_space.id if in_space else None,
    )  # fmt: skip
    if on_desk(thread) and not author.is_staff:
        thread.waiting_since = now  # on the desk's queue until staff answer
    mentioned = await checked_mentions(text, thread, Audience.ALL, author)
    html = render(text, mentioned.links)
    await publisher.policy.admit(actor, html, now)  # who writes now: limits, links
    # Staff promoting a message let it out: only a newcomer's own thread waits for approval.
    held = (
        vis == Visibility.PUBLIC and actor is author
        and await should_hold(publisher.policy, author)
    )  # fmt: skip
    if held:  # its author and staff see it until a moderator approves its first post
        thread.hidden_at, thread.hidden_reason = now, HELD_THREAD
    first = Message(
        thread_id=thread.id, author_id=author.id, client_id=cid, audience=Audience.ALL,
        body=text, html=html, terms=terms(text), created_at=now, held_at=now if held else None,
    )  # fmt: skip
    first.author = author
    idea = Idea(thread_id=thread.id, source_id=source, created_at=now, status_changed_at=now)
    change = Change()
    await run_transaction(
        _start(change, thread, first, now, mentioned.ids, idea if is_idea else None, idea_tags)
    )
    await publisher.publish(change)
    return change.events[0].thread, first, True


def _update(
    change: Change, actor: User, thread: Thread, fields: tuple[str, ...], now: datetime
) -> Script[None]:
    yield update(thread, fields)
    yield from record(change, threads.UPDATED, thread.id, thread, now)
    if "status" in fields:
        yield from intend(change, STATUS, thread.id, actor.id, now)
        notify_desk(change, thread.id)


async def update_thread(
    publisher: Publisher,
    actor: User,
    thread_id: object,
    title: object = None,
    status: object = None,
) -> Thread:
    """Change a thread's title and/or status (its author or staff)."""
    thread = await thread_for(actor, thread_id)
    if thread is None:
        raise NotFound()
    if thread.author_id != actor.id and not actor.is_staff:
        raise Forbidden(N_("only the author or staff can change this thread"))
    wanted: dict[str, object] = {}
    if title is not None:
        wanted["title"] = clean_title(title)
    if status is not None:
        wanted["status"] = _enum(ThreadStatus, status, "status")
    changed = tuple(k for k, v in wanted.items() if getattr(thread, k) != v)
    if not changed:
        return thread
    now = datetime.now(UTC)
    if "status" in changed:
        changed = tuple(k for k in changed if k != "status")
        changed += status_fields(thread, wanted["status"], now)  # type: ignore[arg-type]
    if "title" in changed:
        thread.title = wanted["title"]  # type: ignore[assignment]
        thread.terms = terms(thread.title)
        changed += ("terms",)
    change = Change()
    await run_transaction(_update(change, actor, thread, changed, now))
    await publisher.publish(change)
    return change.events[0].thread
