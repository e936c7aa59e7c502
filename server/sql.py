"""The statements the ORM cannot say in one round trip: UPDATE … RETURNING, upserts, and the
send transaction as one script (server/txscript.py runs it in one hop on SQLite).

Both dialects we run on understand them (SQLite 3.35 and newer, PostgreSQL); statements are
written with `?` placeholders and numbered for PostgreSQL by txscript. Everything else goes
through tortoise's query builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.txscript import Rows, Script, dialect_sql, run_in

COUNTERS = ("staff_seq", "public_seq", "staff_messages", "public_messages")


def bump_thread_script(
    thread_id: str,
    *,
    public: bool,
    new_message: bool,
    now: datetime,
    writer_is_staff: bool | None = None,
) -> Script[dict[str, Any] | None]:
    """Count one event (and maybe one message) on a thread; return the thread row after it.

    The UPDATE locks the thread row until commit (PostgreSQL) or holds the single writer
    (SQLite), so the sequence numbers it hands out are gap-free and in commit order. With
    `writer_is_staff` False, a thread a customer may not see or write in (internal, closed)
    is left alone and None comes back, as for a thread that does not exist.
    """
    sets = ["staff_seq = staff_seq + 1"]
    values: list[Any] = []
    if public:
        sets.append("public_seq = public_seq + 1")
    if new_message:
        sets += ["staff_messages = staff_messages + 1", "staff_activity_at = ?"]
        values.append(now)
        if public:
            sets += ["public_messages = public_messages + 1", "public_activity_at = ?"]
            values.append(now)
    where = "id = ?"
    if writer_is_staff is False:
        where += " AND visibility = 'public' AND status <> 'closed'"
    rows = yield (
        f"UPDATE threads SET {', '.join(sets)} WHERE {where} RETURNING *",  # noqa: S608
        [*values, thread_id],
    )
    return rows[0] if rows else None


async def bump_thread(
    conn: BaseDBAsyncClient,
    thread_id: str,
    *,
    public: bool,
    new_message: bool,
    now: datetime,
) -> dict[str, Any]:
    """Run bump_thread_script inside the caller's transaction; the thread must exist."""
    row = await run_in(
        conn, bump_thread_script(thread_id, public=public, new_message=new_message, now=now)
    )
    if row is None:
        raise LookupError(f"thread {thread_id} does not exist")
    return row


def advance_read_script(user_id: str, thread_id: str, count: int, now: datetime) -> Script[bool]:
    """Move a user's read mark in a thread forward to `count`; return whether it moved.

    One statement: insert the mark, or raise an existing one that is lower. A late request
    from a stale tab must never unread anything.
    """
    rows = yield (
        "INSERT INTO read_states (user_id, thread_id, read_messages, updated_at) "
        "VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id, thread_id) DO UPDATE "
        "SET read_messages = excluded.read_messages, updated_at = excluded.updated_at "
        "WHERE read_states.read_messages < excluded.read_messages RETURNING id",
        [user_id, thread_id, count, now],
    )
    return bool(rows)


async def advance_read(
    conn: BaseDBAsyncClient, user_id: str, thread_id: str, count: int, now: datetime
) -> bool:
    """Run advance_read_script on a connection or inside the caller's transaction."""
    return await run_in(conn, advance_read_script(user_id, thread_id, count, now))


@dataclass(slots=True, frozen=True)
class NewMessage:
    """Everything the send transaction writes, decided before it starts."""

    id: str
    thread_id: str
    author_id: str
    author_is_staff: bool
    client_id: str
    public: bool  # audience "all"; False: a staff note
    body: str
    html: str
    event_name: str
    intent_kind: str
    viewers: str  # who has the thread open (space-separated ids), for the push intent
    now: datetime


@dataclass(slots=True, frozen=True)
class Sent:
    thread: dict[str, Any]  # the thread row after the message
    read_moved: bool  # the author's read mark moved forward


def send_script(m: NewMessage) -> Script[Sent | None]:
    """Store a new message with its event, follow, push intent and the author's read mark.

    Returns None, having written nothing, when the author may not write in the thread (or it
    does not exist). A retried (author, client_id) fails the messages' unique constraint.
    """
    thread = yield from bump_thread_script(
        m.thread_id, public=m.public, new_message=True, now=m.now, writer_is_staff=m.author_is_staff
    )
    if thread is None:
        return None
    seq = thread["staff_seq"]
    audience = "all" if m.public else "staff"
    yield (
        "INSERT INTO messages (id, thread_id, author_id, client_id, seq, audience, body, html, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [m.id, m.thread_id, m.author_id, m.client_id, seq, audience, m.body, m.html, m.now],
    )
    yield (
        "INSERT INTO events (thread_id, audience, staff_seq, public_seq, name, message_id, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [m.thread_id, audience, seq, thread["public_seq"] if m.public else None, m.event_name,
         m.id, m.now],
    )  # fmt: skip
    # An existing follow (or mute) stays as it is.
    yield (
        "INSERT INTO follows (user_id, thread_id, state, created_at) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (user_id, thread_id) DO NOTHING",
        [m.author_id, m.thread_id, "following", m.now],
    )
    yield (
        "INSERT INTO notification_intents (kind, thread_id, message_id, actor_id, viewers, "
        "expanded_upto, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [m.intent_kind, m.thread_id, m.id, m.author_id, m.viewers, "", m.now],
    )
    count = thread["staff_messages" if m.author_is_staff else "public_messages"]
    # Whoever writes has read the thread, whether from the socket, a form or the API.
    moved = yield from advance_read_script(m.author_id, m.thread_id, count, m.now)
    return Sent(thread, moved)


PushJobRow = tuple[str, str, str, str | None, str | None]
"""subscription_id, user_id, kind, thread_id, message_id of a job to queue."""


async def queue_push_jobs(conn: BaseDBAsyncClient, rows: list[PushJobRow], now: datetime) -> None:
    """Insert queued push jobs in one batch, without building a model per row."""
    if not rows:
        return
    await conn.execute_many(
        dialect_sql(
            conn,
            "INSERT INTO push_jobs (subscription_id, user_id, kind, thread_id, message_id, state, "
            "attempts, not_before, created_at, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        ),
        [[*row, "queued", 0, now, now, ""] for row in rows],
    )


async def claim_push_jobs(
    conn: BaseDBAsyncClient, ids: list[int], lease_until: datetime, now: datetime
) -> set[int]:
    """Lease due jobs to this worker in one statement; return the ids it won (another
    process may have claimed some of them first)."""
    if not ids:
        return set()
    rows = await run_in(conn, _claim_script(ids, lease_until, now))
    return {int(row["id"]) for row in rows}


def _claim_script(ids: list[int], lease_until: datetime, now: datetime) -> Script[Rows]:
    marks = ", ".join(["?"] * len(ids))
    rows = yield (
        "UPDATE push_jobs SET not_before = ? WHERE state = 'queued' AND not_before <= ? "  # noqa: S608
        f"AND id IN ({marks}) RETURNING id",
        [lease_until, now, *ids],
    )
    return rows
