"""Flood benchmark: what one socket sending frames as fast as it can costs everyone else.

Three runs of the same workload on a fresh `dreiklang serve` each (demo company, SQLite, pinned
to core 0): N subscribers follow the demo customer's thread and one sender sends M messages at
a steady rate; the subscribers' delivery latency (send time in the body → receipt) is sampled
on every socket.
- quiet: nothing else happens.
- flood: a second client process on the load core writes pre-built ping, typing and garbage
  frames as fast as the kernel takes them, reconnecting half a second after each close (a
  persistent attacker), with the server's default inbound limit.
- unlimited: the same flood against a server whose limit is lifted (WS_FRAME_BURST and
  WS_FRAMES_PER_SECOND huge): what the issue measured before the limit existed.
The verdict is p99(flood) / p99(quiet). Only 127.0.0.1; every phase is bounded in time.

    .venv/bin/python bench/flood.py [--subscribers 200] [--messages 200] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import multiprocessing
import os
import socket
import sys
import tempfile
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import fanout
import loadclient

UNLIMITED = {"WS_FRAME_BURST": "1000000000", "WS_FRAMES_PER_SECOND": "1000000000"}
RECONNECT_SECONDS = 0.5  # the flooder's pause after the server closed it
CHUNK_FRAMES = 2_000  # frames per write: the attacker hands the kernel big buffers


@dataclass
class FloodServer(fanout.Server):
    extra: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra}


def masked_frame(payload: bytes, opcode: int = 0x1) -> bytes:
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body


def flood_chunk(thread: str) -> bytes:
    kinds = [
        masked_frame(b'{"type":"ping","t":1}'),
        masked_frame(json.dumps({"type": "typing", "thread": thread}).encode()),
        masked_frame(b"garbage"),
        masked_frame(b"\x00", opcode=0x2),
    ]
    return b"".join(kinds[i % len(kinds)] for i in range(CHUNK_FRAMES))


def flooder(port: int, token: str, thread: str, stop: Event, counts: Any) -> None:
    """Flood until told to stop; count frames written and connections opened."""
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {fanout.CLIENT_CPU})
    chunk = flood_chunk(thread)
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                key = base64.b64encode(os.urandom(16)).decode()
                sock.sendall(
                    f"GET /ws?format=json HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                    f"Authorization: Bearer {token}\r\n\r\n".encode()
                )
                if not sock.recv(4096).startswith(b"HTTP/1.1 101"):
                    raise OSError("handshake refused")
                counts[1] += 1
                sock.setblocking(False)  # never wait for the server to read: drop what it won't
                while not stop.is_set():
                    try:
                        sent = sock.send(chunk)
                    except BlockingIOError:
                        time.sleep(0.001)
                        continue
                    counts[0] += sent * CHUNK_FRAMES // len(chunk)
                    with contextlib.suppress(BlockingIOError):
                        if sock.recv(65536) == b"":
                            break  # closed by the server
        except OSError:
            pass
        stop.wait(RECONNECT_SECONDS)


async def measure(
    server: FloodServer, subscribers: int, messages: int, rate: float
) -> loadclient.Tally:
    target = server.target()
    await fanout.warm_up(target, server.agent_token, 700)
    socks = await loadclient.open_many(target, subscribers, sample_every=1, offset=0)
    try:
        await loadclient.run_sender(
            target, server.agent_token, messages, rate, 700, os.urandom(4).hex()
        )
        await loadclient.wait_delivered(socks, messages, time.monotonic() + 60)
        return loadclient.tally(socks, messages)
    finally:
        for s in socks:
            s.close()


def run(kind: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    folder = workdir / kind
    folder.mkdir()
    server = FloodServer(
        "dreiklang", folder, pin=True, extra=UNLIMITED if kind == "unlimited" else {}
    )
    server.start()
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    counts = ctx.Array("q", 2)
    proc = None
    try:
        if kind != "quiet":
            proc = ctx.Process(
                target=flooder,
                args=(server.port, server.customer_token, server.thread, stop, counts),
            )
            proc.start()
            time.sleep(1.0)  # the flood is on before the first message
        started = time.monotonic()
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {fanout.CLIENT_CPU})
        tally = asyncio.run(measure(server, args.subscribers, args.messages, args.rate))
        span = time.monotonic() - started
    finally:
        stop.set()
        if proc is not None:
            proc.join(10)
            if proc.is_alive():
                proc.terminate()
        server.stop()
    lat = array("d")
    lat.frombytes(tally.latencies)
    ms = sorted(x * 1000 for x in lat)
    return {
        "run": kind,
        "p50_ms": round(fanout.percentile(ms, 0.5), 2),
        "p99_ms": round(fanout.percentile(ms, 0.99), 2),
        "max_ms": round(ms[-1], 2) if ms else None,
        "lost": tally.lost,
        "flood_frames_per_second": round(counts[0] / span),
        "flood_connections": counts[1],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument("--runs", default="quiet,flood,unlimited")
    parser.add_argument("--out", default="/tmp/dreiklang-flood.json")
    args = parser.parse_args(argv)
    loadclient.raise_fd_limit(args.subscribers + 512)
    results = []
    with tempfile.TemporaryDirectory(prefix="dk-flood-") as tmp:
        for kind in args.runs.split(","):
            results.append(run(kind, args, Path(tmp)))
            print(json.dumps(results[-1]), flush=True)
    quiet = next((r for r in results if r["run"] == "quiet"), None)
    if quiet:
        for r in results:
            r["p99_vs_quiet"] = round(r["p99_ms"] / quiet["p99_ms"], 2)
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"{'run':<10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'lost':>5} "
          f"{'flood f/s':>10} {'conns':>6} {'p99/quiet':>10}")  # fmt: skip
    for r in results:
        print(f"{r['run']:<10} {r['p50_ms']:>8} {r['p99_ms']:>8} {r['max_ms']:>8} {r['lost']:>5} "
              f"{r['flood_frames_per_second']:>10} {r['flood_connections']:>6} "
              f"{r.get('p99_vs_quiet', ''):>10}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
