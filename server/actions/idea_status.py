"""Staff move ideas along: a new status, and merging a duplicate into another idea
(server/idea_workflow.py says which moves are allowed; turning a customer's message into an
idea is server/actions/idea_promote.py).

Each status change and each merge posts an official staff response into the idea's thread
(marked as its official answer), records `idea.changed` so viewers and the board update live,
and tells the idea's voters and followers: a toast in the open app (`IdeaNews` on their
`user:` channel) and a push (IDEA_STATUS).
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from push.api import IDEA_STATUS
from server.actions.ideas import changed
from server.actions.writes import advance_read, follow, intend, record
from server.adapters.tortoise import update
from server.community import recognition
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.events import desk, messages
from server.i18n import N_, gettext_for
from server.idea_workflow import LABELS, allowed, watchers
from server.ideas import IdeaState, idea_state
from server.markdown import clean_body, render
from server.models import (
    Audience,
    Follow,
    FollowState,
    Idea,
    IdeaStatus,
    IdeaVote,
    Message,
    Role,
    Thread,
    User,
    Visibility,
    new_id,
)
from server.protocol import IdeaNews, encode
from server.publisher import Change, Publisher
from server.queries import is_id, thread_for
from server.terms import terms
from server.text import has_control_character
from server.txscript import Script, run_transaction

REASON_MAX_CHARS = 500  # the column (Idea.reason)
_LINK_SPECIALS = re.compile(r"([\\\[\]()*_`<>])")


# -- reading what staff asked for -------------------------------------------------------------


async def _staff_idea(actor: User, thread_id: object) -> tuple[Thread, Idea]:
    thread = await thread_for(actor, thread_id)
    if thread is None:  # first: a hidden thread answers as a missing one, for anyone
        raise NotFound()
    if not actor.is_staff:
        raise Forbidden(N_("only staff can do this"))
    idea = await Idea.get_or_none(thread_id=thread.id)
    if idea is None:
        raise ActionError("not_an_idea", N_("{title!r:.60} is not an idea"), title=thread.title)
    return thread, idea


def _status(value: object) -> IdeaStatus:
    try:
        return IdeaStatus(str(value))
    except ValueError:
        allowed_values = ", ".join(s.value for s in IdeaStatus if s != IdeaStatus.DUPLICATE)
        raise ActionError(
            "invalid_status",
            N_("the status must be one of {allowed}, not {value!r:.40}"),
            allowed=allowed_values,
            value=value,
        ) from None


def _reason(value: object) -> str:
    text = " ".join(value.split()) if isinstance(value, str) else ""
    if not text:
        raise ActionError("reason_required", N_("declining an idea needs a reason"))
    if has_control_character(text):
        raise ActionError("invalid_reason", N_("the reason contains a control character"))
    if len(text) > REASON_MAX_CHARS:
        raise ActionError(
            "reason_too_long",
            N_("the reason is {length} characters; the limit is {limit}"),
            length=len(text),
            limit=REASON_MAX_CHARS,
        )
    return text


def _optional_text(value: object) -> str:
    return clean_body(value) if isinstance(value, str) and value.strip() else ""


def thread_id_in(value: object) -> str:
    """The thread id a form names: an id, or a link to the idea (…/threads/<id>#…)."""
    text = value.strip() if isinstance(value, str) else ""
    if "/" in text:
        path = urlsplit(text).path.rstrip("/")
        text = path.rsplit("/", 1)[-1]
    if not is_id(text):
        raise ActionError(
            "invalid_target",
            N_("{value!r:.60} is neither an idea's link nor its id"),
            value=value,
        )
    return text


def link_to(title: str, url: str) -> str:
    """A Markdown link whose text is shown as written (a title with brackets or stars)."""
    text = _LINK_SPECIALS.sub(r"\\\1", title)
    return f"[{text}]({url})"


def staff_message(actor: User, thread_id: str, body: str, now: datetime) -> Message:
    """A public message by a staff member, ready to post (its Markdown rendered)."""
    text = clean_body(body)
    message = Message(
        id=new_id(), thread_id=thread_id, author_id=actor.id, client_id=f"idea-{new_id()}",
        audience=Audience.ALL, body=text, html=render(text), terms=terms(text), created_at=now,
    )  # fmt: skip
    message.author = actor
    return message


# -- telling voters and followers -----------------------------------------------------------


async def _tell(change: Change, actor: User, thread: Thread, status: IdeaStatus) -> None:
    """A toast for each voter and follower with the app open, in their language (one frame
    per language, however many people)."""
    people = await watchers(thread.id)
    people.pop(actor.id, None)
    if thread.hidden_at is not None:  # moderators hid it: customers hear nothing of it
        people = {uid: role for uid, role in people.items() if role != Role.CUSTOMER}
    if not people:
        return
    frames: dict[str, str] = {}
    for user_id, language in await User.filter(id__in=list(people)).values_list("id", "language"):
        lang = language or ""
        if lang not in frames:
            label = gettext_for(lang).gettext(LABELS[status])
            news = IdeaNews(thread=thread.id, title=thread.title, status=status.value, label=label)
            frames[lang] = encode(news)
        change.notices.append((f"user:{user_id}", {"any": frames[lang]}))


async def _answer(thread: Thread, response: Message) -> desk.AnswerState:
    """The thread's answer once the response is pinned as it (built before the write)."""
    badge = (await recognition(response.author_id)).badge
    return replace(await desk.answer_of(thread), message=response, badge=badge)


def _respond(
    change: Change, actor: User, thread: Thread, response: Message, answer: desk.AnswerState,
    now: datetime,
) -> Script[None]:  # fmt: skip
    """Post the official staff response and pin it as the thread's official answer."""
    yield from post_as_staff(change, actor, thread.id, response, now)
    thread.answer_id = response.id
    yield update(thread, ("answer_id",))
    yield from record(change, desk.ANSWER, thread.id, answer, now)


def post_as_staff(
    change: Change, actor: User, thread_id: str, message: Message, now: datetime
) -> Script[None]:
    """Post a staff member's message as a send would: they follow the thread, and their own
    words are read (no unread badge for what they wrote)."""
    recorded = yield from record(
        change, messages.CREATED, thread_id, message, now, new_message=message
    )
    yield from follow(actor.id, thread_id, now)
    if recorded is not None:
        yield from advance_read(change, actor, recorded.thread, now)


# -- a new status -----------------------------------------------------------------------------


def _set(
    change: Change, actor: User, thread: Thread, idea: Idea, was: IdeaStatus,
    state: IdeaState, response: Message, answer: desk.AnswerState, now: datetime,
) -> Script[IdeaState]:  # fmt: skip
    table = Idea._meta.db_table
    # Only from the status this request saw: of two staff members at once, one wins.
    rows = yield (
        f"UPDATE {table} SET status = ?, reason = ?, status_changed_at = ? "  # noqa: S608
        "WHERE id = ? AND status = ? RETURNING votes",
        [state.status.value, state.reason, now, idea.id, was.value],
    )
    if not rows:
        raise Conflict(N_("someone changed this idea's status meanwhile; please look again"))
    yield from _respond(change, actor, thread, response, answer, now)
    new = replace(state, votes=int(rows[0]["votes"]))
    yield from changed(change, thread.id, new, now)
    yield from intend(change, IDEA_STATUS, thread.id, actor.id, now, message_id=response.id)
    return new


async def set_status(
    publisher: Publisher, actor: User, thread_id: object, status: object,
    reason: object = None, message: object = None,
) -> IdeaState:  # fmt: skip
    """Move an idea to a new status (staff), with an official response in its thread: the
    status, the reason (required to decline) and the staff member's own words."""
    thread, idea = await _staff_idea(actor, thread_id)
    wanted = _status(status)
    if wanted == IdeaStatus.DUPLICATE:
        raise ActionError(
            "merge_to_duplicate",
            N_("an idea becomes a duplicate by merging it into another, not by its status"),
        )
    if idea.status == IdeaStatus.DUPLICATE:
        raise ActionError("merged", N_("this idea was merged into another: its status stays"))
    if wanted == idea.status:
        raise ActionError(
            "unchanged", N_("the idea's status is {status!r} already"), status=wanted.value
        )
    if not allowed(idea.status, wanted):
        raise ActionError(
            "illegal_move",
            N_("an idea cannot go from {current!r} to {wanted!r}"),
            current=idea.status.value,
            wanted=wanted.value,
        )
    why = _reason(reason) if wanted == IdeaStatus.DECLINED else ""
    words = _optional_text(message)
    _ = gettext_for(actor.language).gettext
    parts = [f"**{_('Status: {status}').format(status=_(LABELS[wanted]))}**"]
    if why:
        parts.append(_("Reason: {reason}").format(reason=why))
    if words:
        parts.append(words)
    now = datetime.now(UTC)
    response = staff_message(actor, thread.id, "\n\n".join(parts), now)
    before = await idea_state(thread.id)
    assert before is not None  # the idea was there a moment ago; a deleted one fails below
    state = replace(before, status=wanted, reason=why)
    answer = await _answer(thread, response)
    change = Change()
    new = await run_transaction(
        _set(change, actor, thread, idea, idea.status, state, response, answer, now)
    )
    await _tell(change, actor, thread, wanted)
    await publisher.publish(change)
    return new


# -- merging a duplicate ----------------------------------------------------------------------


def _lock(idea_id: str) -> Script[str | None]:
    """Lock an idea's row until commit; return its status as it is now (None: gone)."""
    rows = yield (
        f"UPDATE {Idea._meta.db_table} SET votes = votes WHERE id = ? RETURNING status",  # noqa: S608
        [idea_id],
    )
    return str(rows[0]["status"]) if rows else None


def _merge(
    change: Change, actor: User, dup: Thread, dup_idea: Idea, into: Thread, into_idea: Idea,
    notes: tuple[Message, Message], states: tuple[IdeaState, IdeaState],
    answer: desk.AnswerState, now: datetime,
) -> Script[IdeaState]:  # fmt: skip
    ideas_t, votes_t, follows_t = (
        Idea._meta.db_table, IdeaVote._meta.db_table, Follow._meta.db_table
    )  # fmt: skip
    # Both rows locked, always in the same order: two merges at once (B into A, A into B)
    # wait for each other instead of deadlocking, and the second sees the first's outcome.
    status: dict[str, str | None] = {}
    for idea_id in sorted((dup_idea.id, into_idea.id)):
        status[idea_id] = yield from _lock(idea_id)
    if status[dup_idea.id] is None or status[into_idea.id] is None:
        raise NotFound(N_("idea not found"))
    if status[dup_idea.id] == IdeaStatus.DUPLICATE.value:
        raise Conflict(N_("this idea was merged into another already"))
    if status[into_idea.id] == IdeaStatus.DUPLICATE.value:
        raise ActionError(
            "merge_chain",
            N_("{title!r:.60} was itself merged into another idea: merge into that one"),
            title=into.title,
        )
    # B's votes count for A, each person once (whoever voted for both keeps one vote).
    yield (
        f"INSERT INTO {votes_t} (idea_id, user_id, created_at) "  # noqa: S608
        f"SELECT ?, user_id, created_at FROM {votes_t} WHERE idea_id = ? "
        "ON CONFLICT (idea_id, user_id) DO NOTHING",
        [into_idea.id, dup_idea.id],
    )
    # B's followers follow A; whoever muted A stays muted.
    yield (
        f"INSERT INTO {follows_t} (user_id, thread_id, state, created_at) "  # noqa: S608
        f"SELECT user_id, ?, ?, ? FROM {follows_t} WHERE thread_id = ? AND state = ? "
        "ON CONFLICT (user_id, thread_id) DO NOTHING",
        [into.id, FollowState.FOLLOWING.value, now, dup.id, FollowState.FOLLOWING.value],
    )
    # B's voters follow B from now on: that is how they hear of the merge (push), as their
    # votes leave B. Whoever muted B stays muted.
    yield (
        f"INSERT INTO {follows_t} (user_id, thread_id, state, created_at) "  # noqa: S608
        f"SELECT user_id, ?, ?, ? FROM {votes_t} WHERE idea_id = ? "
        "ON CONFLICT (user_id, thread_id) DO NOTHING",
        [dup.id, FollowState.FOLLOWING.value, now, dup_idea.id],
    )
    yield f"DELETE FROM {votes_t} WHERE idea_id = ?", [dup_idea.id]  # noqa: S608
    rows = yield (
        f"UPDATE {ideas_t} SET votes = (SELECT COUNT(*) FROM {votes_t} WHERE idea_id = ?) "  # noqa: S608
        "WHERE id = ? RETURNING votes",
        [into_idea.id, into_idea.id],
    )
    votes = int(rows[0]["votes"])
    yield (
        f"UPDATE {ideas_t} SET status = ?, merged_into_id = ?, votes = 0, reason = '', "  # noqa: S608
        "status_changed_at = ? WHERE id = ?",
        [IdeaStatus.DUPLICATE.value, into_idea.id, now, dup_idea.id],
    )
    dup_note, into_note = notes
    dup_state, into_state = states
    yield from _respond(change, actor, dup, dup_note, answer, now)
    yield from changed(change, dup.id, dup_state, now)
    yield from intend(change, IDEA_STATUS, dup.id, actor.id, now, message_id=dup_note.id)
    yield from post_as_staff(change, actor, into.id, into_note, now)
    into_after = replace(into_state, votes=votes)
    yield from changed(change, into.id, into_after, now)
    return into_after


async def merge_ideas(
    publisher: Publisher, actor: User, thread_id: object, into: object
) -> tuple[IdeaState, IdeaState]:
    """Merge an idea (B) into another (A), staff only: B's votes count for A (nobody twice),
    B's followers follow A, B becomes a duplicate linking to A; return both ideas' states."""
    dup, dup_idea = await _staff_idea(actor, thread_id)
    target = await thread_for(actor, thread_id_in(into))
    if target is None:
        raise NotFound(N_("there is no idea {value!r:.60}"), value=into)
    if target.id == dup.id:
        raise ActionError("merge_into_itself", N_("an idea cannot be merged into itself"))
    target_idea = await Idea.get_or_none(thread_id=target.id)
    if target_idea is None:
        raise ActionError("not_an_idea", N_("{title!r:.60} is not an idea"), title=target.title)
    if target.hidden_at is not None or target.visibility != Visibility.PUBLIC:
        raise ActionError(
            "invisible_target",
            N_("{title!r:.60} is hidden from customers: its voters could not follow"),
            title=target.title,
        )
    if dup_idea.status == IdeaStatus.DUPLICATE:
        raise Conflict(N_("this idea was merged into another already"))
    if target_idea.status == IdeaStatus.DUPLICATE:
        raise ActionError(
            "merge_chain",
            N_("{title!r:.60} was itself merged into another idea: merge into that one"),
            title=target.title,
        )
    _ = gettext_for(actor.language).gettext
    now = datetime.now(UTC)
    status_line = _("Status: {status}").format(status=_(LABELS[IdeaStatus.DUPLICATE]))
    dup_note = staff_message(
        actor, dup.id,
        f"**{status_line}**\n\n"
        + _("Merged into {link}: the votes count there now.").format(
            link=link_to(target.title, f"/threads/{target.id}")
        ),
        now,
    )  # fmt: skip
    into_note = staff_message(
        actor, target.id,
        _("{link} was merged into this idea: its votes count here now.").format(
            link=link_to(dup.title, f"/threads/{dup.id}")
        ),
        now,
    )  # fmt: skip
    dup_before, into_before = await idea_state(dup.id), await idea_state(target.id)
    assert dup_before is not None and into_before is not None
    dup_state = replace(
        dup_before, status=IdeaStatus.DUPLICATE, votes=0, reason="", merged_into=target.id,
        merged_title=target.title,
    )  # fmt: skip
    answer = await _answer(dup, dup_note)
    change = Change()
    into_after = await run_transaction(
        _merge(
            change,
            actor,
            dup,
            dup_idea,
            target,
            target_idea,
            (dup_note, into_note),
            (dup_state, into_before),
            answer,
            now,
        )  # fmt: skip
    )
    await _tell(change, actor, dup, IdeaStatus.DUPLICATE)
    await publisher.publish(change)
    return dup_state, into_after
