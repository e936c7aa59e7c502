"""Photo benchmark: what re-encoding a 12-megapixel phone photo costs the server, and whether
chat stays responsive while photos are processed.

(a) In-process: `server.images.process` on a generated 12 MP photo (4000×3000 pixels stored,
    EXIF with GPS and Orientation 6, as a phone held upright writes it; drawn like the tests'
    fixture, with more sensor grain): CPU seconds per photo (`time.process_time`, N runs after
    one warm-up) and peak memory: the `ru_maxrss` of a child process that processes one photo,
    minus that of a child that only imports `server.images` (Pillow, pillow-heif) and reads the
    same file.
(b) End to end: `dreiklang serve` on a fresh SQLite DATA_DIR with the demo company (as the
    other benchmarks start it: bench/fanout.py's Server, pinned to core 0, this process on
    core 1). The demo customer's socket follows her thread and measures the chat round trip:
    a `send` frame → her own message's event back. First idle (P pings), then while 5 photos
    are uploaded at once to `POST /api/v1/threads/{id}/attachments` (as the browser does: the
    raw bytes, `X-File-Name`, `X-Client-Id`), round after round until P pings were measured
    during uploads. Reported: p50/p99 idle and busy, and busy ÷ idle.

    .venv/bin/python bench/photos.py                  # both parts, about a minute
    .venv/bin/python bench/photos.py --part cpu       # (a) only
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fanout
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.images import process  # noqa: E402
from tests.photos import meter_jpeg  # noqa: E402

PHOTO_GRAIN = 150  # sensor noise of the generated photo: ≈ 1.2 MB at 12 MP (phones: 2-4 MB)
PING_INTERVAL_SECONDS = 0.05  # 20 chat messages a second: several per photo being processed
UPLOADS_AT_ONCE = 5  # the figure: 5 photos processed while the chat goes on
MAX_ROUNDS = 40  # of 5 uploads, until enough pings were measured while they ran
IDLE_PINGS_PER_ROUND = 15  # measured before each round of uploads
ROUND_TIMEOUT_SECONDS = 120
# The baseline child: everything but the processing (imports, the upload's bytes in memory).
BASELINE = "import sys; import server.images; data = open(sys.argv[1], 'rb').read()"
MEASURED = BASELINE + "; server.images.process(data, 'IMG_0001.JPG')"
WRAPPER = (
    "import resource, subprocess, sys; "
    "subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]], check=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def photo_12mp() -> bytes:
    """Return a 12 MP phone photo: stored 4000×3000, shown upright (3000×4000)."""
    return meter_jpeg(3000, 4000, orientation=6, grain=PHOTO_GRAIN)


def cpu_part(runs: int) -> dict[str, Any]:
    """Measure (a): CPU per photo in this process, peak memory in child processes."""
    raw = photo_12mp()
    process(raw, "warm.jpg")
    seconds, walls = [], []
    for k in range(runs):
        cpu0, wall0 = time.process_time(), time.perf_counter()
        out = process(raw, f"IMG_{k:04d}.JPG")
        seconds.append(time.process_time() - cpu0)
        walls.append(time.perf_counter() - wall0)
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(raw)
        f.flush()
        baseline_kib = child_maxrss_kib(BASELINE, f.name)
        measured_kib = child_maxrss_kib(MEASURED, f.name)
    return {
        "photo_bytes": len(raw),
        "stored_bytes": len(out.data),
        "thumb_bytes": len(out.thumb or b""),
        "placeholder_chars": len(out.placeholder),
        "stored_size": [out.width, out.height],
        "runs": runs,
        "cpu_seconds_per_photo_mean": round(statistics.mean(seconds), 3),
        "cpu_seconds_per_photo_min": round(min(seconds), 3),
        "wall_seconds_per_photo_mean": round(statistics.mean(walls), 3),
        "baseline_maxrss_mib": round(baseline_kib / 1024, 1),
        "peak_memory_mib": round((measured_kib - baseline_kib) / 1024, 1),
    }


def child_maxrss_kib(code: str, path: str) -> int:
    """Run `code` in a fresh Python; return its peak RSS (KiB).

    Through a small wrapper process: Linux counts the memory a child had before its exec in its
    ru_maxrss, and a child forked from this process (hundreds of MB by now) would report ours.
    """
    done = subprocess.run(
        [sys.executable, "-c", WRAPPER, code, path],
        cwd=ROOT, check=True, capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    return int(done.stdout.split()[-1])


# -- (b) end to end ----------------------------------------------------------------------------


@dataclass
class PhotoServer(fanout.Server):
    """The demo server with no daily upload quota (the benchmark uploads a few hundred MB)."""

    extra: dict[str, str] = field(default_factory=lambda: {"ATTACHMENT_DAILY_MB": "0"})

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra}


class Chat:
    """The customer's socket: send a message, wait for its own event."""

    def __init__(self, ws: ClientConnection, thread: str) -> None:
        self.ws = ws
        self.thread = thread
        self.count = 0

    async def round_trip(self) -> float:
        """Send one message; return the seconds until its event came back."""
        self.count += 1
        client_id = f"ping-{uuid.uuid4().hex[:12]}"
        frame = {"type": "send", "thread": self.thread, "client_id": client_id,
                 "body": f"ping {self.count}"}  # fmt: skip
        started = time.perf_counter()
        await self.ws.send(json.dumps(frame))
        while True:
            reply = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
            if reply.get("type") == "error":
                raise RuntimeError(f"send refused: {reply!r}")
            if reply.get("type") == "event" and client_id in json.dumps(reply):
                return time.perf_counter() - started


async def open_chat(server: fanout.Server) -> Chat:
    """Connect as the demo customer and follow her thread."""
    ws = await connect(
        f"ws://127.0.0.1:{server.port}/ws?format=json",
        additional_headers={"Authorization": f"Bearer {server.customer_token}"},
        max_size=2**22,
    )
    await ws.send(json.dumps({"type": "subscribe", "thread": server.thread, "since": None}))
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 30))
        if frame.get("type") == "subscribed":
            return Chat(ws, server.thread)


def upload(server: fanout.Server, raw: bytes) -> int:
    """Upload one photo as the browser does; return the HTTP status."""
    req = urllib.request.Request(
        f"{server.url}/api/v1/threads/{server.thread}/attachments", data=raw, method="POST"
    )
    req.add_header("Content-Type", "image/jpeg")
    req.add_header("X-File-Name", "IMG_4711.JPG")
    req.add_header("X-Client-Id", uuid.uuid4().hex)
    req.add_header("Authorization", f"Bearer {server.customer_token}")
    try:
        with urllib.request.urlopen(req, timeout=ROUND_TIMEOUT_SECONDS) as r:
            r.read()
            return int(r.status)
    except urllib.error.HTTPError as err:
        print(f"upload refused: {err.code} {err.read()[:300]!r}", file=sys.stderr)
        return err.code


async def pings_while(chat: Chat, busy: asyncio.Future[Any] | None, count: int) -> list[float]:
    """Measure round trips every PING_INTERVAL_SECONDS: `count` of them, or while `busy` runs."""
    found: list[float] = []
    next_at = time.perf_counter()
    while (busy is None and len(found) < count) or (busy is not None and not busy.done()):
        found.append(await chat.round_trip())
        next_at += PING_INTERVAL_SECONDS
        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return found


async def measure_chat(server: fanout.Server, pings: int) -> dict[str, Any]:
    """Measure (b) against a started server: idle stretches and upload rounds take turns, so
    what else the machine does at the time hits both alike."""
    raw = photo_12mp()
    chat = await open_chat(server)
    try:
        for _ in range(20):  # warm: templates, SQLite's caches, the first frames
            await chat.round_trip()
        idle: list[float] = []
        busy: list[float] = []
        statuses: list[int] = []
        rounds, uploading_seconds = 0, 0.0
        while (len(busy) < pings or len(idle) < pings) and rounds < MAX_ROUNDS:
            rounds += 1
            idle += await pings_while(chat, None, IDLE_PINGS_PER_ROUND)
            started = time.perf_counter()
            batch = asyncio.gather(
                *(asyncio.to_thread(upload, server, raw) for _ in range(UPLOADS_AT_ONCE))
            )
            busy += await pings_while(chat, batch, 0)
            statuses += await batch
            uploading_seconds += time.perf_counter() - started
    finally:
        await chat.ws.close()
    return {
        "photo_bytes": len(raw),
        "idle": summary(idle),
        "busy": summary(busy),
        "upload_rounds": rounds,
        "uploads": len(statuses),
        "upload_statuses": sorted(set(statuses)),
        "seconds_per_round_of_5": round(uploading_seconds / max(1, rounds), 2),
        "p50_busy_over_idle": round(summary(busy)["p50_ms"] / summary(idle)["p50_ms"], 2),
        "p99_busy_over_idle": round(summary(busy)["p99_ms"] / summary(idle)["p99_ms"], 2),
    }


def summary(seconds: list[float]) -> dict[str, float]:
    """Return count, p50 and p99 in milliseconds."""
    ms = sorted(s * 1000 for s in seconds)
    return {"n": len(ms), "p50_ms": round(fanout.percentile(ms, 0.5), 2),
            "p99_ms": round(fanout.percentile(ms, 0.99), 2)}  # fmt: skip


def chat_part(pings: int, pin: bool, quiet_wait: float, source: Path) -> dict[str, Any]:
    """Start the server (the code under `source`), measure (b), stop it."""
    with tempfile.TemporaryDirectory(prefix="dk-photos-") as tmp:
        other = fanout.wait_for_quiet(quiet_wait) if quiet_wait > 0 else None
        server = PhotoServer("dreiklang", Path(tmp), pin=pin, source=source)
        server.start()
        try:
            if pin:
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(0, {fanout.CLIENT_CPU})
            busy_before = fanout.machine_busy_seconds()
            started = time.monotonic()
            result = asyncio.run(measure_chat(server, pings))
            span = time.monotonic() - started
            machine = (fanout.machine_busy_seconds() - busy_before) / (span * (os.cpu_count() or 1))
            result["machine_busy_share"] = round(machine, 2)
            result["other_share_before"] = None if other is None else round(other, 2)
            return result
        finally:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--part", choices=["cpu", "chat", "both"], default="both")
    parser.add_argument("--runs", type=int, default=5, help="(a): photos processed")
    parser.add_argument("--pings", type=int, default=200, help="(b): round trips idle and busy")
    parser.add_argument("--no-pin", action="store_true")
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="(b): wait up to this many seconds for other processes to calm down",
    )
    parser.add_argument(
        "--server-root",
        default=str(ROOT),
        help="(b): run the server from another checkout (a git archive)",
    )
    parser.add_argument("--out", default="/tmp/dreiklang-bench-photos.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if args.part in {"cpu", "both"}:
        results["cpu"] = a = cpu_part(args.runs)
        print(f"(a) 12 MP photo ({a['photo_bytes']:,} bytes) → {a['stored_size'][0]}×"
              f"{a['stored_size'][1]} JPEG {a['stored_bytes']:,} bytes, thumbnail "
              f"{a['thumb_bytes']:,} bytes, placeholder {a['placeholder_chars']} chars\n"
              f"    CPU per photo {a['cpu_seconds_per_photo_mean']} s (min "
              f"{a['cpu_seconds_per_photo_min']} s, {a['runs']} runs); peak memory "
              f"{a['peak_memory_mib']} MiB over a baseline of "
              f"{a['baseline_maxrss_mib']} MiB")  # fmt: skip
    if args.part in {"chat", "both"}:
        results["chat"] = b = chat_part(
            args.pings, not args.no_pin, args.quiet_wait, Path(args.server_root)
        )
        print(f"(b) chat round trip idle p50 {b['idle']['p50_ms']} ms p99 {b['idle']['p99_ms']} "
              f"ms; during {b['uploads']} uploads ({b['upload_rounds']} rounds of "
              f"{UPLOADS_AT_ONCE}, {b['seconds_per_round_of_5']} s each, HTTP "
              f"{b['upload_statuses']}): p50 {b['busy']['p50_ms']} ms p99 {b['busy']['p99_ms']} "
              f"ms ({b['busy']['n']} pings)\n    busy / idle: p50 {b['p50_busy_over_idle']}×, "
              f"p99 {b['p99_busy_over_idle']}×; the machine {b['machine_busy_share']:.0%} busy "
              f"meanwhile (this benchmark included), others "
              f"{b['other_share_before']} before")  # fmt: skip
    Path(args.out).write_text(json.dumps(results, indent=2))
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
