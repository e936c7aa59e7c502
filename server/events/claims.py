"""The claim on a thread ("I'm answering"): which employee is answering, until when.

Staff only: customers never learn who claimed a thread, and no claim event reaches them by
socket, replay, page or JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from server import payloads
from server.events.registry import EVENTS, STAFF, EventType
from server.models import Event, Thread, User
from server.templating import Viewpoint, render


@dataclass(frozen=True)
class ClaimState:
    """A thread's claim as a transaction left it (no claim: user_id None)."""

    thread_id: str
    user_id: str | None = None
    name: str = ""
    until: datetime | None = None

    def holds(self, now: datetime | None = None) -> bool:
        """Tell whether the claim still holds (it lapses at `until` by itself)."""
        return self.until is not None and self.until > (now or datetime.now(UTC))


class ClaimData(payloads.Out):
    """Who is answering, until when (the claim lapses then unless they post)."""

    user: payloads.Id
    name: str
    until: payloads.Time


class ClaimEvent(payloads.Out):
    """A claim event's fields in JSON mode: the claim, or null when it ended."""

    claim: ClaimData | None


def payload(state: ClaimState) -> ClaimEvent:
    if state.user_id is None or state.until is None:
        return ClaimEvent(None)
    return ClaimEvent(ClaimData(state.user_id, state.name, state.until.isoformat()))


def html(state: ClaimState, view: Viewpoint) -> str:
    return render(view.language, "_claim.html", claim=state, view=view)


async def state_of(thread: Thread) -> ClaimState:
    """The thread's claim now (a lapsed one counts as none)."""
    if thread.claimed_by_id is None or thread.claimed_until is None:
        return ClaimState(thread.id)
    user = await User.get_or_none(id=thread.claimed_by_id)
    state = ClaimState(thread.id, thread.claimed_by_id, user.display_name if user else "",
                       thread.claimed_until)  # fmt: skip
    return state if state.holds() else ClaimState(thread.id)


async def load(thread: Thread, rows: Sequence[Event]) -> list[ClaimState]:
    """A claim event replays the claim as it is now."""
    state = await state_of(thread)
    return [state for _ in rows]


CHANGED = EVENTS.add(
    EventType(
        name="claim.changed",
        summary='an employee claimed the thread ("I\'m answering") or the claim ended; '
        'the fragment has `id="claim"`',
        visible=STAFF,
        payload=payload,
        html=html,
        load=load,
    )
)
