"""Ideas: submitting one (a public thread of kind `idea`) and voting on it.

How to record a change of an idea (a status, a reason, a merge, tags), in the change's own
transaction script, after the rows are written:

    state = replace(await idea_state(thread.id), status=..., ...)   # as the write leaves it
    yield from changed(change, thread.id, state, now)

`changed` records `idea.changed` in the idea's thread (the panel, live and in replay) and
puts the board's `IdeaCount` notice (IDEAS_CHANNEL) on the change; publish the change after
commit as every action does. The counter `Idea.votes` is only ever moved by `vote` below,
by the same statement that adds or removes an IdeaVote row; a merge that moves votes must
move the counter with the rows in one transaction likewise.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from server.actions.sanctions import require_voice
from server.actions.threads import start_thread
from server.actions.writes import record
from server.adapters.tortoise import insert, table_of
from server.errors import ActionError, NotFound
from server.events.ideas import CHANGED, board_frames
from server.i18n import N_
from server.ideas import CLOSED, IdeaState, idea_state
from server.models import Idea, IdeaStatus, IdeaVote, Thread, ThreadKind, User, Visibility
from server.protocol import IDEAS_CHANNEL
from server.publisher import Change, Publisher
from server.queries import thread_for
from server.txscript import Script, run_transaction


async def submit_idea(
    publisher: Publisher,
    author: User,
    title: object,
    body: object,
    tags: object,
    client_id: object,
    *,
    source: str | None = None,
    author_override: User | None = None,
) -> tuple[Thread, Idea, bool]:
    """Open an idea: its thread (public), description (first message), tags; its author
    follows it. A retried submit (same client_id) returns the first one."""
    thread, _, created = await start_thread(
        publisher, author, title, body, client_id, ThreadKind.IDEA.value,
        Visibility.PUBLIC.value, tags=tags, source=source, author_override=author_override,
    )  # fmt: skip
    idea = await Idea.get_or_none(thread_id=thread.id)
    if idea is None:  # the client_id was used before, for a thread that is no idea
        raise ActionError("client_id_used", N_("this client_id was used for another thread"))
    return thread, idea, created


def changed(change: Change, thread_id: str, state: IdeaState, now: datetime) -> Script[None]:
    """A step: record that an idea changed (its panel) and tell the board (see the module)."""
    recorded = yield from record(change, CHANGED, thread_id, state, now)
    if recorded is not None:
        change.notices.append((IDEAS_CHANNEL, board_frames(recorded.thread, state)))


_IDEAS = table_of(Idea)
_VOTES = table_of(IdeaVote)
_CLOSED = tuple(sorted(s.value for s in CLOSED))
# The counter moves only if the idea still takes votes, checked by the UPDATE itself: a
# status change that commits between our read and our write cannot let a vote in.
_MOVE = (
    f"UPDATE {_IDEAS} SET votes = votes {{sign}} 1 "  # noqa: S608 - our table and sign
    f"WHERE id = ? AND status NOT IN ({', '.join('?' * len(_CLOSED))}) RETURNING votes, status"
)
_ADD, _TAKE_BACK = _MOVE.format(sign="+"), _MOVE.format(sign="-")
_DELETE = f"DELETE FROM {_VOTES} WHERE idea_id = ? AND user_id = ? RETURNING id"  # noqa: S608


def _vote(
    change: Change, user: User, state: IdeaState, wanted: bool, now: datetime
) -> Script[IdeaState]:
    if wanted:
        row = IdeaVote(idea_id=state.idea_id, user_id=user.id, created_at=now)
        added = yield insert(row, on_conflict=("idea_id", "user_id"), returning="id")
        if not added:  # voted already (a replay, another tab): nothing changes
            return state
        moved = yield _ADD, [state.idea_id, *_CLOSED]
    else:
        removed = yield _DELETE, [state.idea_id, user.id]
        if not removed:
            return state
        moved = yield _TAKE_BACK, [state.idea_id, *_CLOSED]
    if not moved:  # settled meanwhile: the vote row goes back out with the rollback
        raise ActionError("idea_closed", N_("this idea takes no more votes"))
    new = replace(state, votes=int(moved[0]["votes"]), status=IdeaStatus(moved[0]["status"]))
    yield from changed(change, state.thread_id, new, now)
    return new


async def vote(
    publisher: Publisher, user: User, thread_id: object, wanted: object
) -> tuple[IdeaState, bool]:
    """Vote for an idea (`wanted` "1") or take the vote back ("0"): the wanted state, so a
    replayed request changes nothing. Return the idea's state and whether the user voted."""
    if wanted not in ("1", "0", 1, 0, True, False):
        raise ActionError(
            "invalid_vote", N_("vote must be 1 (for) or 0 (take it back), not {value!r:.40}"),
            value=wanted,
        )  # fmt: skip
    yes = wanted in ("1", 1, True)
    thread = await thread_for(user, thread_id)
    if thread is None:
        raise NotFound(N_("idea not found"))
    state = await idea_state(thread.id)
    if state is None:
        raise NotFound(N_("idea not found"))  # a thread that is no idea
    require_voice(user)
    if thread.hidden_at is not None:
        raise ActionError("idea_hidden", N_("this idea is hidden: it takes no votes"))
    if not state.open_to_votes:
        raise ActionError("idea_closed", N_("this idea takes no more votes"))
    change = Change()
    now = datetime.now(UTC)
    new = await run_transaction(_vote(change, user, state, yes, now))
    await publisher.publish(change)
    if new is state:  # nothing changed: say how it is now (another tab may have voted)
        new = await idea_state(thread.id) or state
    return new, yes
