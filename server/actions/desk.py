"""The care desk's writes: a question's status follows the conversation, and staff route it.

- A staff reply in public answers a waiting question (open → answered, first response time);
  a customer's message after that reopens it and puts it back on the queue.
- Staff assign a question to a team or an employee, with a note for colleagues (a staff note).
- The asker or staff accept a reply as the answer: server/actions/community.py.
- A question waiting longer than ESCALATE_MINUTES alerts moderators and its team's lead.

Every change is an event in the thread, and staff's desks hear of it (`DeskNotice`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from push.api import ASSIGNED, ESCALATION
from server import sql
from server.actions.reviews import alert
from server.actions.writes import intend, record
from server.adapters.tortoise import update
from server.errors import ActionError, Forbidden, NotFound
from server.events import desk, messages, threads
from server.i18n import N_
from server.markdown import clean_body, render
from server.models import (
    Audience,
    Message,
    Team,
    Thread,
    ThreadKind,
    ThreadStatus,
    User,
    Visibility,
    new_id,
)
from server.protocol import DESK_CHANNEL, Assigned, DeskNotice, encode
from server.publisher import Change, Publisher
from server.queries import is_id, thread_for
from server.terms import terms
from server.txscript import Script, run_transaction


def on_desk(thread: Thread) -> bool:
    """Tell whether the desk looks after a thread: a public question."""
    return thread.kind == ThreadKind.QUESTION and thread.visibility == Visibility.PUBLIC


def notify_desk(change: Change, thread_id: str) -> None:
    """Tell staff's open desks that a question changed (after commit, with the change)."""
    change.notices.append((DESK_CHANNEL, {"staff": encode(DeskNotice(thread=thread_id))}))


def status_fields(thread: Thread, status: ThreadStatus, now: datetime) -> tuple[str, ...]:
    """Set a new status and the desk's times that go with it; return the fields changed."""
    thread.status = status
    changed = ["status"]
    if not on_desk(thread):
        return tuple(changed)
    if status == ThreadStatus.OPEN:
        thread.waiting_since, thread.resolved_at = now, None
        changed += ["waiting_since", "resolved_at"]
    else:
        thread.waiting_since, thread.escalated_at = None, None
        changed += ["waiting_since", "escalated_at"]
    if status == ThreadStatus.RESOLVED:
        thread.resolved_at = now
        changed.append("resolved_at")
    return tuple(changed)


def after_message(
    change: Change, thread: Thread, author: User, message: Message, now: datetime
) -> Script[None]:
    """A step of the send: a public message moves a question along (the thread row is locked
    by the send's UPDATE, so two replies at once cannot both see it open)."""
    if message.audience != Audience.ALL or not on_desk(thread):
        return
    fields: tuple[str, ...] = ()
    if author.is_staff:
        # Staff answer someone else's question (their own follow-up answers nothing).
        if thread.status == ThreadStatus.OPEN and thread.author_id != author.id:
            fields = status_fields(thread, ThreadStatus.ANSWERED, now)
            if thread.first_response_at is None:
                thread.first_response_at = now
                fields += ("first_response_at",)
    elif thread.status in (ThreadStatus.ANSWERED, ThreadStatus.RESOLVED):
        fields = status_fields(thread, ThreadStatus.OPEN, now)
    elif thread.status == ThreadStatus.OPEN and thread.waiting_since is None:
        thread.waiting_since = now  # a staff member's question a customer now asks in
        fields = ("waiting_since",)
    if not fields:
        return
    yield update(thread, fields)
    if "status" in fields:
        yield from record(change, threads.UPDATED, thread.id, thread, now)
    notify_desk(change, thread.id)


async def _staff_thread(actor: User, thread_id: object) -> Thread:
    thread = await thread_for(actor, thread_id)
    if thread is None:  # first: a hidden thread answers as a missing one, for anyone
        raise NotFound()
    if not actor.is_staff:
        raise Forbidden(N_("only staff can do this"))
    return thread


async def _assignee(value: object) -> User | None:
    if value in (None, ""):
        return None
    person = await User.get_or_none(id=value) if is_id(value) else None
    if person is None or not person.is_staff or not person.is_active:
        raise ActionError(
            "invalid_assignee", N_("{value!r:.20} is not an employee: only staff can be assigned"),
            value=value,
        )  # fmt: skip
    return person


async def team_by_id(value: object) -> Team | None:
    """The team a form or request names by id (none when empty), or a clear error."""
    if value in (None, ""):
        return None
    team = await Team.get_or_none(id=value) if is_id(value) else None
    if team is None:
        raise ActionError("unknown_team", N_("there is no team {value!r:.20}"), value=value)
    return team


def _route(
    change: Change, actor: User, thread: Thread, fields: tuple[str, ...], state: desk.DeskState,
    note: Message | None, notify: bool, now: datetime,
) -> Script[None]:  # fmt: skip
    if fields:
        yield update(thread, fields)
        yield from record(change, desk.ROUTED, thread.id, state, now)
    if note is not None:
        yield from record(change, messages.CREATED, thread.id, note, now, new_message=note)
    if notify:
        message_id = note.id if note is not None else None
        yield from intend(change, ASSIGNED, thread.id, actor.id, now, message_id=message_id)
        if thread.assignee_id and thread.assignee_id != actor.id:  # told live, in the app too
            told = Assigned(thread=thread.id, title=thread.title, by=actor.display_name)
            change.notices.append((f"user:{thread.assignee_id}", {"any": encode(told)}))
    notify_desk(change, thread.id)


async def assign_thread(
    publisher: Publisher, actor: User, thread_id: object, assignee: object = None,
    team: object = None, note: object = None,
) -> desk.DeskState:  # fmt: skip
    """Route a question to a team and/or an employee (staff only), with an optional note for
    colleagues (a staff note in the thread); the new assignee hears of it (live, push)."""
    thread = await _staff_thread(actor, thread_id)
    person = await _assignee(assignee)
    group = await team_by_id(team)
    text = clean_body(note) if isinstance(note, str) and note.strip() else None
    wanted = {"assignee_id": person.id if person else None, "team_id": group.id if group else None}
    fields = tuple(name for name, value in wanted.items() if getattr(thread, name) != value)
    if not fields and text is None:
        return await desk.desk_state(thread)
    for name in fields:
        setattr(thread, name, wanted[name])
    now = datetime.now(UTC)
    message = None
    if text is not None:
        message = Message(
            id=new_id(), thread_id=thread.id, author_id=actor.id, client_id=f"assign-{new_id()}",
            audience=Audience.STAFF, body=text, html=render(text), terms=terms(text),
            created_at=now,
        )  # fmt: skip
        message.author = actor
    state = await desk.desk_state(thread)
    notify = bool(fields) and (thread.assignee_id or thread.team_id) is not None
    change = Change()
    await run_transaction(_route(change, actor, thread, fields, state, message, notify, now))
    await publisher.publish(change)
    return state


def _escalate(change: Change, minutes: float, now: datetime) -> Script[int]:
    found = yield from sql.escalate_waiting(now - timedelta(minutes=minutes), now)
    for thread_id, author_id, title in found:
        yield from intend(change, ESCALATION, thread_id, author_id, now)
        notify_desk(change, thread_id)
        alert(change, "waiting", thread_id, title, f"/threads/{thread_id}")  # moderators, live
    return len(found)


async def escalate_waiting(publisher: Publisher, minutes: float) -> int:
    """Alert moderators and team leads of questions waiting longer than `minutes` (each once
    per wait, whichever process looks first); return how many."""
    change = Change()
    count = await run_transaction(_escalate(change, minutes, datetime.now(UTC)))
    await publisher.publish(change)
    return count
