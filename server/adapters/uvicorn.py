"""Where Dreiklang relies on how uvicorn's WebSocket implementation behaves (pinned in
pyproject.toml to the versions with `ws="websockets-sansio"`).

A live frame goes out to hundreds of sockets at once. Starting a task per frame and socket
would cost more than the send itself, so the socket writer (server/socketwriter.py) steps the
ASGI `send` coroutine by hand: uvicorn's websockets-sansio `send` waits only while the socket
is paused by flow control (its `writable` event); otherwise it writes to the transport and
finishes on its first step. `start` runs that first step; only a paused socket hands the rest
to a task. tests/test_adapters.py checks both halves against a real uvicorn server, so an
upgrade that changes this fails loudly (the writer would still be correct, but slow).
"""

from __future__ import annotations

from collections.abc import Awaitable, Coroutine, Generator
from typing import Any

RAW_SEND_KEY = "dreiklang.raw_send"  # where create_app keeps the server's own ASGI send


class _Continue:
    """Finish, inside the task awaiting this, a coroutine that suspended on its first step."""

    __slots__ = ("coro", "fut")

    def __init__(self, coro: Coroutine[Any, Any, Any], fut: Any) -> None:
        self.coro = coro
        self.fut = fut

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, fut = self.coro, self.fut
        while True:
            try:
                value = yield fut
            except BaseException as exc:  # cancellation: pass it on
                try:
                    fut = coro.throw(exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    fut = coro.send(value)
                except StopIteration as stop:
                    return stop.value


def start(coro: Coroutine[Any, Any, Any]) -> Awaitable[Any] | None:
    """Run a send's first step now: None if that finished it, else what finishes the rest
    (await it in a task). Errors of the first step are raised here."""
    try:
        fut = coro.send(None)
    except StopIteration:
        return None
    return _Continue(coro, fut)
