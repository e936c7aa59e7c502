"""One socket's writer (server/ws.py Connection), against a client that stops reading.

The live tests cover the socket end to end; what they cannot provoke in reasonable time is a
client so far behind that 2,000 frames wait for it (kernel buffers on loopback hold megabytes
first). Here the socket is the boundary: a send waits until the test lets it through."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from server.models import Role, User
from server.socketwriter import CLOSE_SIGNED_OUT, CLOSE_TOO_SLOW, OUTBOX_MAX_FRAMES
from server.ws import Connection
from tests.conftest import NOT_LIVE


class StalledSocket:
    """A WebSocket whose client stopped reading: every send waits for `gate`."""

    def __init__(self) -> None:
        self.scope: dict[str, Any] = {}
        self.gate = asyncio.Event()
        self.sent: list[str] = []
        self.closed: tuple[int, str | None] | None = None

    async def send_text(self, frame: str) -> None:
        await self.gate.wait()
        self.sent.append(frame)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason)


def connection(ws: StalledSocket) -> Connection:
    user = User(id="u1", email="weber@example.org", display_name="Gisela Weber",
                role=Role.CUSTOMER, password_hash="x")  # fmt: skip
    return Connection(ws, user, "json", None, NOT_LIVE, closed_by="s1")  # type: ignore[arg-type]


def frame(n: int) -> str:
    return json.dumps({"type": "event", "seq": n})


async def test_a_client_that_catches_up_gets_every_waiting_frame_in_order() -> None:
    ws = StalledSocket()
    conn = connection(ws)
    for n in range(1, 502):
        conn.push(frame(n))  # the first send waits; the rest queue behind it
    assert conn.draining is not None and len(conn.outbox) == 500
    ws.gate.set()
    await conn.draining
    assert ws.sent == [frame(n) for n in range(1, 502)]
    assert ws.closed is None and not conn.gone and conn.draining is None


async def test_a_client_more_than_2000_frames_behind_is_closed_with_4008_at_once() -> None:
    ws = StalledSocket()
    conn = connection(ws)
    for n in range(1, OUTBOX_MAX_FRAMES + 3):
        conn.push(frame(n))
    assert conn.gone, "closed when the queue passed the bound, not after a send that never ends"
    assert len(conn.outbox) == 0, "its queued frames are released at once"
    assert conn.closing is not None
    await conn.closing
    assert ws.closed is not None and ws.closed[0] == CLOSE_TOO_SLOW
    assert conn.draining is None, "the stuck send was dropped"
    ws.gate.set()
    conn.push(frame(9999))
    await asyncio.sleep(0)
    assert ws.sent == [], "no partial backlog: the client resumes from the database"


async def test_a_send_blocked_longer_than_the_write_timeout_closes_the_socket_with_4008() -> None:
    ws = StalledSocket()
    conn = connection(ws)
    conn.write_timeout = 0.01
    conn.push(frame(1))
    conn.push(frame(2))
    async with asyncio.timeout(10):  # the timer fires on its own: nothing else wakes the writer
        while conn.closing is None:
            await asyncio.sleep(0.01)
        await conn.closing
    assert ws.closed is not None and ws.closed[0] == CLOSE_TOO_SLOW
    assert conn.gone and len(conn.outbox) == 0


async def test_an_ended_session_closes_its_socket_with_4401_and_sends_nothing_more() -> None:
    ws = StalledSocket()
    conn = connection(ws)
    conn.push(frame(1))  # stuck in a send
    conn.push(frame(2))
    conn.channel_frames("user:u1", {"signed_out": "other-session"})
    assert not conn.gone, "another session of the same person ended"
    conn.channel_frames("user:u1", {"signed_out": "s0,s1"})
    assert conn.gone and conn.closing is not None
    await conn.closing
    assert ws.closed is not None and ws.closed[0] == CLOSE_SIGNED_OUT
    conn.push(frame(3))
    ws.gate.set()
    await asyncio.sleep(0)
    assert frame(2) not in ws.sent and frame(3) not in ws.sent


async def test_frames_that_arrive_while_the_socket_opens_follow_hello_in_order() -> None:
    ws = StalledSocket()
    ws.gate.set()
    conn = connection(ws)
    conn.hold()
    conn.channel_frames("user:u1", {"any": frame(1)})
    conn.channel_frames("user:u1", {"any": frame(2)})
    assert ws.sent == []
    conn.open_with(json.dumps({"type": "hello"}))
    if conn.draining is not None:
        await conn.draining
    assert [json.loads(f)["type"] for f in ws.sent] == ["hello", "event", "event"]
    assert ws.sent[1:] == [frame(1), frame(2)]
