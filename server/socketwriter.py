"""A socket's writer: send at once while the client reads, queue while it does not, and close
a client that falls too far behind (it resumes from the database instead)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable
from typing import Any

from starlette.websockets import WebSocket

from server.adapters import uvicorn

OUTBOX_MAX_FRAMES = 2_000  # a client this far behind is closed and resumes from the database
WRITE_TIMEOUT_SECONDS = 30.0  # a send held this long by a client that does not read: closed
CLOSE_TOO_SLOW = 4008  # the client fell behind: reconnect and resume
CLOSE_SIGNED_OUT = 4401  # the session ended while the socket was open


class SocketWriter:
    """Frames out to one WebSocket, in order, without blocking the fan-out that calls push()."""

    def __init__(self, ws: WebSocket, write_timeout: float = WRITE_TIMEOUT_SECONDS) -> None:
        self.ws = ws
        self.outbox: deque[str] = deque()
        self.draining: asyncio.Future[None] | None = None  # a send in progress, or hold()
        self.gone = False
        self.closing: asyncio.Task[None] | None = None
        self.write_timeout = write_timeout
        # The server's own ASGI send, stashed by create_app: frames skip Starlette's
        # WebSocket state checks and the HTTP-only middleware wrappers (sessions, errors).
        self.raw_send: Any = ws.scope.get(uvicorn.RAW_SEND_KEY)
        self.send_frame = self.make_sender()

    def make_sender(self) -> Any:
        raw = self.raw_send
        if raw is None:
            return self.ws.send_text

        def send(frame: str) -> Any:
            return raw({"type": "websocket.send", "text": frame})

        return send

    def close_with(self, code: int, reason: str, deaf: bool = False) -> None:
        """Close the socket now: not one more frame goes out on it, a stuck send is dropped,
        and what it queued is released at once. `deaf`: read nothing more from it either."""
        if self.gone:
            return
        self.gone = True
        self.outbox.clear()
        self.closing = asyncio.get_running_loop().create_task(self._close(code, reason, deaf))

    async def _close(self, code: int, reason: str, deaf: bool = False) -> None:
        if self.draining is not None:
            self.draining.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.draining
        if uvicorn.paused(self.raw_send):
            # The client does not read: a close frame would wait behind the unsent buffer for
            # good. Drop the connection; the client resumes from its cursor when it returns.
            uvicorn.abort(self.raw_send)
            return
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.ws.close(code, reason)
        if deaf:
            uvicorn.stop_reading(self.raw_send)

    def too_slow(self) -> None:
        """Close a client that fell behind or stopped reading; it resumes from the database."""
        self.close_with(CLOSE_TOO_SLOW, "too slow: reconnect and resume")

    def push(self, frame: str) -> None:
        if self.gone:
            return
        if self.draining is not None:
            if len(self.outbox) >= OUTBOX_MAX_FRAMES:
                self.too_slow()
            else:
                self.outbox.append(frame)
            return
        # Send at once: while the socket is writable the send completes without suspending,
        # so no task has to be woken. Only a paused socket hands over to a draining task.
        try:
            rest = uvicorn.start(self.send_frame(frame))
        except Exception:
            self.broken()
            return
        if rest is not None:
            self.draining = asyncio.get_running_loop().create_task(self.drain(rest))

    def broken(self) -> None:
        """Give up on a socket whose send failed (e.g. closed by uvicorn's keepalive while
        its buffer cannot drain): drop the connection so the endpoint releases it."""
        self.gone = True
        self.outbox.clear()
        uvicorn.abort(self.raw_send)

    def hold(self) -> None:
        """Keep frames in the outbox until open_with sends the first (before accept)."""
        self.draining = asyncio.get_running_loop().create_future()  # push() then queues

    def open_with(self, first: str) -> None:
        """Send the first frame, then those that arrived while the socket was opening."""
        if self.draining is not None:
            self.draining.cancel()
        self.draining = None
        waiting = list(self.outbox)
        self.outbox.clear()
        self.push(first)
        for frame in waiting:
            self.push(frame)

    async def drain(self, pending: Awaitable[Any]) -> None:
        """Finish the suspended send, then the outbox, each send as far as it goes at once."""
        try:
            await self.blocked(pending)
            while self.outbox:
                rest = uvicorn.start(self.send_frame(self.outbox.popleft()))
                if rest is not None:
                    await self.blocked(rest)
        except Exception:
            self.broken()
        finally:
            self.draining = None

    async def blocked(self, rest: Awaitable[Any]) -> None:
        """Wait for a send that flow control holds; past write_timeout the client is closed."""
        timer = asyncio.get_running_loop().call_later(self.write_timeout, self.too_slow)
        try:
            await rest
        finally:
            timer.cancel()
