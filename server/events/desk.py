"""Events of the care desk: the accepted answer (everyone), "an employee is answering"
(everyone, without a name), and a question's routing (team, assignee: staff only).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server import payloads
from server.community import first_message_id, recognition
from server.events.claims import ClaimState, state_of
from server.events.registry import EVENTS, EVERYONE, STAFF, EventType
from server.models import Event, Message, Team, Thread, ThreadKind, User, Visibility
from server.templating import Viewpoint, render

# -- the accepted answer ----------------------------------------------------------------------


@dataclass(frozen=True)
class AnswerState:
    """A thread's accepted answer (None: none is), with what the page needs to offer the
    choice: who asked, whether it is a public question, and its first message (never an
    answer). A staff reply shows as the official answer, anyone else's as the accepted one."""

    thread_id: str
    message: Message | None = None
    asker_id: str = ""
    question: bool = False
    first_id: str | None = None
    badge: str | None = None  # the answer's author's highest badge (server/community.py)

    @property
    def official(self) -> bool:
        """Tell whether the answer is an employee's: the company's official answer."""
        return self.message is not None and self.message.author.is_staff


class AnswerEvent(payloads.Out):
    """The accepted answer's message, or null when none is."""

    answer: payloads.Message | None


def _answer_payload(state: AnswerState) -> AnswerEvent:
    msg = state.message
    shown = msg is not None and msg.deleted_at is None and msg.hidden_at is None
    return AnswerEvent(payloads.message_of(msg) if shown and msg is not None else None)


def _answer_html(state: AnswerState, view: Viewpoint) -> str:
    return render(view.language, "_answer.html", answer=state, view=view)


async def answer_of(thread: Thread) -> AnswerState:
    """The thread's accepted answer now, with its author and their badge (a deleted, hidden
    or held one shows as none)."""
    question = thread.kind == ThreadKind.QUESTION and thread.visibility == Visibility.PUBLIC
    first = await first_message_id(thread.id)
    none = AnswerState(thread.id, None, thread.author_id, question, first)
    if thread.answer_id is None:
        return none
    msg = await Message.get_or_none(id=thread.answer_id).prefetch_related("author")
    if msg is None or msg.deleted_at is not None or msg.hidden_at is not None or msg.held_at:
        return none
    badge = (await recognition(msg.author_id)).badge
    return AnswerState(thread.id, msg, thread.author_id, question, first, badge)


async def _answer_load(thread: Thread, rows: Sequence[Event]) -> list[AnswerState]:
    fresh = await Thread.get(id=thread.id)
    state = await answer_of(fresh)
    return [state for _ in rows]


ANSWER = EVENTS.add(
    EventType(
        name="answer.changed",
        summary="the asker or staff accepted a reply as the answer (a staff reply: the official "
        'answer), or took it back; the fragment has `id="official-answer"`',
        visible=EVERYONE,
        payload=_answer_payload,
        html=_answer_html,
        load=_answer_load,
    )
)

# -- "an employee is answering" ------------------------------------------------------------


class AnsweringEvent(payloads.Out):
    """Whether an employee is answering (never who), and until when at most."""

    answering: bool
    until: payloads.Time | None


def _answering_payload(state: ClaimState) -> AnsweringEvent:
    held = state.user_id is not None and state.until is not None
    return AnsweringEvent(held, state.until.isoformat() if held and state.until else None)


def _answering_html(state: ClaimState, view: Viewpoint) -> str:
    """Customers see that staff are answering; staff see the claim itself (#claim)."""
    return render(view.language, "_answering.html", claim=state, view=view)


async def _answering_load(thread: Thread, rows: Sequence[Event]) -> list[ClaimState]:
    state = await state_of(await Thread.get(id=thread.id))
    return [state for _ in rows]


ANSWERING = EVENTS.add(
    EventType(
        name="answering.changed",
        summary="an employee started or stopped answering (no name: the claim without who "
        'holds it); the fragment has `id="answering"`',
        visible=EVERYONE,
        payload=_answering_payload,
        html=_answering_html,
        load=_answering_load,
        by_role=True,  # staff get an empty placeholder: they have the claim
    )
)

# -- routing: team and assignee (staff only) -------------------------------------------------


@dataclass(frozen=True)
class DeskState:
    """Where a question is routed, with what the staff panel offers to change it."""

    thread_id: str
    team_id: str | None = None
    team: str = ""
    assignee_id: str | None = None
    assignee: str = ""
    teams: tuple[tuple[str, str], ...] = ()  # (id, name) the panel offers
    people: tuple[tuple[str, str], ...] = ()


class DeskEvent(payloads.Out):
    """A question's team and assignee (staff only)."""

    team: payloads.Id | None
    team_name: str
    assignee: payloads.Id | None
    assignee_name: str


def _desk_payload(state: DeskState) -> DeskEvent:
    return DeskEvent(state.team_id, state.team, state.assignee_id, state.assignee)


def _desk_html(state: DeskState, view: Viewpoint) -> str:
    return render(view.language, "_desk_panel.html", desk=state, view=view)


async def desk_state(thread: Thread) -> DeskState:
    """A thread's routing now, with the teams and active staff to choose from."""
    teams = tuple(await Team.all().order_by("name").values_list("id", "name"))
    staff = User.exclude(role="customer").filter(deactivated_at__isnull=True)
    people = tuple(await staff.order_by("display_name", "id").values_list("id", "display_name"))
    names = dict(teams) | dict(people)
    return DeskState(
        thread.id, thread.team_id, names.get(thread.team_id or "", ""), thread.assignee_id,
        names.get(thread.assignee_id or "", ""), teams, people,
    )  # fmt: skip


async def _desk_load(thread: Thread, rows: Sequence[Event]) -> list[DeskState]:
    state = await desk_state(await Thread.get(id=thread.id))
    return [state for _ in rows]


ROUTED = EVENTS.add(
    EventType(
        name="desk.changed",
        summary="a question was assigned to a team or an employee (staff only); the fragment "
        'has `id="desk-panel"`',
        visible=STAFF,
        payload=_desk_payload,
        html=_desk_html,
        load=_desk_load,
    )
)
