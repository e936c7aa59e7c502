"""Transactions written as scripts (server/txscript.py), on SQLite and PostgreSQL: all of a
script commits or none of it, database errors come out as tortoise's, and the connection is
shared safely with ORM transactions running at the same time."""

from __future__ import annotations

import asyncio

import pytest
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from server.actions.messages import send_message
from server.actions.threads import start_thread, update_thread
from server.errors import Forbidden, NotFound
from server.models import Event, Message, Thread, User
from server.txscript import Rows, Script, dialect_sql, run_in, run_transaction
from tests.conftest import NOT_LIVE


def retitle(thread_id: str, titles: list[str], fail_after: int | None = None) -> Script[Rows]:
    """Set the title once per entry, reading each back; raise after `fail_after` of them."""
    rows: Rows = []
    for done, title in enumerate(titles):
        if done == fail_after:
            raise RuntimeError("the script gave up")
        rows = yield (
            "UPDATE threads SET title = ? WHERE id = ? RETURNING title",
            [title, thread_id],
        )
    return rows


def test_placeholders_are_numbered_for_postgresql_only() -> None:
    class Conn:
        def __init__(self, dialect: str) -> None:
            self.capabilities = type("Caps", (), {"dialect": dialect})()

    sql = "UPDATE t SET a = ?, b = ? WHERE id IN (?, ?)"
    assert dialect_sql(Conn("postgres"), sql) == "UPDATE t SET a = $1, b = $2 WHERE id IN ($3, $4)"  # type: ignore[arg-type]
    assert dialect_sql(Conn("sqlite"), sql) == sql  # type: ignore[arg-type]


async def test_a_script_returns_what_its_last_statement_read(
    weber_and_jan: dict[str, User],
) -> None:
    thread, _, _ = await start_thread(NOT_LIVE, weber_and_jan["weber"], "Meter", "Hello", "c-1")
    assert await run_transaction(retitle(thread.id, ["One", "Two"])) == [{"title": "Two"}]
    assert (await Thread.get(id=thread.id)).title == "Two"


async def test_a_script_that_fails_half_way_leaves_nothing_behind(
    weber_and_jan: dict[str, User],
) -> None:
    thread, _, _ = await start_thread(NOT_LIVE, weber_and_jan["weber"], "Meter", "Hello", "c-1")
    with pytest.raises(RuntimeError, match="gave up"):
        await run_transaction(retitle(thread.id, ["One", "Two"], fail_after=1))
    assert (await Thread.get(id=thread.id)).title == "Meter"
    # The connection is free again for the next transaction, script or ORM.
    await run_transaction(retitle(thread.id, ["Three"]))
    async with in_transaction() as conn:
        assert await run_in(conn, retitle(thread.id, ["Four"])) == [{"title": "Four"}]
    assert (await Thread.get(id=thread.id)).title == "Four"


async def test_a_constraint_error_comes_out_as_tortoises_and_rolls_back(
    weber_and_jan: dict[str, User],
) -> None:
    thread, first, _ = await start_thread(NOT_LIVE, weber_and_jan["weber"], "Meter", "Hello", "c-1")

    def clash() -> Script[None]:
        yield ("UPDATE threads SET title = ? WHERE id = ?", ["Changed", thread.id])
        yield (  # the message's id again
            "INSERT INTO messages (id, thread_id, author_id, client_id, seq, audience, body, "
            "html, created_at) SELECT id, thread_id, author_id, 'other', seq, audience, body, "
            "html, created_at FROM messages WHERE id = ?",
            [first.id],
        )

    with pytest.raises(IntegrityError):
        await run_transaction(clash())
    assert (await Thread.get(id=thread.id)).title == "Meter"
    assert await Message.filter(thread_id=thread.id).count() == 1


async def test_concurrent_sends_and_orm_transactions_number_every_event_once(
    weber_and_jan: dict[str, User],
) -> None:
    weber, jan = weber_and_jan["weber"], weber_and_jan["jan"]
    # A discussion: no status moves with the replies, so every event here is counted below.
    thread, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Hello", "c-1", "discussion")
    sends = [
        send_message(NOT_LIVE, jan if i % 2 else weber, thread.id, f"m{i}", f"x{i}")
        for i in range(20)
    ]
    edits = [update_thread(NOT_LIVE, jan, thread.id, title=f"Meter {i}") for i in range(10)]
    await asyncio.gather(*sends, *edits)
    stored = await Thread.get(id=thread.id)
    assert stored.staff_seq == 31 and stored.staff_messages == 21
    seqs = sorted(e.staff_seq for e in await Event.filter(thread_id=thread.id))
    assert seqs == list(range(1, 32))
    positions = await Message.filter(thread_id=thread.id).values_list("seq", flat=True)
    assert len(set(positions)) == 21


async def test_a_customer_cannot_write_into_a_closed_or_an_internal_thread(
    weber_and_jan: dict[str, User],
) -> None:
    weber, jan = weber_and_jan["weber"], weber_and_jan["jan"]
    public, _, _ = await start_thread(NOT_LIVE, weber, "Meter", "Hello", "c-1")
    internal, _, _ = await start_thread(
        NOT_LIVE, jan, "Rota", "Who is on call?", "j-1", "discussion", "internal"
    )
    await update_thread(NOT_LIVE, jan, public.id, status="closed")
    with pytest.raises(Forbidden, match="closed"):
        await send_message(NOT_LIVE, weber, public.id, "Still broken", "c-2")
    with pytest.raises(NotFound):
        await send_message(NOT_LIVE, weber, internal.id, "Let me in", "c-3")
    with pytest.raises(NotFound):
        await send_message(NOT_LIVE, weber, "no-such-thread", "Hello?", "c-4")
    # Nothing was counted or stored for the refused sends; staff may still write.
    assert (await Thread.get(id=public.id)).staff_seq == 2
    assert (await Thread.get(id=internal.id)).staff_seq == 1
    assert await Message.filter(author_id=weber.id).count() == 1
    message, created = await send_message(NOT_LIVE, jan, public.id, "Closing note", "j-2")
    assert created and message.seq == 3
