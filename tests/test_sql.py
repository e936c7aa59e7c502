"""The hand-written statements (server/sql.py) and the actions built on them, on SQLite and
PostgreSQL: counters come back from the UPDATE, read marks only move forward, and a retried
send is refused by the constraint without leaving half a record behind."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from server import sql
from server.actions.messages import send_message
from server.actions.reads import mark_read
from server.actions.threads import start_thread
from server.errors import Conflict
from server.models import (
    Audience,
    Event,
    Follow,
    FollowState,
    Message,
    PushJob,
    PushSubscription,
    ReadState,
    Thread,
    User,
)
from server.txscript import run_in, run_transaction
from tests.conftest import NOT_LIVE


async def test_bump_thread_returns_the_new_counters_per_audience(
    weber_and_jan: dict[str, User],
) -> None:
    thread, _, _ = await start_thread(NOT_LIVE, weber_and_jan["weber"], "Meter", "Hello", "c-1")
    moment = datetime.now(UTC)
    async with in_transaction() as conn:
        note = await run_in(
            conn, sql.bump_thread(thread.id, public=False, new_message=True, now=moment)
        )
        public = await run_in(
            conn, sql.bump_thread(thread.id, public=True, new_message=False, now=moment)
        )
    assert note is not None and public is not None
    assert (note["staff_seq"], note["public_seq"]) == (2, 1)
    assert (note["staff_messages"], note["public_messages"]) == (2, 1)
    assert (public["staff_seq"], public["public_seq"]) == (3, 2)
    assert public["title"] == "Meter" and public["status"] == "open"
    stored = await Thread.get(id=thread.id)
    assert (stored.staff_seq, stored.public_seq, stored.staff_messages) == (3, 2, 2)
    assert stored.staff_activity_at >= moment > stored.public_activity_at


async def test_bump_thread_of_a_missing_thread_finds_nothing(
    weber_and_jan: dict[str, User],
) -> None:
    bump = sql.bump_thread("no-such-thread", public=True, new_message=True, now=datetime.now(UTC))
    assert await run_transaction(bump) is None


async def test_a_read_mark_moves_forward_only(weber_and_jan: dict[str, User]) -> None:
    thread, _, _ = await start_thread(NOT_LIVE, weber_and_jan["weber"], "Meter", "Hello", "c-1")
    user, moment = weber_and_jan["jan"].id, datetime.now(UTC)

    async def advance(count: int) -> bool:
        return await run_transaction(sql.advance_read(user, thread.id, count, moment))

    assert await advance(3) is True  # inserted
    assert await advance(3) is False  # no change
    assert await advance(1) is False  # stale tab
    assert (await ReadState.get(user_id=user, thread_id=thread.id)).read_messages == 3
    assert await advance(5) is True
    assert (await ReadState.get(user_id=user, thread_id=thread.id)).read_messages == 5
    assert await ReadState.filter(user_id=user).count() == 1


async def test_mark_read_with_an_older_copy_of_the_thread_unreads_nothing(
    weber_and_jan: dict[str, User],
) -> None:
    weber, jan = weber_and_jan["weber"], weber_and_jan["jan"]
    thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Hello", "c-1")
    old_copy = await Thread.get(id=thread.id)
    await send_message(NOT_LIVE, jan, thread.id, "Tuesday", "j-1")
    assert await mark_read(NOT_LIVE, weber, await Thread.get(id=thread.id)) == 2
    await mark_read(NOT_LIVE, weber, old_copy)
    assert (await ReadState.get(user_id=weber.id, thread_id=thread.id)).read_messages == 2


async def test_a_retried_send_is_stored_once_and_leaves_no_trace(
    weber_and_jan: dict[str, User],
) -> None:
    weber, jan = weber_and_jan["weber"], weber_and_jan["jan"]
    thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Hello", "c-1")
    first, created = await send_message(NOT_LIVE, jan, thread.id, "Tuesday", "j-1")
    again, created_again = await send_message(NOT_LIVE, jan, thread.id, "Tuesday", "j-1")
    assert (created, created_again) == (True, False)
    assert again.id == first.id
    stored = await Thread.get(id=thread.id)
    # The refused retry's counter bump and events were rolled back with it (the first reply
    # answered the question: its message and the status change are the two events after
    # the question's first message).
    assert (stored.staff_seq, stored.staff_messages) == (3, 2)
    assert await Event.filter(thread_id=thread.id).count() == 3
    assert await Message.filter(thread_id=thread.id).count() == 2


async def test_a_client_id_reused_in_another_thread_is_a_conflict(
    weber_and_jan: dict[str, User],
) -> None:
    weber, jan = weber_and_jan["weber"], weber_and_jan["jan"]
    one, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Hello", "c-1")
    two, _, _ = await start_thread(NOT_LIVE, weber, "Bill", "Hi", "c-2")
    await send_message(NOT_LIVE, jan, one.id, "Tuesday", "j-1")
    with pytest.raises(Conflict):
        await send_message(NOT_LIVE, jan, two.id, "Tuesday", "j-1")
    assert (await Thread.get(id=two.id)).staff_seq == 1


async def test_writing_keeps_an_existing_mute(weber_and_jan: dict[str, User]) -> None:
    weber, jan = weber_and_jan["weber"], weber_and_jan["jan"]
    thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Hello", "c-1")
    await Follow.filter(user_id=weber.id, thread_id=thread.id).update(state=FollowState.MUTED)
    await send_message(NOT_LIVE, weber, thread.id, "Still there?", "c-2")
    await send_message(NOT_LIVE, jan, thread.id, "Yes", "j-1", Audience.STAFF)
    follows = {f.user_id: f.state for f in await Follow.filter(thread_id=thread.id)}
    assert follows == {weber.id: FollowState.MUTED, jan.id: FollowState.FOLLOWING}


async def test_a_due_job_is_leased_to_one_claim_only(weber_and_jan: dict[str, User]) -> None:
    weber = weber_and_jan["weber"]
    thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Hello", "c-1")
    phone = await PushSubscription.create(
        user=weber, endpoint="https://push.example/a", p256dh="k", auth="a"
    )
    moment = datetime.now(UTC)
    async with in_transaction() as conn:
        rows: list[sql.PushJobRow] = [(phone.id, weber.id, "reply", thread.id, None)] * 3
        await sql.queue_push_jobs(conn, rows, moment)
    first, second, later = [j.id for j in await PushJob.all().order_by("id")]
    await PushJob.filter(id=later).update(not_before=moment + timedelta(minutes=5))
    lease, client = moment + timedelta(minutes=1), get_connection("default")
    assert await sql.claim_push_jobs(client, [first, second, later], lease, moment) == {
        first,
        second,
    }
    assert await sql.claim_push_jobs(client, [first, second, later], lease, moment) == set()
    assert await sql.claim_push_jobs(client, [], lease, moment) == set()
    leased = [j.not_before for j in await PushJob.filter(id__in=[first, second])]
    assert all(abs((value - lease).total_seconds()) < 1 for value in leased)
