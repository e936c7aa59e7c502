"""A transaction written once as a script of statements, run the cheapest way per database.

A script is a generator: it yields `(sql, params)` with `?` placeholders and receives each
statement's rows as dicts; what it returns is the transaction's result. It holds no I/O of its
own, so it can run anywhere:

- **SQLite**: the whole transaction (BEGIN IMMEDIATE … COMMIT) runs as one call on the
  connection's own thread. A statement through the ORM costs a hop to that thread and a wake-up
  of the event loop; the hot path (sending a message, seven statements) pays one instead of nine.
- **PostgreSQL** (or a transaction already open): statement by statement on the connection.

Either way it is one transaction: any exception rolls all of it back, and database errors come
out as tortoise's `IntegrityError` / `OperationalError`, as from the ORM.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Generator
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.connection import get_connection
from tortoise.exceptions import IntegrityError, OperationalError
from tortoise.transactions import in_transaction

from server.adapters.aiosqlite import run_on_thread

T = TypeVar("T")
Statement = tuple[str, list[Any]]
Rows = list[dict[str, Any]]
Script = Generator[Statement, Rows, T]

_PLACEHOLDER = re.compile(r"\?")
_postgres_sql: dict[str, str] = {}


def _for_postgres(sql: str) -> str:
    """Number the placeholders ($1, $2, …) once per distinct statement text."""
    found = _postgres_sql.get(sql)
    if found is None:
        numbers = iter(range(1, sql.count("?") + 1))
        found = _postgres_sql[sql] = _PLACEHOLDER.sub(lambda _: f"${next(numbers)}", sql)
    return found


def dialect_sql(conn: BaseDBAsyncClient, sql: str) -> str:
    """Return a statement written with `?` placeholders as the connection's dialect wants it."""
    return _for_postgres(sql) if conn.capabilities.dialect == "postgres" else sql


async def run_in(conn: BaseDBAsyncClient, script: Script[T]) -> T:
    """Run a script statement by statement on a connection (or open transaction)."""
    postgres = conn.capabilities.dialect == "postgres"
    try:
        sql, params = next(script)
        while True:
            rows = await conn.execute_query_dict(_for_postgres(sql) if postgres else sql, params)
            sql, params = script.send(rows)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]


async def run_transaction(script: Script[T], connection: str = "default") -> T:
    """Run a script as its own transaction on the named connection.

    Not from inside another transaction on that connection: with SQLite it would wait for
    the lock its own caller holds. (Use run_in with the open transaction instead.)
    """
    client = get_connection(connection)
    if client.capabilities.dialect != "sqlite":
        async with in_transaction(connection) as conn:
            return await run_in(conn, script)
    # The client's lock keeps every other query (and transaction) of this process off the
    # connection meanwhile, as tortoise's own SQLite transactions do.
    async with client.acquire_connection() as aconn:
        try:
            return await run_on_thread(aconn, _run_sqlite, script)
        except sqlite3.IntegrityError as err:
            raise IntegrityError(err) from err
        except sqlite3.OperationalError as err:
            raise OperationalError(err) from err


def _run_sqlite(db: sqlite3.Connection, script: Script[T]) -> T:
    """Run on the SQLite connection's thread: the whole transaction, then commit."""
    db.execute("BEGIN IMMEDIATE")  # take the write lock now (waits up to busy_timeout)
    try:
        sql, params = next(script)
        while True:
            rows = [dict(row) for row in db.execute(sql, params).fetchall()]
            sql, params = script.send(rows)
    except StopIteration as done:
        try:
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        return done.value  # type: ignore[no-any-return]
    except BaseException:
        _rollback(db)
        raise


def _rollback(db: sqlite3.Connection) -> None:
    # Some errors (a full disk, a failed COMMIT) end the transaction inside SQLite already.
    if db.in_transaction:
        db.execute("ROLLBACK")
