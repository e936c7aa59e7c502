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
CLOSE_TOO_SLOW = 4008  # the client fell behind: reconnect and resume
CLOSE_SIGNED_OUT = 4401  # the session ended while the socket was open


class SocketWriter:
    """Frames out to one WebSocket, in order, without blocking the fan-out that calls push()."""

    def __init__(self, ws: WebSocket) -> None:
        self.ws = ws
        self.outbox: deque[str] = deque()
        self.draining: asyncio.Future[None] | None = None  # a send in progress, or hold()
        self.gone = False
        self.overflowed = False
        self.closing: asyncio.Task[None] | None = None
        self.send_frame = self.make_sender()

    def make_sender(self) -> Any:
        # The server's own ASGI send, stashed by create_app: frames skip Starlette's
        # WebSocket state checks and the HTTP-only middleware wrappers (sessions, errors).
        raw = self.ws.scope.get(uvicorn.RAW_SEND_KEY)
        if raw is None:
            return self.ws.send_text

        def send(frame: str) -> Any:
            return raw({"type": "websocket.send", "text": frame})

        return send

    def close_with(self, code: int, reason: str) -> None:
        """Close the socket now: not one more frame goes out on it, a stuck send is dropped."""
        if self.gone:
            return
        self.gone = True
        self.closing = asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        if self.draining is not None:
            self.draining.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.draining
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.ws.close(code, reason)

    def push(self, frame: str) -> None:
        if self.gone:
            return
        if self.draining is not None:
            if len(self.outbox) >= OUTBOX_MAX_FRAMES:
                self.overflowed = True
            else:
                self.outbox.append(frame)
            return
        # Send at once: while the socket is writable the send completes without suspending,
        # so no task has to be woken. Only a paused socket hands over to a draining task.
        try:
            rest = uvicorn.start(self.send_frame(frame))
        except Exception:
            self.gone = True
            return
        if rest is not None:
            self.draining = asyncio.get_running_loop().create_task(self.drain(rest))

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
        """Finish the suspended send, then the outbox; close a client that cannot keep up."""
        try:
            await pending
            while self.outbox:
                if self.overflowed:
                    self.outbox.clear()
                    await self.ws.close(CLOSE_TOO_SLOW, "too slow: reconnect and resume")
                    self.gone = True
                    return
                await self.send_frame(self.outbox.popleft())
        except Exception:
            self.gone = True
        finally:
            self.draining = None
