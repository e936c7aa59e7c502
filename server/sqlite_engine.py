"""tortoise's SQLite engine, with transactions that take the write lock when they begin.

On the embedded default the server and its push-worker child write to one SQLite file.
tortoise begins a transaction with a plain (deferred) BEGIN: it reads from a snapshot and asks
for the write lock at its first write. If the other process committed in between, SQLite
cannot upgrade that snapshot and fails at once with "database is locked"; busy_timeout does
not help (SQLITE_BUSY_SNAPSHOT). Seen as a rare 500 when a device was registered while the
worker wrote. Here every transaction begins IMMEDIATE: it waits (up to busy_timeout) for the
write lock before it reads, so a read-then-write transaction never meets a newer snapshot.
The server's own transactions already queue on tortoise's per-connection lock, so taking the
file's write lock early costs nothing within a process.

Used by naming this module as the engine (server.db.tortoise_config).
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.backends.sqlite.client import (
    SqliteClient,
    SqliteTransactionContext,
    SqliteTransactionWrapper,
)
from tortoise.connection import get_connections
from tortoise.exceptions import OperationalError

BUSY_TIMEOUT_MS = 5000  # how long a writer waits for another process's transaction


class ImmediateTransactionWrapper(SqliteTransactionWrapper):
    """A transaction on the shared connection that begins with BEGIN IMMEDIATE."""

    async def begin(self) -> None:
        try:
            await self._connection.commit()  # as tortoise's: end any implicit transaction
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:  # the lock stayed taken past busy_timeout
            raise OperationalError(err) from err


class ImmediateTransactionContext(SqliteTransactionContext):
    """tortoise's context, which also lets go of the connection when BEGIN fails."""

    async def __aenter__(self) -> TransactionalDBClient:
        await self._trxlock.acquire()
        try:
            await self.ensure_connection()
            self.token = get_connections().set(self.connection_name, self.connection)
            try:
                await self.connection.begin()
            except BaseException:
                get_connections().reset(self.token)
                raise
        except BaseException:
            self._trxlock.release()  # tortoise's own would keep it: every later query hangs
            raise
        return self.connection  # type: ignore[no-any-return]


class ImmediateSqliteClient(SqliteClient):
    """SQLite client: WAL (tortoise's default), a busy timeout, and IMMEDIATE transactions."""

    def __init__(self, file_path: str, **kwargs: Any) -> None:
        super().__init__(file_path, **kwargs)
        self.pragmas.setdefault("busy_timeout", BUSY_TIMEOUT_MS)

    def _in_transaction(self) -> ImmediateTransactionContext:
        return ImmediateTransactionContext(ImmediateTransactionWrapper(self), self._lock)


client_class = ImmediateSqliteClient
