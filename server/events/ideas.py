"""The event of an idea: its votes, status, reason, merge or tags changed (one type for all)."""

from __future__ import annotations

from collections.abc import Sequence

from server import payloads
from server.events.registry import EVENTS, EVERYONE, EventType

# Re-exported: the idea's state is read below the events (server/ideas.py), named here too.
from server.ideas import CLOSED as CLOSED
from server.ideas import IdeaState as IdeaState
from server.ideas import idea_for
from server.ideas import idea_state as idea_state
from server.models import Event, Thread, ThreadKind, User
from server.protocol import IdeaCount, encode
from server.templating import Viewpoint, render


class IdeaEvent(payloads.Out):
    """An idea's state: status, vote count, why declined, the thread it was merged into."""

    status: str
    votes: int
    reason: str
    merged_into: payloads.Id | None
    tags: list[str]


def _payload(state: IdeaState) -> IdeaEvent:
    return IdeaEvent(
        state.status.value, state.votes, state.reason, state.merged_into, list(state.tags)
    )


def panel_html(state: IdeaState, view: Viewpoint, voted: bool | None = None) -> str:
    """The panel above an idea's messages. `voted`: whether the viewer voted; None in a shared
    fragment (web/static/ideas.js keeps the button as it was: others' votes change not it)."""
    return render(view.language, "_idea_panel.html", idea=state, view=view, voted=voted)


async def panel_for(viewer: User, thread: Thread, view: Viewpoint) -> str:
    """The panel of an idea's page for one viewer ("" for a thread that is no idea)."""
    if thread.kind != ThreadKind.IDEA:
        return ""
    found = await idea_for(viewer, thread.id)
    if found is None:
        return ""
    _, state, voted = found
    return panel_html(state, view, voted)


def _html(state: IdeaState, view: Viewpoint) -> str:
    return panel_html(state, view)


async def _load(thread: Thread, rows: Sequence[Event]) -> list[IdeaState | None]:
    state = await idea_state(thread.id)
    return [state for _ in rows]


CHANGED = EVENTS.add(
    EventType(
        name="idea.changed",
        summary="an idea's votes, status, reason, merge or tags changed; the fragment has "
        '`id="idea-panel"`',
        visible=EVERYONE,
        payload=_payload,
        html=_html,
        load=_load,
        by_role=True,  # staff get the status controls in the panel
    )
)


def board_frames(thread: Thread, state: IdeaState) -> dict[str, str]:
    """The board's notice of an idea's new count and status (IDEAS_CHANNEL), for those who
    may see the idea: staff alone while it is hidden or held."""
    frame = encode(
        IdeaCount(
            idea=state.thread_id, votes=state.votes, status=state.status.value,
            seq=thread.public_seq,
        )
    )  # fmt: skip
    if thread.hidden_at is not None:
        return {"staff": frame}
    return {"any": frame}
