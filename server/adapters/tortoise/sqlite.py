"""tortoise's SQLite engine, with transactions that take the write lock when they begin (see
server/adapters/tortoise/__init__.py, hook 3). Named as the engine in server/db.py."""

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
