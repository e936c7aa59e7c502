"""Moderation of posts: anyone flags what they can see; moderators and admins decide.

Flags count in one UPDATE per item (server/sql.py count_flag), so FLAGS_TO_HIDE holds under
concurrent requests in any number of processes; a flag that hides its item does so in the same
transaction. Every decision is a conditional UPDATE: of two moderators doing the same at once,
one changes the item and writes the audit entry, the other finds it done (exactly once).
"""

from __future__ import annotations

from datetime import UTC, datetime

from tortoise.exceptions import IntegrityError

from push.api import MODERATION, QUESTION, REPLY
from server import sql
from server.actions.audit import entry
from server.actions.desk import notify_desk
from server.actions.reviews import HELD_THREAD, alert, decided, target_of
from server.actions.sanctions import clean_reason, require_voice
from server.actions.threads import clean_title
from server.actions.writes import intend, record
from server.adapters.tortoise import insert
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.events import desk, messages, moderation, threads
from server.i18n import N_
from server.models import (
    Audience,
    AuditAction,
    Flag,
    FlagReason,
    Message,
    Review,
    Thread,
    User,
)
from server.policy import Policy
from server.publisher import Change, Publisher
from server.queries import message_for, thread_for
from server.terms import terms
from server.text import has_control_character
from server.txscript import Script, run_transaction

FLAG_TEXT_MAX_CHARS = 500
HIDDEN_BY_FLAGS = "@flags"  # hidden_reason of an item enough flags hid (_labels.html says it)
MOVED = "@moved"  # hidden_reason of a tombstone whose text a moderator moved into a staff note
KINDS = ("message", "thread")
DECISIONS = (
    "dismiss", "hide", "restore", "delete", "approve", "lock", "unlock", "rename", "move_to_note",
)  # fmt: skip


async def item_for(viewer: User, kind: object, item_id: object) -> tuple[Thread, Message | None]:
    """Load a message or thread the viewer may see (with its thread), or raise NotFound."""
    if kind == "message":
        msg = await message_for(viewer, item_id)
        if msg is None:
            raise NotFound(N_("message not found"))
        return msg.thread, msg
    if kind == "thread":
        thread = await thread_for(viewer, item_id)
        if thread is None:
            raise NotFound()
        return thread, None
    raise ActionError(
        "invalid_kind", N_("kind must be message or thread, not {kind!r:.20}"), kind=kind
    )


def clean_flag(reason: object, text: object) -> tuple[FlagReason, str]:
    """Return a flag's reason and text; "other" needs the text."""
    try:
        why = FlagReason(str(reason))
    except ValueError:
        allowed = ", ".join(r.value for r in FlagReason)
        raise ActionError(
            "invalid_reason",
            N_("reason must be one of {allowed}, not {reason!r:.20}"),
            allowed=allowed,
            reason=reason,
        ) from None
    words = " ".join(text.split()) if isinstance(text, str) else ""
    if has_control_character(words) or len(words) > FLAG_TEXT_MAX_CHARS:
        raise ActionError(
            "invalid_text",
            N_("say it in one line of at most {limit} characters"),
            limit=FLAG_TEXT_MAX_CHARS,
        )
    if why == FlagReason.OTHER and not words:
        raise ActionError("text_required", N_("say what is wrong"))
    return why, words


def _hide(
    change: Change, thread: Thread, msg: Message | None, reason: str, now: datetime,
    over: str = "",
) -> Script[bool]:  # fmt: skip
    """Hide a message or thread; False if it was hidden already (but for reason `over`)."""
    if msg is not None:
        if not (yield from sql.set_hidden(Message._meta.db_table, msg.id, now, reason, over)):
            return False
        msg.hidden_at, msg.hidden_reason = now, reason
        yield from record(change, moderation.HIDDEN, thread.id, msg, now)
        if thread.answer_id == msg.id:  # the official answer under the question goes too
            yield from record(change, desk.ANSWER, thread.id, desk.AnswerState(thread.id), now)
        return True
    if not (yield from sql.set_hidden(Thread._meta.db_table, thread.id, now, reason, over)):
        return False
    yield from record(change, moderation.THREAD_HIDDEN, thread.id, thread, now)
    return True


def _flag(
    change: Change, policy: Policy, reporter: User, review: Review, flag: Flag,
    thread: Thread, msg: Message | None, now: datetime,
) -> Script[bool]:  # fmt: skip
    yield insert(review, on_conflict=("target",))
    review_id, count = yield from sql.count_flag(review.target, now)
    flag.review_id = review_id
    yield insert(flag)  # a second flag by the same person fails here: nothing is written
    hidden = False
    if count >= policy.flags_to_hide:
        hidden = yield from _hide(change, thread, msg, HIDDEN_BY_FLAGS, now)
    yield from intend(change, MODERATION, thread.id, reporter.id, now)
    alert(change, "flag", thread.id, thread.title)
    return hidden


async def flag(
    publisher: Publisher,
    reporter: User,
    kind: object,
    item_id: object,
    reason: object,
    text: object = "",
) -> bool:
    """Flag a message or thread the reporter can see, once; return whether this flag hid it
    (it was the FLAGS_TO_HIDE-th: of flags at once exactly one says so)."""
    require_voice(reporter)
    thread, msg = await item_for(reporter, kind, item_id)
    why, words = clean_flag(reason, text)
    author_id = msg.author_id if msg is not None else thread.author_id
    if author_id == reporter.id:
        raise Forbidden(N_("you cannot flag your own post"))
    if msg is not None and msg.deleted_at is not None:
        raise ActionError("deleted", N_("this message was deleted"))
    now = datetime.now(UTC)
    target = target_of(thread, msg)
    review = Review(
        target=target, thread_id=thread.id, message_id=msg.id if msg else None,
        author_id=author_id, created_at=now, updated_at=now,
    )  # fmt: skip
    report = Flag(
        reporter_id=reporter.id, review_id="", target=target, reason=why, text=words,
        created_at=now,
    )  # fmt: skip
    change = Change()
    try:
        hidden = await run_transaction(
            _flag(change, publisher.policy, reporter, review, report, thread, msg, now)
        )
    except IntegrityError:
        raise Conflict(N_("you flagged this already; a moderator will look at it")) from None
    await publisher.publish(change)
    return hidden


# -- decisions ---------------------------------------------------------------------------------


def _require_moderator(actor: User) -> None:
    if not actor.moderates or not actor.is_active:
        raise Forbidden(N_("only moderators can do this"))


def _set_thread(
    change: Change, thread: Thread, column: str, condition: str, value: object, now: datetime
) -> Script[bool]:
    """Set one column of a thread if `condition` holds (it may compare with the new value,
    `?`); record thread.updated if it did."""
    table = Thread._meta.db_table
    extra = [value] if "?" in condition else []
    rows = yield (
        f"UPDATE {table} SET {column} = ? WHERE id = ? AND {condition} RETURNING id",  # noqa: S608
        [value, thread.id, *extra],
    )
    if not rows:
        return False
    yield from record(change, threads.UPDATED, thread.id, thread, now)
    return True


def _decide(
    change: Change, actor: User, decision: str, thread: Thread, msg: Message | None,
    reason: str, title: str, now: datetime,
) -> Script[bool]:  # fmt: skip
    """Carry out a decision; False if there was nothing to do (done already)."""
    done: bool
    action: AuditAction
    details: dict[str, object] = {"thread": thread.title}
    target = target_of(thread, msg)
    if decision == "dismiss":
        action = AuditAction.FLAGS_DISMISSED
        done = yield from decided(change, actor, target, thread, action.value, now, pending=True)
        hidden_by_flags = (msg.hidden_reason if msg else thread.hidden_reason) == HIDDEN_BY_FLAGS
        if done and hidden_by_flags:  # the flags were wrong: what they hid comes back
            yield from _restore(change, thread, msg, now)
    elif decision == "hide":
        action = AuditAction.HIDDEN
        done = yield from _hide(change, thread, msg, reason, now, over=HIDDEN_BY_FLAGS)
    elif decision == "restore":
        action, done = AuditAction.RESTORED, (yield from _restore(change, thread, msg, now))
    elif decision == "lock":
        action = AuditAction.LOCKED
        done = yield from _set_thread(change, thread, "locked_at", "locked_at IS NULL", now, now)
    elif decision == "unlock":
        action = AuditAction.UNLOCKED
        done = yield from _set_thread(
            change, thread, "locked_at", "locked_at IS NOT NULL", None, now
        )
    elif decision == "rename":
        action, details["old"], details["new"] = AuditAction.RENAMED, thread.title, title
        done = yield from _set_thread(change, thread, "title", "title <> ?", title, now)
        if done:  # found by its new words
            retitle = f"UPDATE {Thread._meta.db_table} SET terms = ? WHERE id = ?"  # noqa: S608
            yield retitle, [terms(title), thread.id]
    elif decision == "approve":
        action, done = AuditAction.APPROVED, (yield from _approve(change, thread, msg, now))
    elif decision == "delete":
        action, done = AuditAction.DELETED, (yield from _delete(change, thread, msg, "", now))
    else:  # move_to_note
        action, done = AuditAction.MOVED_TO_NOTE, (yield from _move(change, thread, msg, now))
    if not done:
        return False
    if decision != "dismiss":
        yield from decided(change, actor, target, thread, action.value, now)
    subject = msg.author if msg is not None else thread.author
    yield from entry(actor, action, subject, now, target=target, reason=reason, **details)
    return True


def _restore(change: Change, thread: Thread, msg: Message | None, now: datetime) -> Script[bool]:
    if msg is not None:
        if not (yield from sql.set_hidden(Message._meta.db_table, msg.id, None, "")):
            return False
        msg.hidden_at, msg.hidden_reason = None, ""
        yield from record(change, moderation.RESTORED, thread.id, msg, now)
        if thread.answer_id == msg.id:
            answer = desk.AnswerState(thread.id, msg)
            yield from record(change, desk.ANSWER, thread.id, answer, now)
        return True
    if not (yield from sql.set_hidden(Thread._meta.db_table, thread.id, None, "")):
        return False
    yield from record(change, threads.UPDATED, thread.id, thread, now)
    return True


def _approve(change: Change, thread: Thread, msg: Message | None, now: datetime) -> Script[bool]:
    """Let a held post out: customers see it from now on (and its thread, if it opened one)."""
    assert msg is not None
    table = Message._meta.db_table
    rows = yield (
        f"UPDATE {table} SET held_at = NULL WHERE id = ? AND held_at IS NOT NULL RETURNING id",  # noqa: S608
        [msg.id],
    )
    if not rows:
        return False
    msg.held_at = None
    opened = thread.hidden_reason == HELD_THREAD
    if opened:
        yield from _restore(change, thread, None, now)
    yield from record(change, moderation.APPROVED, thread.id, msg, now, public_message=True)
    # Now it notifies as it would have when posted: followers and mentions, and the desk of
    # a question it opened.
    yield from intend(change, REPLY, thread.id, msg.author_id, now, message_id=msg.id)
    if opened and thread.waiting_since is not None:
        yield from intend(change, QUESTION, thread.id, msg.author_id, now, message_id=msg.id)
        notify_desk(change, thread.id)
    return True


def _delete(
    change: Change, thread: Thread, msg: Message | None, marker: str, now: datetime
) -> Script[bool]:
    """Delete a message's text for good (a tombstone stays, saying a moderator did it if
    `marker`)."""
    assert msg is not None
    table = Message._meta.db_table
    rows = yield (
        f"UPDATE {table} SET body = '', html = '', terms = '', deleted_at = ?, hidden_reason = ? "  # noqa: S608
        "WHERE id = ? AND deleted_at IS NULL RETURNING id",
        [now, marker, msg.id],
    )
    if not rows:
        return False
    msg.body, msg.html, msg.terms, msg.deleted_at, msg.hidden_reason = "", "", "", now, marker
    yield from record(change, messages.DELETED, thread.id, msg, now)
    if thread.answer_id == msg.id:
        yield from record(change, desk.ANSWER, thread.id, desk.AnswerState(thread.id), now)
    return True


def _move(change: Change, thread: Thread, msg: Message | None, now: datetime) -> Script[bool]:
    """Move a public message's text into a staff note by its author, leaving a tombstone."""
    assert msg is not None
    note = Message(
        thread_id=thread.id, author_id=msg.author_id, client_id=f"moved:{msg.id}",
        audience=Audience.STAFF, body=msg.body, html=msg.html, terms=msg.terms, created_at=now,
    )  # fmt: skip
    note.author = msg.author
    if not (yield from _delete(change, thread, msg, MOVED, now)):
        return False
    yield from record(change, messages.CREATED, thread.id, note, now, new_message=note)
    return True


def _check(decision: str, thread: Thread, msg: Message | None) -> None:
    """Refuse a decision that does not apply to this item, saying why."""
    on_messages = {"delete", "approve", "move_to_note"}
    on_threads = {"lock", "unlock", "rename"}
    if msg is None and decision in on_messages:
        raise ActionError("not_for_threads", N_("{decision} applies to messages"),
                          decision=decision)  # fmt: skip
    if msg is not None and decision in on_threads:
        raise ActionError("not_for_messages", N_("{decision} applies to threads"),
                          decision=decision)  # fmt: skip
    if msg is not None and msg.deleted_at is not None and decision != "dismiss":
        raise ActionError("deleted", N_("this message was deleted"))
    if decision == "approve" and msg is not None and msg.held_at is None:
        raise Conflict(N_("this post is not waiting for approval"))
    if decision == "dismiss" and msg is not None and msg.held_at is not None:
        # Dismissing would take it off the queue while it stays held: nobody would see it.
        raise Conflict(N_("this post waits for approval: approve, hide or delete it"))
    public = msg is not None and msg.audience == Audience.ALL and not msg.author.is_staff
    if decision == "move_to_note" and not public:
        raise ActionError(
            "not_public", N_("only a customer's public message can become a staff note")
        )


async def moderate(
    publisher: Publisher,
    actor: User,
    kind: object,
    item_id: object,
    decision: object,
    reason: object = "",
    title: object = None,
) -> bool:
    """Carry out a moderator's decision on a message or thread; False if it was done already
    (by a colleague a moment before: nothing is written twice)."""
    _require_moderator(actor)
    if decision not in DECISIONS:
        raise ActionError(
            "invalid_decision",
            N_("decision must be one of {allowed}, not {decision!r:.20}"),
            allowed=", ".join(DECISIONS),
            decision=decision,
        )
    thread, msg = await item_for(actor, kind, item_id)
    await thread.fetch_related("author")
    _check(str(decision), thread, msg)
    why = clean_reason(reason, required=decision == "hide")
    new_title = clean_title(title) if decision == "rename" else ""
    now = datetime.now(UTC)
    change = Change()
    done = await run_transaction(
        _decide(change, actor, str(decision), thread, msg, why, new_title, now)
    )
    await publisher.publish(change)
    return done
