"""Moderation's actions on SQLite and PostgreSQL: flags count exactly and hide once, each
decision is written once however many moderators make it at once, held posts wait for approval,
the audit log cannot be edited, and moderators' pushes lead to the queue while a push about a
hidden message never goes out. The pages and sockets: tests/test_moderation_live.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from asyncpg.exceptions import RaiseError
from tortoise.exceptions import IntegrityError, OperationalError

from push.compose import compose
from push.payloads import Notification
from push.vapid import load_or_create
from push.worker import PushConfig, PushWorker
from server.actions.accounts import create_user
from server.actions.messages import delete_message, send_message
from server.actions.moderation import DECISIONS, flag, moderate
from server.actions.notifications import save_subscription
from server.actions.threads import start_thread
from server.db import close_database, open_database
from server.errors import ActionError, Conflict, Forbidden, NotFound
from server.models import (
    Audience,
    AuditEntry,
    Event,
    Flag,
    Message,
    NotificationIntent,
    PushJob,
    Review,
    ReviewState,
    Role,
    Thread,
    User,
    new_id,
)
from server.policy import Policy
from server.publisher import Publisher
from server.queries import message_for, messages_visible_to, thread_for
from server.settings import Settings
from tests.conftest import NOT_LIVE, PASSWORD, make_settings

pytestmark = pytest.mark.usefixtures("fast_passwords")

SECRET = "My contract number is 4711-0815 and my IBAN DE02 1203 0000 0000 2020 51"
PUSH_PREFIX = "http://127.0.0.1:9/push/"  # nothing listens: jobs are composed, never sent
HOLDING = Publisher(policy=Policy(hold_first_posts=1))  # a customer's first post waits


@dataclass
class World:
    settings: Settings
    admin: User
    aylin: User  # moderator
    jan: User  # employee
    weber: User  # customer, author of the thread
    tom: User  # customer, author of the message
    crowd: list[User]  # more customers, to flag
    thread: str  # Mrs Weber's question
    message: str  # Tom's reply in it, with the secret


@pytest.fixture
async def world(database_url: str, tmp_path: Path) -> AsyncIterator[World]:
    settings = make_settings(database_url, tmp_path, push_test_endpoint_prefix=PUSH_PREFIX)
    await open_database(settings)
    try:
        admin = await create_user("admin@nordlicht.example", "Sabine Admin", PASSWORD, Role.ADMIN)
        aylin = await create_user("aylin@nordlicht.example", "Aylin Kaya", PASSWORD,
                                  Role.MODERATOR, "Community")  # fmt: skip
        jan = await create_user("jan@nordlicht.example", "Jan Petersen", PASSWORD, Role.EMPLOYEE)
        weber = await create_user("weber@example.org", "Gisela Weber", PASSWORD)
        tom = await create_user("tom@example.org", "Tom Becker", PASSWORD)
        crowd = [await create_user(f"c{i}@example.org", f"Kunde {i}", PASSWORD) for i in range(6)]
        thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Is it wrong?", "w-1")
        msg, _ = await send_message(NOT_LIVE, tom, thread.id, SECRET, "t-1")
        yield World(settings, admin, aylin, jan, weber, tom, crowd, thread.id, msg.id)
    finally:
        await close_database()


async def events(thread: str, name: str) -> int:
    return await Event.filter(thread_id=thread, name=name).count()


async def audit(action: str, target: str = "") -> list[AuditEntry]:
    found = AuditEntry.filter(action=action)
    return await (found.filter(target=target) if target else found).order_by("id")


async def snapshot(w: World) -> tuple[Any, ...]:
    """What a decision could change: the item, its thread, the queue and the log."""
    msg = await Message.get(id=w.message)
    thread = await Thread.get(id=w.thread)
    return (
        (msg.body, msg.hidden_at, msg.deleted_at, msg.held_at),
        (thread.title, thread.locked_at, thread.hidden_at),
        await Review.all().values_list("state", "flags"),
        await AuditEntry.all().count(),
        await Message.filter(thread_id=w.thread).count(),
    )


# -- flags -----------------------------------------------------------------------------------


async def test_people_flagging_at_once_hide_a_message_exactly_once_and_count_exactly(
    world: World,
) -> None:
    w = world
    hid = await asyncio.gather(
        *(flag(NOT_LIVE, who, "message", w.message, "abusive") for who in w.crowd)
    )
    assert sorted(hid) == [False] * 5 + [True], "exactly one flag hid it"
    msg = await Message.get(id=w.message)
    assert msg.hidden_at is not None and msg.hidden_reason == "@flags"
    [review] = await Review.all()
    assert (review.flags, review.state) == (6, ReviewState.PENDING)
    assert await Flag.filter(review_id=review.id).count() == 6
    assert await events(w.thread, "message.hidden") == 1


async def test_people_flagging_a_thread_at_once_hide_it_exactly_once(world: World) -> None:
    w = world
    hid = await asyncio.gather(
        *(flag(NOT_LIVE, who, "thread", w.thread, "spam") for who in w.crowd[:4])
    )
    assert sorted(hid) == [False] * 3 + [True]
    assert (await Thread.get(id=w.thread)).hidden_reason == "@flags"
    assert await events(w.thread, "thread.hidden") == 1
    assert await thread_for(w.tom, w.thread) is None, "gone for customers"
    assert await thread_for(w.weber, w.thread) is not None, "its author keeps it"


async def test_a_person_flags_an_item_once_and_never_their_own_post(world: World) -> None:
    w = world
    first, second, third = w.crowd[:3]
    assert await flag(NOT_LIVE, first, "message", w.message, "spam") is False
    with pytest.raises(Conflict):
        await flag(NOT_LIVE, first, "message", w.message, "abusive")
    with pytest.raises(Forbidden):
        await flag(NOT_LIVE, w.tom, "message", w.message, "spam")
    with pytest.raises(Forbidden):
        await flag(NOT_LIVE, w.weber, "thread", w.thread, "spam")
    assert await flag(NOT_LIVE, second, "message", w.message, "spam") is False, "2, not 3"
    assert await flag(NOT_LIVE, third, "message", w.message, "other", "Private data") is True
    assert [r.flags for r in await Review.all()] == [3]
    assert await Flag.all().count() == 3


async def test_bad_flags_get_a_clear_error_and_write_nothing(world: World) -> None:
    w = world
    who = w.crowd[0]
    internal, _, _ = await start_thread(NOT_LIVE, w.jan, "Rollout", "Internal", "i-1",
                                        visibility="internal")  # fmt: skip
    note, _ = await send_message(NOT_LIVE, w.jan, w.thread, "Note", "n-1", Audience.STAFF)
    gone, _ = await send_message(NOT_LIVE, w.tom, w.thread, "Oops", "t-2")
    await delete_message(NOT_LIVE, w.tom, gone.id)
    for reason, text, code in (
        ("nonsense", "", "invalid_reason"),
        (None, "", "invalid_reason"),
        ("other", "", "text_required"),
        ("other", "   \n ", "text_required"),
        ("spam", "x" * 501, "invalid_text"),
        ("spam", "bell \x07", "invalid_text"),
    ):
        with pytest.raises(ActionError) as err:
            await flag(NOT_LIVE, who, "message", w.message, reason, text)
        assert err.value.code == code, (reason, text)
    with pytest.raises(ActionError) as err:
        await flag(NOT_LIVE, who, "user", w.message, "spam")
    assert err.value.code == "invalid_kind"
    with pytest.raises(ActionError) as err:
        await flag(NOT_LIVE, who, "message", gone.id, "spam")
    assert err.value.code == "deleted"

    async def refusal(kind: str, item: object) -> tuple[int, str, str]:
        with pytest.raises(NotFound) as err:
            await flag(NOT_LIVE, who, kind, item, "spam")
        return err.value.status, err.value.code, err.value.message

    internal_message = await Message.get(thread_id=internal.id)
    missing_message = await refusal("message", new_id())
    for hidden in (note.id, internal_message.id, "../x", "", None, 12):
        assert await refusal("message", hidden) == missing_message, hidden
    assert await refusal("thread", internal.id) == await refusal("thread", new_id())
    assert await Flag.all().count() == 0 and await Review.all().count() == 0


# -- decisions -------------------------------------------------------------------------------


async def prepare(w: World, decision: str) -> tuple[str, str]:
    """Make the item a decision applies to; return (kind, id)."""
    if decision in ("lock", "rename", "unlock"):
        if decision == "unlock":
            await moderate(NOT_LIVE, w.aylin, "thread", w.thread, "lock")
        return "thread", w.thread
    if decision == "dismiss":
        await flag(NOT_LIVE, w.crowd[0], "message", w.message, "spam")
    if decision == "restore":
        await moderate(NOT_LIVE, w.aylin, "message", w.message, "hide", "abusive")
    if decision == "approve":
        held, _ = await send_message(HOLDING, w.crowd[0], w.thread, "First words", "c-1")
        assert held.held_at is not None
        return "message", held.id
    return "message", w.message


@pytest.mark.parametrize("decision", [d for d in DECISIONS] + ["hide-thread"])
async def test_two_moderators_making_one_decision_at_once_write_it_once(
    world: World, decision: str
) -> None:
    w = world
    if decision == "hide-thread":
        kind, item, decision = "thread", w.thread, "hide"
    else:
        kind, item = await prepare(w, decision)
    before = await AuditEntry.all().count()

    async def decide(who: User) -> bool | ActionError:
        try:
            return await moderate(NOT_LIVE, who, kind, item, decision, "abusive", "Renamed")
        except ActionError as err:  # it was done before this one looked: told so
            return err

    for _ in range(2):  # at once, then once more: nothing is left to do
        done = await asyncio.gather(decide(w.aylin), decide(w.admin))
        assert done.count(True) == (1 if _ == 0 else 0), (decision, done)
        for other in done:
            assert other is True or other is False or other.code in ("deleted", "conflict")
        new = await AuditEntry.all().order_by("-id")
        assert len(new) == before + 1, [e.action for e in new]
        assert new[0].target == f"{kind}:{item}" and new[0].actor_id in (w.aylin.id, w.admin.id)
    if decision == "move_to_note":
        assert await Message.filter(client_id=f"moved:{item}").count() == 1


@pytest.mark.parametrize("who", ["weber", "jan"])
async def test_customers_and_employees_cannot_moderate_and_nothing_changes(
    world: World, who: str
) -> None:
    w = world
    actor = getattr(w, who)
    await flag(NOT_LIVE, w.crowd[0], "message", w.message, "spam")
    before = await snapshot(w)
    for decision in DECISIONS:
        for kind, item in (("message", w.message), ("thread", w.thread)):
            with pytest.raises(Forbidden):
                await moderate(NOT_LIVE, actor, kind, item, decision, "abusive", "Mine now")
    assert await snapshot(w) == before


async def test_dismissing_flags_shows_again_what_they_hid_but_not_what_a_moderator_hid(
    world: World,
) -> None:
    w = world
    for who in w.crowd[:3]:
        await flag(NOT_LIVE, who, "message", w.message, "spam")
    assert (await Message.get(id=w.message)).hidden_reason == "@flags"
    assert await moderate(NOT_LIVE, w.aylin, "message", w.message, "dismiss") is True
    msg = await Message.get(id=w.message)
    assert msg.hidden_at is None and msg.hidden_reason == ""
    [review] = await Review.all()
    assert (review.state, review.flags, review.decision) == (ReviewState.DONE, 0, "flags_dismissed")
    assert len(await audit("flags_dismissed", f"message:{w.message}")) == 1
    assert await events(w.thread, "message.restored") == 1
    # A new flag puts it back on the queue, counting from nothing.
    assert await flag(NOT_LIVE, w.crowd[3], "message", w.message, "spam") is False
    assert [(r.state, r.flags) for r in await Review.all()] == [(ReviewState.PENDING, 1)]

    other, _ = await send_message(NOT_LIVE, w.tom, w.thread, "You idiot", "t-3")
    await moderate(NOT_LIVE, w.aylin, "message", other.id, "hide", "abusive")
    await flag(NOT_LIVE, w.crowd[0], "message", other.id, "abusive")
    assert await moderate(NOT_LIVE, w.admin, "message", other.id, "dismiss") is True
    assert (await Message.get(id=other.id)).hidden_reason == "abusive", "still hidden"


async def test_a_locked_thread_takes_replies_from_moderators_and_staff_notes_only(
    world: World,
) -> None:
    w = world
    await moderate(NOT_LIVE, w.aylin, "thread", w.thread, "lock", "Heated")
    count = await Message.filter(thread_id=w.thread).count()
    for who in (w.weber, w.tom, w.jan):
        with pytest.raises(Forbidden, match="a moderator locked this thread"):
            await send_message(NOT_LIVE, who, w.thread, "But…", new_id())
    assert await Message.filter(thread_id=w.thread).count() == count
    await send_message(NOT_LIVE, w.jan, w.thread, "Internal: watch it", "n-1", Audience.STAFF)
    await send_message(NOT_LIVE, w.aylin, w.thread, "Closed for replies.", "a-1")
    await send_message(NOT_LIVE, w.admin, w.thread, "Agreed.", "s-1")
    await moderate(NOT_LIVE, w.admin, "thread", w.thread, "unlock")
    await send_message(NOT_LIVE, w.weber, w.thread, "Thanks", "w-2")
    assert [e.action for e in await AuditEntry.all().order_by("id")] == ["locked", "unlocked"]


async def test_renaming_records_the_old_and_new_title(world: World) -> None:
    w = world
    assert await moderate(NOT_LIVE, w.aylin, "thread", w.thread, "rename", "", "  Meter  reading ")
    assert (await Thread.get(id=w.thread)).title == "Meter reading"
    [entry] = await audit("renamed")
    assert (entry.details["old"], entry.details["new"]) == ("Meter", "Meter reading")
    assert entry.subject_id == w.weber.id and entry.actor_id == w.aylin.id
    with pytest.raises(ActionError) as err:
        await moderate(NOT_LIVE, w.aylin, "thread", w.thread, "rename", "", " ")
    assert err.value.code == "empty_title"


async def test_a_held_post_reaches_its_author_and_staff_until_a_moderator_approves_it(
    world: World,
) -> None:
    w = world
    newcomer = w.crowd[0]
    held, _ = await send_message(HOLDING, newcomer, w.thread, "Hello all", "c-1")
    thread = await Thread.get(id=w.thread)

    async def sees(who: User) -> bool:
        shown = {m.id for m in await messages_visible_to(who, thread)}
        return held.id in shown and await message_for(who, held.id) is not None

    assert [await sees(p) for p in (newcomer, w.jan, w.weber, w.tom)] == [True, True, False, False]
    assert thread.public_messages == 2, "customers' counts leave it out"
    [review] = await Review.all()
    assert review.held and review.state == ReviewState.PENDING
    with pytest.raises(Conflict):  # it would leave the queue, held for ever
        await moderate(NOT_LIVE, w.aylin, "message", held.id, "dismiss")
    assert [(r.state, r.held) for r in await Review.all()] == [(ReviewState.PENDING, True)]
    assert await moderate(NOT_LIVE, w.aylin, "message", held.id, "approve") is True
    thread = await Thread.get(id=w.thread)
    assert await sees(w.weber) and thread.public_messages == 3
    assert await events(w.thread, "message.approved") == 1
    again, _ = await send_message(HOLDING, newcomer, w.thread, "Me again", "c-2")
    assert again.held_at is None, "one approved post was enough"

    other = w.crowd[1]
    started, first, _ = await start_thread(HOLDING, other, "Hi", "Anyone?", "c-3")
    assert started.hidden_reason == "@held"
    assert await thread_for(w.weber, started.id) is None
    assert await thread_for(other, started.id) is not None
    more, _ = await send_message(HOLDING, other, started.id, "Also: it blinks.", "c-4")
    assert more.held_at is not None, "its author adds to it; that waits as well"
    with pytest.raises(NotFound):  # nobody else writes in a thread they cannot see
        await send_message(HOLDING, w.tom, started.id, "Me too", "c-5")
    await moderate(NOT_LIVE, w.aylin, "message", first.id, "approve")
    assert await thread_for(w.weber, started.id) is not None
    # Approved, it notifies as a new post would have: followers, mentions, and the desk.
    kinds = await NotificationIntent.filter(thread_id=started.id).values_list("kind", flat=True)
    assert sorted(str(kind) for kind in kinds) == ["moderation", "moderation", "question", "reply"]


async def test_bad_decisions_get_a_clear_error_and_change_nothing(world: World) -> None:
    w = world
    note, _ = await send_message(NOT_LIVE, w.jan, w.thread, "Note", "n-1", Audience.STAFF)
    reply, _ = await send_message(NOT_LIVE, w.jan, w.thread, "Answer", "j-1")
    before = await snapshot(w)
    for kind, item, decision, reason, code in (
        ("message", w.message, "ban", "", "invalid_decision"),
        ("message", w.message, None, "", "invalid_decision"),
        ("thread", w.thread, "delete", "", "not_for_threads"),
        ("thread", w.thread, "approve", "", "not_for_threads"),
        ("thread", w.thread, "move_to_note", "", "not_for_threads"),
        ("message", w.message, "lock", "", "not_for_messages"),
        ("message", w.message, "rename", "", "not_for_messages"),
        ("message", w.message, "approve", "", "conflict"),
        ("message", w.message, "hide", "", "reason_required"),
        ("message", w.message, "hide", "x" * 201, "reason_too_long"),
        ("thread", w.thread, "hide", " ", "reason_required"),
        ("message", note.id, "move_to_note", "", "not_public"),
        ("message", reply.id, "move_to_note", "", "not_public"),
        ("post", w.message, "hide", "spam", "invalid_kind"),
        ("message", new_id(), "hide", "spam", "not_found"),
        ("thread", new_id(), "lock", "", "not_found"),
    ):
        with pytest.raises(ActionError) as err:
            await moderate(NOT_LIVE, w.aylin, kind, item, decision, reason)
        assert err.value.code == code, (kind, decision, reason)
    assert await snapshot(w) == before


# -- the audit log ---------------------------------------------------------------------------


async def test_the_audit_log_refuses_any_change_or_deletion_through_the_orm(world: World) -> None:
    w = world
    await moderate(NOT_LIVE, w.aylin, "message", w.message, "hide", "abusive")
    [entry] = await AuditEntry.all()
    # SQLite's RAISE(ABORT) comes out as tortoise's IntegrityError; PostgreSQL's RAISE
    # EXCEPTION (SQLSTATE P0001) as asyncpg's own RaiseError, which tortoise passes through.
    refused = (IntegrityError, OperationalError, RaiseError)
    entry.reason = "nothing happened"
    with pytest.raises(refused, match="never changed"):
        await entry.save()
    with pytest.raises(refused, match="never changed"):
        await AuditEntry.filter(id=entry.id).update(action="restored")
    with pytest.raises(refused, match="never changed"):
        await AuditEntry.filter(id=entry.id).update(details={})
    with pytest.raises(refused, match="never deleted"):
        await entry.delete()
    with pytest.raises(refused, match="never deleted"):
        await AuditEntry.all().delete()
    [after] = await AuditEntry.all()
    assert (after.action, after.reason, after.target) == ("hidden", "abusive",
                                                          f"message:{w.message}")  # fmt: skip
    assert after.details["actor"]["name"] == "Aylin Kaya"


# -- pushes ----------------------------------------------------------------------------------


async def device(w: World, who: User) -> None:
    await save_subscription(w.settings, who, PUSH_PREFIX + new_id(), "B" + "A" * 86, "A" * 22,
                            "Phone")  # fmt: skip


async def expand(w: World, tmp_path: Path) -> None:
    keys = load_or_create(tmp_path, "", "mailto:ops@nordlicht.example")
    await PushWorker(PushConfig.from_settings(w.settings, keys)).expand_intents()


async def test_a_flag_queues_a_moderators_push_that_opens_the_queue_at_the_thread(
    world: World, tmp_path: Path
) -> None:
    w = world
    for who in (w.aylin, w.jan, w.weber, w.crowd[1]):
        await device(w, who)
    await flag(NOT_LIVE, w.crowd[0], "message", w.message, "confidential")
    await expand(w, tmp_path)
    jobs = await PushJob.filter(kind="moderation")
    assert {j.user_id for j in jobs} == {w.aylin.id}, "moderators alone"
    note = await compose(jobs[0], w.aylin)
    assert isinstance(note, Notification), note
    assert note.url == f"/moderation?thread={w.thread}"
    assert SECRET not in note.body and note.kind == "moderation"


async def test_a_push_about_a_message_hidden_before_it_went_out_is_not_composed(
    world: World, tmp_path: Path
) -> None:
    w = world
    await device(w, w.weber)  # she follows her thread
    reply, _ = await send_message(NOT_LIVE, w.tom, w.thread, "Call me: 0170 1234567", "t-9")
    await expand(w, tmp_path)
    [job] = await PushJob.filter(user_id=w.weber.id, message_id=reply.id)
    assert isinstance(await compose(job, w.weber), Notification), "due before the hiding"
    await moderate(NOT_LIVE, w.aylin, "message", reply.id, "hide", "confidential")
    outcome = await compose(job, w.weber)
    assert isinstance(outcome, str) and outcome == "deleted or not visible"
    staff = await compose(job, w.jan)  # were it staff's job, no text either
    assert isinstance(staff, str)
