"""Where Dreiklang touches aiosqlite's private parts (pinned in pyproject.toml).

aiosqlite runs every statement on one thread per connection and wakes the event loop for
each result. It has no public way to run a function of ours on that thread; its own methods
all go through `Connection._execute(fn, *args)` with the sqlite3 connection `Connection._conn`.
`run_on_thread` does the same, so a whole transaction written as a script costs one hop
(server/txscript.py). tests/test_adapters.py fails if either name changes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

import aiosqlite

T = TypeVar("T")


async def run_on_thread(connection: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """Run `fn(sqlite3_connection, *args)` on the connection's own thread; return its result."""
    db: sqlite3.Connection = connection._conn  # noqa: SLF001
    result: T = await connection._execute(fn, db, *args)  # type: ignore[no-untyped-call]  # noqa: SLF001
    return result
