"""The ideas' status workflow: the moves staff may make, each status's words, and who hears of
a change (the idea's voters and followers, minus whoever muted it).

The workflow runs forward, new → under review → planned → in progress → done, and any step
may be skipped. Staff may send an idea back to review from any later status (a plan that
fell through, a "done" that was not), and decline it with a reason until it is done. A
declined idea can only go back to review. "Duplicate" is not chosen but made by merging an
idea into another (server/actions/idea_status.py), and a duplicate stays one.
"""

from __future__ import annotations

from datetime import datetime

from server.i18n import N_
from server.models import Follow, FollowState, Idea, IdeaStatus, IdeaVote, Role, Thread

S = IdeaStatus
WORKFLOW = (S.NEW, S.UNDER_REVIEW, S.PLANNED, S.IN_PROGRESS, S.DONE)
MOVES: dict[IdeaStatus, frozenset[IdeaStatus]] = {
    S.NEW: frozenset({S.UNDER_REVIEW, S.PLANNED, S.IN_PROGRESS, S.DONE, S.DECLINED}),
    S.UNDER_REVIEW: frozenset({S.PLANNED, S.IN_PROGRESS, S.DONE, S.DECLINED}),
    S.PLANNED: frozenset({S.UNDER_REVIEW, S.IN_PROGRESS, S.DONE, S.DECLINED}),
    S.IN_PROGRESS: frozenset({S.UNDER_REVIEW, S.DONE, S.DECLINED}),
    S.DONE: frozenset({S.UNDER_REVIEW}),
    S.DECLINED: frozenset({S.UNDER_REVIEW}),
    S.DUPLICATE: frozenset(),
}
CHOSEN = (*WORKFLOW, S.DECLINED)  # what the staff form offers ("duplicate": by merging)

LABELS: dict[IdeaStatus, str] = {
    S.NEW: N_("New"),
    S.UNDER_REVIEW: N_("Under review"),
    S.PLANNED: N_("Planned"),
    S.IN_PROGRESS: N_("In progress"),
    S.DONE: N_("Done"),
    S.DECLINED: N_("Declined"),
    S.DUPLICATE: N_("Duplicate"),
}


def allowed(current: IdeaStatus, wanted: IdeaStatus) -> bool:
    """Tell whether staff may move an idea from `current` to `wanted`."""
    return wanted in MOVES[current]


def moves_from(current: IdeaStatus) -> list[IdeaStatus]:
    """The statuses staff may choose next, in workflow order."""
    return [status for status in CHOSEN if allowed(current, status)]


async def status_word(thread: Thread) -> str:
    """The status an idea's notification names (an N_ text, translated by the caller)."""
    idea = await Idea.get_or_none(thread_id=thread.id).only("id", "status")
    return LABELS[idea.status] if idea is not None else thread.status.value.capitalize()


async def watchers(thread_id: str, before: datetime | None = None) -> dict[str, Role]:
    """Who hears of an idea's news: its voters and its thread's followers (as of `before`),
    minus whoever muted the thread; {user id: role}."""
    follows = Follow.filter(thread_id=thread_id)
    votes = IdeaVote.filter(idea__thread_id=thread_id)
    # Who muted it hears nothing, whenever they muted it.
    muted = set(await follows.filter(state=FollowState.MUTED).values_list("user_id", flat=True))
    following = follows.filter(state=FollowState.FOLLOWING)
    if before is not None:  # a worker running late tells nobody who came afterwards
        following, votes = (
            following.filter(created_at__lte=before),
            votes.filter(created_at__lte=before),
        )
    found: dict[str, Role] = {}
    for query in (following, votes):
        for user_id, role in await query.values_list("user_id", "user__role"):
            if user_id not in muted:
                found[user_id] = Role(role)
    return found
