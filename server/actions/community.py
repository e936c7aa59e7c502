"""Community answers, written: the asker or staff accept a reply as the answer, and anyone
marks a reply "Helpful" (once per person).

- In a public question the asker (its author) or staff accept any public reply as the answer,
  a customer's included; accepting it again takes it back, accepting another replaces it.
  A staff reply accepted is the company's official answer. In any other thread staff may mark
  a staff reply as the official answer, as before this was community work.
- An accepted answer answers a waiting question (`open` → `answered`, off the desk's queue).
  Taking it back does not reopen the question: a customer who still waits says so with a
  message, which reopens it (server/actions/desk.py), and a question that goes back on the
  queue on its own would surprise the asker, who just chose.
- "Helpful" sets the wanted state (`on`), so a replayed request changes nothing; the unique
  key and INSERT … ON CONFLICT DO NOTHING keep it once per person whatever races.

Each takes the thread's row lock first, so what it reads (the answer, the count) is what it
writes and what its event says, in commit order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.actions.desk import notify_desk, on_desk, status_fields
from server.actions.writes import record
from server.adapters.tortoise import column_of, insert, table_of, update
from server.community import HelpfulCount, first_message_id
from server.errors import ActionError, Forbidden, NotFound
from server.events import community, desk, threads
from server.events.frames import Recorded
from server.i18n import N_
from server.models import (
    Audience,
    Helpful,
    Message,
    Thread,
    ThreadKind,
    ThreadStatus,
    User,
    Visibility,
)
from server.publisher import Change, Publisher
from server.queries import message_for
from server.txscript import Script, run_transaction

WANTED = {"1": True, "0": False, "true": True, "false": False, "on": True, "off": False}


def _locked(thread_id: str) -> Script[dict[str, Any]]:
    """Take the thread's row lock (PostgreSQL; SQLite holds its single writer already) and
    return its answer and status as committed."""
    table, answer, status = (
        table_of(Thread),
        column_of(Thread, "answer_id"),
        column_of(Thread, "status"),
    )
    rows = yield (
        f'UPDATE "{table}" SET "{answer}" = "{answer}" WHERE "id" = ? '  # noqa: S608
        f'RETURNING "{answer}" AS answer_id, "{status}" AS status',
        [thread_id],
    )
    if not rows:
        raise NotFound()
    return rows[0]


def _visible_reply(msg: Message) -> None:
    """Refuse a message that cannot be an answer or be found helpful: a note, gone, held."""
    if msg.deleted_at is not None:
        raise ActionError("deleted", N_("this message was deleted"))
    if msg.hidden_at is not None:
        raise ActionError("hidden", N_("a moderator hid this message"))
    if msg.held_at is not None:
        raise ActionError("held", N_("this message is waiting for a moderator"))


# -- the accepted answer -------------------------------------------------------------------


def _accept(change: Change, thread: Thread, msg: Message, now: datetime) -> Script[Recorded | None]:
    row = yield from _locked(thread.id)
    thread.status = ThreadStatus(row["status"])
    taken_back = row["answer_id"] == msg.id
    thread.answer_id = None if taken_back else msg.id
    fields: tuple[str, ...] = ("answer_id",)
    if not taken_back and thread.status == ThreadStatus.OPEN and on_desk(thread):
        fields += status_fields(thread, ThreadStatus.ANSWERED, now)  # the wait is over
    yield update(thread, fields)
    # The event's subject is filled in after commit (accept_answer): the author's badge
    # counts this answer, which only the committed state can say.
    recorded = yield from record(change, desk.ANSWER, thread.id, desk.AnswerState(thread.id), now)
    if "status" in fields:
        yield from record(change, threads.UPDATED, thread.id, thread, now)
    notify_desk(change, thread.id)
    return recorded


async def accept_answer(publisher: Publisher, actor: User, message_id: object) -> desk.AnswerState:
    """Accept a reply as its thread's answer (the asker or staff); accepting the accepted one
    takes it back. Return the thread's answer as it is then."""
    msg = await message_for(actor, message_id)
    if msg is None:
        raise NotFound(N_("message not found"))
    thread: Thread = msg.thread
    question = thread.kind == ThreadKind.QUESTION and thread.visibility == Visibility.PUBLIC
    if not actor.is_staff and not (question and thread.author_id == actor.id):
        raise Forbidden(N_("only the asker or staff can accept an answer"))
    if msg.audience == Audience.STAFF:
        raise ActionError("note_not_answer", N_("a staff note cannot be the answer"))
    _visible_reply(msg)
    if msg.id == await first_message_id(thread.id):
        raise ActionError("question_not_answer", N_("the question itself cannot be its answer"))
    if not question and not msg.author.is_staff:
        raise ActionError(
            "not_staff_reply",
            N_("only a reply by staff can be the official answer outside a public question"),
        )
    if not actor.is_staff and msg.author_id == actor.id:
        raise ActionError("own_reply", N_("you cannot accept your own reply as the answer"))
    change = Change()
    recorded = await run_transaction(_accept(change, thread, msg, datetime.now(UTC)))
    state = await desk.answer_of(await Thread.get(id=thread.id))
    if recorded is not None:
        recorded.subject = state
    await publisher.publish(change)
    return state


# -- "Helpful" -----------------------------------------------------------------------------


def wanted_state(value: object) -> bool:
    """Read the wanted state of a helpful mark ("1" or "0"), or a clear error."""
    if isinstance(value, bool):
        return value
    found = WANTED.get(str(value).strip().lower()) if isinstance(value, str | int) else None
    if found is None:
        raise ActionError("invalid", N_("on must be 1 or 0, not {value!r:.20}"), value=value)
    return found


def _mark(
    change: Change, actor_id: str, msg: Message, on: bool, now: datetime
) -> Script[HelpfulCount]:
    yield from _locked(msg.thread_id)
    table, message, user = (
        table_of(Helpful),
        column_of(Helpful, "message_id"),
        column_of(Helpful, "user_id"),
    )
    if on:
        mark = Helpful(message_id=msg.id, user_id=actor_id, created_at=now)
        changed = yield insert(mark, on_conflict=(message, user), returning="id")
    else:
        changed = yield (
            f'DELETE FROM "{table}" WHERE "{message}" = ? AND "{user}" = ? RETURNING "id"',  # noqa: S608
            [msg.id, actor_id],
        )
    counted = yield f'SELECT COUNT(*) AS n FROM "{table}" WHERE "{message}" = ?', [msg.id]  # noqa: S608
    state = HelpfulCount(msg.id, msg.thread_id, msg.author_id, msg.audience, int(counted[0]["n"]))
    if changed:  # a replay, or the same mark twice at once, tells nobody anything
        yield from record(change, community.HELPFUL, msg.thread_id, state, now)
    return HelpfulCount(state.message_id, state.thread_id, state.author_id, state.audience,
                        state.count, on)  # fmt: skip


async def mark_helpful(
    publisher: Publisher, actor: User, message_id: object, on: object
) -> HelpfulCount:
    """Mark a message helpful (`on` 1) or take the mark back (0): once per person, never on
    one's own message. Return its count and the actor's mark."""
    wanted = wanted_state(on)
    msg = await message_for(actor, message_id)
    if msg is None:  # a staff note to a customer: as if it did not exist
        raise NotFound(N_("message not found"))
    _visible_reply(msg)
    if msg.author_id == actor.id:
        raise ActionError("own_message", N_("you cannot mark your own message as helpful"))
    if msg.id == await first_message_id(msg.thread_id):
        raise ActionError(
            "not_a_reply", N_("only a reply can be marked helpful, not a thread's first message")
        )
    change = Change()
    state = await run_transaction(_mark(change, actor.id, msg, wanted, datetime.now(UTC)))
    await publisher.publish(change)
    return state
