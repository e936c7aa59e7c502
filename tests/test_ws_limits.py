"""Sockets under abuse and neglect: a client that stops reading is dropped, and one that floods
frames is closed, while everyone else keeps receiving. Real uvicorn servers, real sockets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import select
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live import DemoTemplates, LiveServer
from tests.live_helpers import CUSTOMER, STAFF, WAIT_SECONDS, WsClient, api_for, new_client_id

PUMP_MAX_MESSAGES = 1_500  # far more than the buffers of a socket that stopped reading hold
BIG_BODY = "Zählerstand " * 800  # ~10 KB of text: frames fill buffers quickly


@pytest.fixture
def server(sqlite_url: str, tmp_path: Path, demo_templates: DemoTemplates) -> Iterator[LiveServer]:
    """A real server that gives up on a blocked write after a quarter second."""
    live = LiveServer(sqlite_url, tmp_path, env_extra={"WS_WRITE_TIMEOUT": "0.25"})
    demo_templates.load_into(live)
    live.start()
    try:
        yield live
    finally:
        live.stop()


class RawSocket:
    """A WebSocket client written by hand on a TCP socket with a tiny receive buffer, so that
    it can stop reading (no library reads on its behalf)."""

    def __init__(self, server: LiveServer, token: str) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(WAIT_SECONDS)
        self.sock.connect(("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                "GET /ws?format=json HTTP/1.1\r\n"
                f"Host: 127.0.0.1:{server.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {token}\r\n\r\n"
            ).encode()
        )
        self.buffer = b""
        self.read_until(b"\r\n\r\n")
        assert self.buffer.startswith(b"HTTP/1.1 101"), self.buffer[:200]
        self.read_until(b'"hello"')

    def read_until(self, marker: bytes) -> None:
        while marker not in self.buffer:
            chunk = self.sock.recv(65536)
            assert chunk, f"closed before {marker!r}: {self.buffer[-200:]!r}"
            self.buffer += chunk

    def send_json(self, data: dict[str, Any]) -> None:
        """Send one masked text frame (RFC 6455 §5.2)."""
        payload = json.dumps(data).encode()
        assert len(payload) < 126
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(bytes([0x81, 0x80 | len(payload)]) + mask + masked)

    def dropped(self) -> bool:
        """Tell, without reading, whether the server reset or closed the connection."""
        poller = select.poll()
        poller.register(self.sock, select.POLLHUP | select.POLLERR | select.POLLRDHUP)
        return any(ev & (select.POLLHUP | select.POLLERR | select.POLLRDHUP)
                   for _, ev in poller.poll(0))  # fmt: skip

    def read_to_end(self) -> str:
        """Read what is left; return how the connection ended ("reset" or "eof")."""
        try:
            while self.sock.recv(65536):
                pass
        except ConnectionResetError:
            return "reset"
        return "eof"

    def close(self) -> None:
        self.sock.close()


def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_receiving(
    server: LiveServer,
) -> None:
    async def scenario() -> None:
        customer = await api_for(server, CUSTOMER)
        staff = await api_for(server, STAFF)
        thread = (await customer.start_thread("Ein Leser, der nicht mehr liest"))["id"]
        reader = await WsClient.open(server, token=staff.token)
        stuck = await asyncio.to_thread(RawSocket, server, customer.token)
        try:
            await reader.subscribe(thread, since=None)
            stuck.send_json({"type": "subscribe", "thread": thread, "since": None})
            await asyncio.to_thread(stuck.read_until, b'"subscribed"')
            # From now on `stuck` never reads: its buffers fill, the server's sends wait.
            sent = 0
            while not stuck.dropped():
                assert sent < PUMP_MAX_MESSAGES, "the server kept a socket that does not read"
                r = await customer.post(thread, f"{sent} {BIG_BODY}")
                assert r.status_code == 201, r.text
                sent += 1
            assert await asyncio.to_thread(stuck.read_to_end) == "reset", (
                "dropped at once, unsent buffers and all, not closed after draining them"
            )
            r = await customer.post(thread, "after the drop")
            assert r.status_code == 201, r.text
            bodies = [e["message"]["body"] for e in await reader.events(thread, sent + 1)]
            assert bodies[-1] == "after the drop", "the other socket kept receiving, in order"
            assert [b.split(" ", 1)[0] for b in bodies[:-1]] == [str(i) for i in range(sent)]
        finally:
            stuck.close()
            await reader.close()
            await customer.aclose()
            await staff.aclose()

    asyncio.run(scenario())


FLOOD_FRAMES = 20_000  # what a flooding client sends in well under a second
FLOOD_KINDS = ('{"type":"ping","t":1}', '{"type":"typing","thread":"x"}', "garbage", b"\x00")


def test_a_client_flooding_frames_is_closed_with_1008_and_the_others_keep_receiving(
    server: LiveServer,
) -> None:
    async def scenario() -> None:
        customer = await api_for(server, CUSTOMER)
        staff = await api_for(server, STAFF)
        thread = (await customer.start_thread("Jemand sendet zu viel"))["id"]
        other = await WsClient.open(server, token=staff.token)
        flooder = await WsClient.open(server, token=customer.token)
        try:
            await other.subscribe(thread, since=None)
            with contextlib.suppress(ConnectionClosed):
                for n in range(FLOOD_FRAMES):
                    await flooder.send_raw(FLOOD_KINDS[n % len(FLOOD_KINDS)])
            await asyncio.wait_for(flooder.wait_closed(), WAIT_SECONDS)
            assert flooder.close_code == 1008
            assert flooder.ws.close_reason == "too many frames: at most 100 a second"
            r = await customer.post(thread, "nach der Flut")
            assert r.status_code == 201, r.text
            [event] = await other.events(thread, 1)
            assert event["message"]["body"] == "nach der Flut"
        finally:
            await flooder.close()
            await other.close()
            await customer.aclose()
            await staff.aclose()

    asyncio.run(scenario())


def test_a_desk_client_reconnecting_with_200_threads_and_a_full_outbox_is_not_closed(
    server: LiveServer,
) -> None:
    """What a busy client sends at once: every subscription it may hold, a hundred messages
    written offline, a read mark and a ping. It all gets answered; nothing is refused."""

    async def scenario() -> None:
        customer = await api_for(server, CUSTOMER)
        thread = (await customer.start_thread("Viel auf einmal"))["id"]
        ws = await WsClient.open(server, token=customer.token)
        try:
            frames: list[dict[str, Any]] = [
                {"type": "subscribe", "thread": thread, "since": None} for _ in range(200)
            ]
            frames += [
                {"type": "send", "thread": thread, "client_id": new_client_id(), "body": f"{n}"}
                for n in range(100)
            ]
            frames += [{"type": "read", "thread": thread}, {"type": "typing", "thread": thread}]
            for frame in frames:
                await ws.send_json(frame)
            await ws.sync()
            acks = [await ws.next_of_type("ack") for _ in range(100)]
            assert len(acks) == 100 and not ws.closed
            assert ws.unclaimed("error") == []
        finally:
            await ws.close()
            await customer.aclose()

    asyncio.run(scenario())
