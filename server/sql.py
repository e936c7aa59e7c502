"""The statements the ORM cannot say in one round trip: UPDATE … RETURNING and upserts, as
script steps (server/txscript.py) that compose into any transaction.

Rows are written from model instances (server/adapters/tortoise.py): no statement here
repeats a model's defaults or spells an enum value. Both dialects we run on understand them
(SQLite 3.35 and newer, PostgreSQL); statements use `?` placeholders, numbered for PostgreSQL
by txscript.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.backends.base.client import BaseDBAsyncClient

from server.adapters.tortoise import columns_of, insert_many, new_row
from server.models import (
    Follow,
    FollowState,
    PushJob,
    PushJobState,
    ReadState,
    Review,
    ReviewState,
    SpaceMember,
    Thread,
    ThreadKind,
    ThreadStatus,
    Visibility,
)
from server.txscript import Rows, Script, dialect_sql, run_in

COUNTERS = ("staff_seq", "public_seq", "staff_messages", "public_messages")


def bump_thread(
    thread_id: str,
    *,
    public: bool,
    new_message: bool,
    now: datetime,
    writer_is_staff: bool | None = None,
    writer_id: str = "",
    locked_ok: bool = True,
    public_message: bool = False,
) -> Script[dict[str, Any] | None]:
    """Count one event (and maybe one message) on a thread; return the thread row after it.

    The UPDATE locks the thread row until commit (PostgreSQL) or holds the single writer
    (SQLite), so the sequence numbers it hands out are gap-free and in commit order. With
    `writer_is_staff` False, a thread a customer may not see or write in (internal, closed)
    is left alone and None comes back, as for a thread that does not exist; so is a locked
    thread unless `locked_ok`. `public_message` counts a message customers see from now on
    (a held post a moderator approved) for them alone.
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
    elif public_message:
        sets += ["public_messages = public_messages + 1", "public_activity_at = ?"]
        values.append(now)
    where = "id = ?"
    values.append(thread_id)
    if writer_is_staff is False:
        # A hidden thread takes no customer's post but its author's (their first post waits
        # for approval; whatever they add reaches staff alone until then).
        where += " AND visibility = ? AND status <> ? AND (hidden_at IS NULL OR author_id = ?)"
        values += [Visibility.PUBLIC.value, ThreadStatus.CLOSED.value, writer_id]
    if not locked_ok:
        where += " AND locked_at IS NULL"
    table = Thread._meta.db_table
    returning = columns_of(Thread)  # not RETURNING *: PostgreSQL's search vector stays put
    sql = f"UPDATE {table} SET {', '.join(sets)} WHERE {where} RETURNING {returning}"  # noqa: S608
    rows = yield sql, values
    return rows[0] if rows else None


def advance_read(user_id: str, thread_id: str, count: int, now: datetime) -> Script[bool]:
    """Move a user's read mark in a thread forward to `count`; return whether it moved.

    One statement: insert the mark, or raise an existing one that is lower. A late request
    from a stale tab must never unread anything.
    """
    sql, params = new_row(
        ReadState, user_id=user_id, thread_id=thread_id, read_messages=count, updated_at=now
    )
    table = ReadState._meta.db_table
    rows = yield (
        f"{sql} ON CONFLICT (user_id, thread_id) DO UPDATE "
        "SET read_messages = excluded.read_messages, updated_at = excluded.updated_at "
        f"WHERE {table}.read_messages < excluded.read_messages RETURNING id",
        params,
    )
    return bool(rows)


PushJobRow = tuple[str, str, str, str | None, str | None]
"""subscription_id, user_id, kind, thread_id, message_id of a job to queue."""


async def queue_push_jobs(conn: BaseDBAsyncClient, rows: list[PushJobRow], now: datetime) -> None:
    """Insert queued push jobs in one batch, without building a model per row."""
    if not rows:
        return
    own = ("subscription_id", "user_id", "kind", "thread_id", "message_id")
    sql, batch = insert_many(
        PushJob(not_before=now, created_at=now),  # the model's defaults, converted once
        [dict(zip(own, row, strict=True)) for row in rows],
    )
    await conn.execute_many(dialect_sql(conn, sql), batch)


async def claim_push_jobs(
    conn: BaseDBAsyncClient, ids: list[int], lease_until: datetime, now: datetime
) -> set[int]:
    """Lease due jobs to this worker in one statement; return the ids it won (another
    process may have claimed some of them first)."""
    if not ids:
        return set()
    rows = await run_in(conn, _claim(ids, lease_until, now))
    return {int(row["id"]) for row in rows}


def _claim(ids: list[int], lease_until: datetime, now: datetime) -> Script[Rows]:
    marks = ", ".join(["?"] * len(ids))
    table = PushJob._meta.db_table
    rows = yield (
        f"UPDATE {table} SET not_before = ? WHERE state = ? AND not_before <= ? "  # noqa: S608
        f"AND id IN ({marks}) RETURNING id",
        [lease_until, PushJobState.QUEUED.value, now, *ids],
    )
    return rows


def take_claim(thread_id: str, user_id: str, until: datetime, now: datetime) -> Script[bool]:
    """Claim a thread for `user_id` until `until`, unless a colleague's claim still holds.

    One conditional UPDATE: of two employees claiming at the same moment the database lets
    exactly one through (the row lock on PostgreSQL, the single writer on SQLite); the other
    finds the first one's claim in place and gets False.
    """
    table = Thread._meta.db_table
    rows = yield (
        f"UPDATE {table} SET claimed_by_id = ?, claimed_until = ? WHERE id = ? "  # noqa: S608
        "AND (claimed_by_id IS NULL OR claimed_by_id = ? OR claimed_until <= ?) RETURNING id",
        [user_id, until, thread_id, user_id, now],
    )
    return bool(rows)


def drop_claim(thread_id: str, user_id: str) -> Script[bool]:
    """End `user_id`'s claim on a thread; return whether they had one."""
    table = Thread._meta.db_table
    rows = yield (
        f"UPDATE {table} SET claimed_by_id = NULL, claimed_until = NULL "  # noqa: S608
        "WHERE id = ? AND claimed_by_id = ? RETURNING id",
        [thread_id, user_id],
    )
    return bool(rows)


def set_hidden(
    table: str, row_id: str, at: datetime | None, reason: str, over: str = ""
) -> Script[bool]:
    """Hide (at: when) or show again (at: None) a message or thread; return whether it
    changed (of two moderators or flags at once, one changes it, the other finds it done).
    `over`: hide also what is hidden for that reason (a moderator confirms what flags hid)."""
    params: list[Any] = [at, reason, row_id]
    if at is None:
        is_now = "hidden_at IS NOT NULL"
    elif over:
        is_now = "(hidden_at IS NULL OR hidden_reason = ?)"
        params.append(over)
    else:
        is_now = "hidden_at IS NULL"
    rows = yield (
        f"UPDATE {table} SET hidden_at = ?, hidden_reason = ? WHERE id = ? AND {is_now} "  # noqa: S608
        "RETURNING id",
        params,
    )
    return bool(rows)


def count_flag(target: str, now: datetime) -> Script[tuple[str, int]]:
    """Count one more flag on a review (back on the queue); return its id and flags since the
    last decision. One UPDATE: concurrent flags each count once, in any process."""
    table = Review._meta.db_table
    rows = yield (
        f"UPDATE {table} SET flags = flags + 1, state = ?, updated_at = ? WHERE target = ? "  # noqa: S608
        "RETURNING id, flags",
        [ReviewState.PENDING.value, now, target],
    )
    return str(rows[0]["id"]), int(rows[0]["flags"])


def escalate_waiting(before: datetime, now: datetime) -> Script[list[tuple[str, str, str]]]:
    """Mark the public questions waiting since before `before` as escalated, once per wait;
    return (thread id, author id, title) of each (of two processes looking, one gets each)."""
    table = Thread._meta.db_table
    rows = yield (
        f"UPDATE {table} SET escalated_at = ? WHERE waiting_since <= ? AND escalated_at IS NULL "  # noqa: S608
        "AND status = ? AND kind = ? AND visibility = ? RETURNING id, author_id, title",
        [now, before, ThreadStatus.OPEN.value, ThreadKind.QUESTION.value, Visibility.PUBLIC.value],
    )
    return [(str(row["id"]), str(row["author_id"]), str(row["title"])) for row in rows]


def follow_space(thread_id: str, space_id: str, now: datetime) -> Script[None]:
    """Make everyone who joined a space follow a new thread in it (who muted it stays so)."""
    yield (
        f"INSERT INTO {Follow._meta.db_table} (user_id, thread_id, state, created_at) "  # noqa: S608
        f"SELECT user_id, ?, ?, ? FROM {SpaceMember._meta.db_table} WHERE space_id = ? "
        "ON CONFLICT (user_id, thread_id) DO NOTHING",
        [thread_id, FollowState.FOLLOWING.value, now, space_id],
    )
