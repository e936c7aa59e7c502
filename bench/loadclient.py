"""The load client of the fan-out benchmark: many cheap WebSocket subscribers and one sender.

Subscribers are bare asyncio protocols with their own minimal RFC 6455 framing (parsing costs
about 4 µs a frame; asyncio's read path about as much again), so the client side stays well
below the server's 15-40 µs a frame. Every frame is counted and every event frame's `seq` is
checked for gaps and repeats; only subscribers picked for sampling read the send timestamp out
of the frame for latency.

Two kinds of target speak slightly different protocols:
- "dreiklang": `/ws?format=json` with `Authorization: Bearer`, then `subscribe` to one thread
  and wait for `subscribed`. The sender sends `send` frames and Dreiklang stores them.
- "baseline": `/ws` of bench/baseline_room.py; open means ready. The sender's frame is the
  event itself and the room broadcasts it as it is. With `rooms` (the many-threads workload)
  a subscriber opens `/threads?thread=<id>` instead, and each of the sender's frames names the
  thread whose room it goes to; `seq` then counts per thread, as Dreiklang's does.

In the many-threads workload each subscriber follows one of several threads (`open_many`'s
`threads`) and expects only that thread's share of the messages (`per_thread`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import hashlib
import json
import os
import resource
import time
from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from typing import Any
from urllib.parse import quote

from websockets.speedups import apply_mask  # the C masking helper websockets ships

CONNECT_CONCURRENCY = 64  # handshakes in flight per process; stays far below listen backlogs
CONNECT_TIMEOUT_SECONDS = 60.0  # one handshake plus subscribe, on a server busy accepting
QUIET_SECONDS = 0.3  # after the last expected event, wait this long for trailing frames
TS_MARK = b"@ts="  # the send timestamp in a message body: "@ts=1712345678.123456"
TS_CHARS = 17  # "%.6f" of time.time() until the year 2286
EVENT_PREFIX = b'{"type":"event"'
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


def timestamp_mark(now: float) -> str:
    return f"@ts={now:.6f}"


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's soft RLIMIT_NOFILE towards `wanted`; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if target > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Socket(asyncio.Protocol):
    """One client WebSocket: counts what arrives and checks the per-thread sequence.

    The framing is done here rather than by websockets' `ClientProtocol`: its generator-based
    parser costs about 11 µs per frame when frames arrive one per read (they do: the server
    writes each frame on its own), which made the client slower than the server under test.
    Servers never mask and uvicorn never fragments a text frame, so parsing is a few slices.
    """

    def __init__(self, host: str, port: int, resource_name: str, headers: dict[str, str],
                 sample: bool) -> None:  # fmt: skip
        self.key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {resource_name} HTTP/1.1",
            f"Host: {host}:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {self.key}",
            "Sec-WebSocket-Version: 13",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        self.request = ("\r\n".join(lines) + "\r\n\r\n").encode()
        self.transport: asyncio.Transport | None = None
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.handshaking = True
        self.buf = b""
        self.control: asyncio.Queue[dict[str, Any]] = asyncio.Queue()  # non-event frames, setup
        self.setup = True  # while True, non-event frames are parsed and queued
        self.follows = ""  # the thread this socket subscribed to ("" = the baseline's one room)
        self.events = 0
        self.want = -1  # set `reached` when this many events have arrived
        self.reached = asyncio.Event()
        self.others = 0
        self.bytes = 0
        self.event_bytes = 0
        self.first_seq: int | None = None  # the first seq we expect (set after `subscribed`)
        self.last_seq: int | None = None
        self.gaps = 0
        self.dups = 0
        self.last_rx = 0.0
        self.close_code: int | None = None
        self.latencies: array[float] | None = array("d") if sample else None

    # -- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.close_code is None:
            self.close_code = 1006
        if not self.opened.done():
            self.opened.set_exception(ConnectionError(f"connection lost: {exc!r}"))

    def data_received(self, data: bytes) -> None:
        if self.buf:
            data = self.buf + data
            self.buf = b""
        if self.handshaking:
            data = self._handshake(data)
        now = time.time()
        pos, size = 0, len(data)
        while size - pos >= 2:
            b0, length = data[pos], data[pos + 1]
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
            end = pos + head + length
            if end > size:
                break
            opcode = b0 & 0x0F
            if opcode == 0x1:
                self._text(data[pos + head : end], now)
            elif opcode == 0x9:
                self._send_frame(0xA, data[pos + head : end])  # pong
            elif opcode == 0x8:
                self._closed(data[pos + head : end])
                return
            elif opcode != 0xA:
                raise ValueError(f"unexpected frame opcode {opcode} (fragmented or binary)")
            pos = end
        if pos < size:
            self.buf = data[pos:]

    def _handshake(self, data: bytes) -> bytes:
        end = data.find(b"\r\n\r\n")
        if end < 0:
            self.buf = data
            return b""
        head, rest = data[:end].decode("latin-1"), data[end + 4 :]
        status = head.split("\r\n", 1)[0]
        accept = base64.b64encode(hashlib.sha1((self.key + WS_GUID).encode()).digest()).decode()
        self.handshaking = False
        if " 101 " not in status + " ":
            self.opened.set_exception(ConnectionError(f"handshake refused: {status!r}"))
        elif f"sec-websocket-accept: {accept.lower()}" not in head.lower():
            self.opened.set_exception(ConnectionError("handshake: wrong Sec-WebSocket-Accept"))
        else:
            self.opened.set_result(None)
        return rest

    def _closed(self, payload: bytes) -> None:
        self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        self._send_frame(0x8, payload[:2])
        if self.transport is not None:
            self.transport.close()

    def _text(self, data: bytes, now: float) -> None:
        self.last_rx = now
        size = len(data)
        self.bytes += size
        if not data.startswith(EVENT_PREFIX):
            self.others += 1
            if self.setup:
                self.control.put_nowait(json.loads(data))
            return
        self.events += 1
        if self.events == self.want:
            self.reached.set()
        self.event_bytes += size
        i = data.find(b'"seq":', 15) + 6
        seq = int(data[i : data.find(b",", i)])
        last = self.last_seq
        if last is None:
            if self.first_seq is not None and seq != self.first_seq:
                self.gaps += 1
        elif seq != last + 1:
            if seq <= last:
                self.dups += 1
                return
            self.gaps += 1
        self.last_seq = seq
        if self.latencies is not None:
            k = data.find(TS_MARK)
            if k >= 0:
                sent = float(data[k + 4 : k + 4 + TS_CHARS])
                self.latencies.append(now - sent)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        """Write one masked frame (clients must mask)."""
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        mask = os.urandom(4)
        self.transport.write(head + mask + apply_mask(payload, mask))

    # -- driving it ------------------------------------------------------------------------

    def send_json(self, data: dict[str, Any]) -> None:
        self._send_frame(0x1, json.dumps(data, separators=(",", ":")).encode())

    async def next_control(self, within: float) -> dict[str, Any]:
        return await asyncio.wait_for(self.control.get(), within)

    def close(self) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._send_frame(0x8, (1000).to_bytes(2, "big"))
        self.transport.close()


@dataclass
class Target:
    """Where and how to connect."""

    mode: str  # "dreiklang" | "baseline"
    port: int
    token: str = ""
    thread: str = ""
    thread_list: bool = False  # Dreiklang: also hear `activity` notices (`?list=1`)
    rooms: bool = False  # baseline: one room per thread at /threads (bench/baseline_room.py)

    @property
    def resource_name(self) -> str:
        if self.mode != "dreiklang":
            if not self.rooms:
                return "/ws"
            return f"/threads?thread={quote(self.thread)}" if self.thread else "/threads"
        return "/ws?format=json&list=1" if self.thread_list else "/ws?format=json"

    def headers(self, token: str | None = None) -> dict[str, str]:
        token = self.token if token is None else token
        return {"Authorization": f"Bearer {token}"} if self.mode == "dreiklang" and token else {}


async def open_socket(target: Target, sample: bool, token: str | None = None) -> Socket:
    """Connect one socket; for Dreiklang, wait for `hello`, subscribe and wait for `subscribed`."""
    loop = asyncio.get_running_loop()
    _, sock = await loop.create_connection(
        lambda: Socket(
            "127.0.0.1", target.port, target.resource_name, target.headers(token), sample
        ),
        "127.0.0.1",
        target.port,
    )
    await asyncio.wait_for(sock.opened, CONNECT_TIMEOUT_SECONDS)
    sock.follows = target.thread
    if target.mode == "dreiklang" and target.thread:
        await _subscribe(sock, target.thread)
    elif target.mode == "baseline":
        sock.first_seq = 1  # the baseline sender numbers its frames from 1
    sock.setup = False
    return sock


async def _subscribe(sock: Socket, thread: str) -> None:
    sock.send_json({"type": "subscribe", "thread": thread, "since": None})
    deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
    while True:
        frame = await sock.next_control(max(0.1, deadline - time.monotonic()))
        if frame.get("type") == "subscribed" and frame.get("thread") == thread:
            sock.first_seq = int(frame["seq"]) + 1
            return
        if frame.get("type") in ("error", "reset"):
            raise RuntimeError(f"subscribe failed: {frame!r}")


async def open_many(
    target: Target, count: int, sample_every: int, offset: int, threads: Sequence[str] = ()
) -> list[Socket]:
    """Open `count` subscribers with bounded concurrency; fail if any cannot subscribe.

    With `threads`, subscriber number k (counted over all workers) follows threads[k % len].
    """
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(i: int) -> Socket:
        k = offset + i
        own = replace(target, thread=threads[k % len(threads)]) if threads else target
        async with gate:
            return await open_socket(own, k % sample_every == 0)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


@dataclass
class Tally:
    """What a group of subscribers received during the send phase."""

    sockets: int = 0
    events: int = 0
    others: int = 0
    bytes: int = 0
    event_bytes: int = 0
    lost: int = 0
    extra: int = 0  # events beyond those expected: repeats, or another thread's
    gaps: int = 0
    dups: int = 0
    closed: dict[int, int] = field(default_factory=dict)
    last_rx: float = 0.0
    latencies: bytes = b""
    client_cpu_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "latencies"}


def wanted(sock: Socket, expected: int, per_thread: Mapping[str, int] | None) -> int:
    """Return how many events this socket must get: its thread's share, or `expected`."""
    return expected if per_thread is None else per_thread.get(sock.follows, 0)


def tally(socks: list[Socket], expected: int, per_thread: Mapping[str, int] | None = None) -> Tally:
    t = Tally(sockets=len(socks))
    lat = array("d")
    for s in socks:
        want = wanted(s, expected, per_thread)
        t.events += s.events
        t.others += s.others
        t.bytes += s.bytes
        t.event_bytes += s.event_bytes
        t.lost += max(0, want - s.events)
        t.extra += max(0, s.events - want)
        t.gaps += s.gaps
        t.dups += s.dups
        t.last_rx = max(t.last_rx, s.last_rx)
        if s.close_code is not None:
            t.closed[s.close_code] = t.closed.get(s.close_code, 0) + 1
        if s.latencies is not None:
            lat.extend(s.latencies)
    t.latencies = lat.tobytes()
    return t


async def wait_delivered(
    socks: list[Socket],
    expected: int,
    deadline: float,
    per_thread: Mapping[str, int] | None = None,
) -> None:
    """Wait until every open socket has its events (or the deadline), then a quiet spell."""
    while time.monotonic() < deadline:
        if all(
            s.events >= wanted(s, expected, per_thread) or s.close_code is not None for s in socks
        ):
            break
        await asyncio.sleep(0.05)
    while time.monotonic() < deadline:
        newest = max((s.last_rx for s in socks), default=0.0)
        if time.time() - newest >= QUIET_SECONDS:
            break
        await asyncio.sleep(0.05)


# -- the worker process ----------------------------------------------------------------------


def worker(conn: Connection, cpu: int | None) -> None:
    """Run one load-client process: obey the parent's commands on `conn`."""
    if cpu is not None:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {cpu})
    asyncio.run(_worker(conn))


async def _worker(conn: Connection) -> None:
    loop = asyncio.get_running_loop()
    socks: list[Socket] = []
    cpu0 = 0.0
    while True:
        cmd, args = await loop.run_in_executor(None, conn.recv)
        try:
            if cmd == "connect":
                raise_fd_limit(args["count"] + 256)
                target = Target(**args["target"])
                started = time.monotonic()
                socks = await open_many(
                    target, args["count"], args["sample_every"], args["offset"],
                    args.get("threads", ()),
                )  # fmt: skip
                conn.send(("ok", {"seconds": time.monotonic() - started}))
            elif cmd == "expect":
                for s in socks:
                    s.events = s.others = s.bytes = s.event_bytes = 0
                    s.last_rx = 0.0
                cpu0 = process_cpu_seconds()
                # A full collection of this process's heap takes tens of milliseconds: during
                # a measurement it would show as server latency. Collect before, not during.
                gc.collect()
                gc.disable()
                conn.send(("ok", {}))
            elif cmd == "wait":
                per_thread = args.get("per_thread")  # the many-threads workload
                deadline = time.monotonic() + args["timeout"]
                await wait_delivered(socks, args["messages"], deadline, per_thread)
                result = tally(socks, args["messages"], per_thread)
                result.client_cpu_seconds = process_cpu_seconds() - cpu0
                gc.enable()
                conn.send(("ok", result))
            elif cmd == "close":
                for s in socks:
                    s.close()
                await asyncio.sleep(0.5)
                socks = []
                conn.send(("ok", {}))
            elif cmd == "exit":
                conn.send(("ok", {}))
                return
            else:
                raise ValueError(f"unknown command {cmd!r}")
        except Exception as err:  # report to the parent instead of dying silently
            conn.send(("error", f"{type(err).__name__}: {err}"))


# -- the sender ------------------------------------------------------------------------------


@dataclass
class SendResult:
    first_sent: float = 0.0
    last_sent: float = 0.0
    sent: int = 0
    acks: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    close_code: int | None = None  # set if the server closed the sender's socket


async def run_sender(
    target: Target,
    token: str,
    messages: int,
    rate: float,
    pad_to: int,
    run_id: str,
    settle_seconds: float = 60.0,
    schedule: Sequence[str] = (),
) -> SendResult:
    """Send `messages` frames at a steady `rate` per second; drain and check the replies.

    Message k goes to `schedule[k]` if a schedule is given, else to the target's thread. The
    sender stays connected until every frame is answered (or `settle_seconds` after the
    last send): closing with frames still unread by the server resets the connection, and
    the kernel then drops them before the server ever sees them.
    """
    own = Target(target.mode, target.port, token, rooms=target.rooms)  # follows no thread
    sock = await open_socket(own, sample=False)
    sock.setup = True  # keep parsing acks and errors
    result = SendResult()
    seqs: dict[str, int] = {}  # baseline: the next seq of each thread
    start = time.monotonic()
    for k in range(messages):
        delay = start + k / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        now = time.time()
        body = f"Benchmark message {k} {timestamp_mark(now)}"
        thread = schedule[k] if schedule else target.thread
        if target.mode == "dreiklang":
            frame: dict[str, Any] = {
                "type": "send",
                "thread": thread,
                "client_id": f"bench-{run_id}-{k}",
                "body": body,
            }
        else:
            seqs[thread] = seq = seqs.get(thread, 0) + 1
            frame = {"type": "event", "seq": seq, "client_id": f"bench-{run_id}-{k}"}
            if target.rooms:
                frame["thread"] = thread
            frame["body"] = body
            frame["pad"] = ""
            size = len(json.dumps(frame, separators=(",", ":")))
            frame["pad"] = "x" * max(0, pad_to - size)
        sock.send_json(frame)
        if k == 0:
            result.first_sent = now
        result.last_sent = now
        result.sent += 1
        while not sock.control.empty():
            _note_reply(result, sock.control.get_nowait())
    deadline = time.monotonic() + settle_seconds
    if target.mode == "dreiklang":
        while result.acks + len(result.errors) < messages and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                _note_reply(result, await sock.next_control(1.0))
    else:
        # The room echoes to the sender too: its own last frame back means all were handled.
        sock.want = messages
        if sock.events < messages:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(sock.reached.wait(), deadline - time.monotonic())
        result.acks = sock.events
    result.close_code = sock.close_code
    sock.close()
    return result


def _note_reply(result: SendResult, frame: dict[str, Any]) -> None:
    kind = frame.get("type")
    if kind == "ack":
        result.acks += 1
    elif kind == "error":
        result.errors.append(frame)
