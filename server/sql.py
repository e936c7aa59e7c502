"""The few statements the ORM cannot say in one round trip: UPDATE … RETURNING and upserts.

Both dialects we run on understand them (SQLite 3.35 and newer, PostgreSQL); only the
parameter placeholders differ. Everything else goes through tortoise's query builder.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

COUNTERS = ("staff_seq", "public_seq", "staff_messages", "public_messages")


def _marks(conn: BaseDBAsyncClient, count: int, first: int = 1) -> list[str]:
    if conn.capabilities.dialect == "postgres":
        return [f"${i}" for i in range(first, first + count)]
    return ["?"] * count


async def bump_thread(
    conn: BaseDBAsyncClient,
    thread_id: str,
    *,
    public: bool,
    new_message: bool,
    now: datetime,
) -> dict[str, Any]:
    """Count one event (and maybe one message) on a thread; return its counters and header.

    The UPDATE locks the thread row until commit (PostgreSQL) or holds the single writer
    (SQLite), so the sequence numbers it hands out are gap-free and in commit order.
    """
    sets = ["staff_seq = staff_seq + 1"]
    values: list[Any] = []
    if public:
        sets.append("public_seq = public_seq + 1")
    if new_message:
        sets += ["staff_messages = staff_messages + 1", "staff_activity_at = {}"]
        values.append(now)
        if public:
            sets += ["public_messages = public_messages + 1", "public_activity_at = {}"]
            values.append(now)
    marks = _marks(conn, len(values) + 1)
    assignments = ", ".join(sets).format(*marks[:-1])
    rows = await conn.execute_query_dict(
        f"UPDATE threads SET {assignments} WHERE id = {marks[-1]} "  # noqa: S608 (placeholders)
        f"RETURNING {', '.join(COUNTERS)}, title, status",
        [*values, thread_id],
    )
    if not rows:
        raise LookupError(f"thread {thread_id} does not exist")
    return rows[0]


async def advance_read(
    conn: BaseDBAsyncClient, user_id: str, thread_id: str, count: int, now: datetime
) -> bool:
    """Move a user's read mark in a thread forward to `count`; return whether it moved.

    One statement: insert the mark, or raise an existing one that is lower. A late request
    from a stale tab must never unread anything.
    """
    a, b, c, d = _marks(conn, 4)
    rows = await conn.execute_query_dict(
        "INSERT INTO read_states (user_id, thread_id, read_messages, updated_at) "  # noqa: S608
        f"VALUES ({a}, {b}, {c}, {d}) "
        "ON CONFLICT (user_id, thread_id) DO UPDATE "
        "SET read_messages = excluded.read_messages, updated_at = excluded.updated_at "
        "WHERE read_states.read_messages < excluded.read_messages RETURNING id",
        [user_id, thread_id, count, now],
    )
    return bool(rows)


PushJobRow = tuple[str, str, str, str | None, str | None]
"""subscription_id, user_id, kind, thread_id, message_id of a job to queue."""


async def queue_push_jobs(conn: BaseDBAsyncClient, rows: list[PushJobRow], now: datetime) -> None:
    """Insert queued push jobs in one batch, without building a model per row."""
    if not rows:
        return
    marks = ", ".join(_marks(conn, 10))
    await conn.execute_many(
        "INSERT INTO push_jobs (subscription_id, user_id, kind, thread_id, message_id, "  # noqa: S608
        f"state, attempts, not_before, created_at, outcome) VALUES ({marks})",
        [[*row, "queued", 0, now, now, ""] for row in rows],
    )


async def claim_push_jobs(
    conn: BaseDBAsyncClient, ids: list[int], lease_until: datetime, now: datetime
) -> set[int]:
    """Lease due jobs to this worker in one statement; return the ids it won (another
    process may have claimed some of them first)."""
    if not ids:
        return set()
    marks = _marks(conn, len(ids) + 2)
    rows = await conn.execute_query_dict(
        f"UPDATE push_jobs SET not_before = {marks[0]} "  # noqa: S608 (placeholders)
        f"WHERE state = 'queued' AND not_before <= {marks[1]} "
        f"AND id IN ({', '.join(marks[2:])}) RETURNING id",
        [lease_until, now, *ids],
    )
    return {int(row["id"]) for row in rows}
