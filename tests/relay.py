"""A dead zone for tests: a TCP relay on 127.0.0.1 that can stop forwarding without closing.

A phone in a tunnel keeps its sockets open while nothing gets through, and Chromium's offline
switch does not cut an open WebSocket, so browser tests load the page through this relay
(same origin: the page, its requests and its socket all pass it) and `freeze()` it: every
connection stays open, bytes in flight are held, and new connections are accepted but get
nowhere. `thaw()` lets everything flow again, the held bytes first.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Coroutine, Iterator
from typing import Any

CHUNK_BYTES = 64 * 1024


class Relay:
    """Forward 127.0.0.1:<port> to a target port on 127.0.0.1, from a thread of its own."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.connections = 0  # accepted so far: a reconnect shows as one more
        self._loop = asyncio.new_event_loop()
        self._flowing = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        self._call(self._listen())

    def freeze(self) -> None:
        """Stop forwarding in both directions; close nothing."""
        self._call(self._set(flowing=False))

    def thaw(self) -> None:
        """Forward again: what was held goes first, waiting connections reach the target."""
        self._call(self._set(flowing=True))

    def close(self) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def _call(self, coro: Coroutine[Any, Any, None]) -> None:
        asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _set(self, *, flowing: bool) -> None:
        if flowing:
            self._flowing.set()
        else:
            self._flowing.clear()

    async def _listen(self) -> None:
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._spawn(self._relay(reader, writer))

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with _closing(writer), contextlib.suppress(OSError):
            await self._flowing.wait()  # in a dead zone a new connection gets nowhere
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
            with _closing(up_writer):
                await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(CHUNK_BYTES):
                await self._flowing.wait()  # held, not dropped: TCP would retransmit it
                writer.write(data)
                await writer.drain()
        writer.close()


@contextlib.contextmanager
def _closing(writer: asyncio.StreamWriter) -> Iterator[None]:
    try:
        yield
    finally:
        writer.close()


@contextlib.contextmanager
def relay_to(port: int) -> Iterator[Relay]:
    """Run a relay to a local port for the length of a block."""
    relay = Relay(port)
    relay.start()
    try:
        yield relay
    finally:
        relay.close()
