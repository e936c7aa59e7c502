"""Where Dreiklang relies on how uvicorn's WebSocket implementation behaves (pinned in
pyproject.toml to the versions with `ws="websockets-sansio"`).

A live frame goes out to hundreds of sockets at once. Starting a task per frame and socket
would cost more than the send itself, so the socket writer (server/socketwriter.py) steps the
ASGI `send` coroutine by hand: uvicorn's websockets-sansio `send` waits only while the socket
is paused by flow control (its `writable` event); otherwise it writes to the transport and
finishes on its first step. `start` runs that first step; only a paused socket hands the rest
to a task. tests/test_adapters.py checks both halves against a real uvicorn server, so an
upgrade that changes this fails loudly (the writer would still be correct, but slow).

A client that stops reading leaves its socket paused for good: a close frame would wait behind
the unsent buffer forever, and uvicorn's own keepalive close waits for that buffer to drain.
`paused` and `abort` reach the connection behind the ASGI `send` (a bound method of uvicorn's
protocol) to tell that state and to drop such a connection at once. A client closed for
flooding would go on flooding until the close handshake times out, and uvicorn would go on
parsing (and dropping) every frame: `stop_reading` leaves its bytes in the kernel instead.
tests/test_adapters.py checks each against a real uvicorn server.
"""

from __future__ import annotations

import contextlib
import socket
import struct
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


def _protocol(send: Any) -> Any:
    """Return uvicorn's protocol object behind an ASGI send, or None for another server."""
    protocol = getattr(send, "__self__", None)
    if protocol is None or not hasattr(protocol, "writable") or not hasattr(protocol, "transport"):
        return None
    return protocol


def paused(send: Any) -> bool:
    """Tell whether flow control holds this socket's sends (its client is not reading)."""
    protocol = _protocol(send)
    return protocol is not None and not protocol.writable.is_set()


def abort(send: Any) -> bool:
    """Drop the connection now, with its unsent buffers (user space and kernel): a reset.

    Return False when the send is not uvicorn's (nothing done). The peer sees a reset, uvicorn
    calls connection_lost (the app's receive returns a disconnect, a waiting send fails)."""
    protocol = _protocol(send)
    if protocol is None:
        return False
    transport = protocol.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger 0: close() resets at once instead of the kernel probing a zero window for
        # minutes with the unsent bytes kept.
        with contextlib.suppress(OSError):  # already closed
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


def stop_reading(send: Any) -> bool:
    """Read nothing more from this connection (its close handshake then ends by timeout).

    Return False when the send is not uvicorn's (nothing done)."""
    protocol = _protocol(send)
    if protocol is None or protocol.transport.is_closing():
        return False
    protocol.read_paused = False  # uvicorn's receive() must not resume reading either
    protocol.transport.pause_reading()
    return True
