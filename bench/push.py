"""Push benchmark: how fast a reply reaches a push service, and what pushing costs live chat.

One Dreiklang server (a subprocess on a fresh SQLite DATA_DIR with the demo company) pushes to
the local push service of the test suite (tests/pushservice.py, a subprocess too: it checks
VAPID, decrypts every message and records when it arrived). Measured:

1. Reply latency with an idle queue: one follower device (the demo customer), the support
   agent posts replies one after another through the JSON API; for each, the time from the
   message's `created_at` (written in the transaction that commits it) to the push service
   receiving the decrypted push. Also from the POST's return (after the commit; it can be
   negative, the worker starts at the commit, before the response is sent).
2. Fan-out to many followers: F customer accounts sign up (POST /signup, a session each),
   follow the thread and register one device each; one reply; every device must receive its
   push: time to the first, the median and the last.
3. The cost to live chat: S JSON WebSockets subscribed to the followed thread measure event
   arrival (send timestamp in the body, same host clock) for that one reply and for bursts of
   replies the agent sends over a WebSocket at a steady rate; with push, the first reply of a
   burst sets off a push to every follower and each later one queues more, so the sockets
   are measured while the push burst is being delivered. The same measurements run on the same
   database with PUSH_ENABLED=false (alternating runs, baseline first); the burst p99 with
   push must stay within 20% of the baseline's.

The machine may be shared: before each measurement the benchmark waits (up to --quiet-wait
seconds) for other processes to calm down, and records how many cores they used during it.
The verdict only counts bursts they did not disturb (under 0.15 cores); with none left in a
mode it is "inconclusive". Exit status: 0 within the target, 1 not within, 2 inconclusive.

    .venv/bin/python bench/push.py          # 200 replies; 1,000 followers; 200 sockets;
                                            # 2 rounds of 2 bursts of 20 replies at 10/s
    .venv/bin/python bench/push.py --quick  # 50 replies; 200 followers; 100 sockets;
                                            # 1 round of 2 bursts of 10 replies

Prints a table and writes JSON to --out. On two or more cores the server gets core 0 and the
rest (load client, push service, this driver) core 1; the push service runs at idle CPU
priority (SCHED_IDLE) so its decrypting does not delay the load client's timestamps. The
server's push worker is its child process, on the server's core.

Set-up shortcut: the server runs with a cheap argon2 cost (`serve` below) so that creating a
thousand accounts takes seconds, not the ten minutes real password hashing would take; sign-up
cost has nothing to do with push. Everything else is the real server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import secrets
import sqlite3
import subprocess
import sys
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # tests.pushservice, server

import fanout  # noqa: E402
import httpx2 as httpx  # noqa: E402
import loadclient  # noqa: E402
from loadclient import Tally, Target  # noqa: E402

from tests.pushservice import PushService, Received  # noqa: E402

DEMO_PASSWORD = "nordlicht-demo"  # noqa: S105
FOLLOWER = "weber@example.org"  # the demo customer: her device in part 1
AGENT = "jan@nordlicht.example"  # sends every reply
WATCHER = "aylin@nordlicht.example"  # holds the measuring sockets (a moderator, no follower)
THREAD_TITLE = "Stromausfall"  # the demo customer's public thread
SIGNUP_PASSWORD = "bench-password-123"  # noqa: S105
SERVER_CPU, CLIENT_CPU = 0, 1
PUSH_SERVICE_NICE = 10  # below the load client: its timestamps must not wait for decryption
START_TIMEOUT_SECONDS = 60.0
PUSH_TIMEOUT_SECONDS = 600.0  # every wait for pushes is bounded by this
DRAIN_QUIET_SECONDS = 0.5  # with an empty queue, nothing more may arrive for this long
TARGET_P99_RATIO = 1.2  # live fan-out p99 with push / without push
CLEAN_FOREIGN_CORES = 0.15  # a burst counts when other processes used less CPU than this

# -- processes --------------------------------------------------------------------------------


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def pin(pid: int, cpu: int) -> None:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(pid, {cpu})


@dataclass
class PushServiceProcess:
    """tests/pushservice.py as a subprocess without a state file (no disk write per push)."""

    workdir: Path
    pinned: bool
    port: int = field(default_factory=fanout.free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def control(self) -> PushService:
        return PushService(port=self.port)  # only its control methods: the service runs here

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        log = open(self.workdir / "pushservice.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.pushservice", "--port", str(self.port)],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if self.pinned:
            pin(self.proc.pid, CLIENT_CPU)
        # The push service stands in for Google's or Mozilla's servers, on other machines: it
        # may only use CPU nobody here wants (SCHED_IDLE), else at least a lower priority.
        try:
            os.sched_setscheduler(self.proc.pid, os.SCHED_IDLE, os.sched_param(0))
        except (AttributeError, OSError):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, self.proc.pid, PUSH_SERVICE_NICE)
        wait_healthy(self.url, self.proc, "push service")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None


@dataclass
class BenchServer:
    """The Dreiklang server, restartable with push on or off on the same DATA_DIR."""

    workdir: Path
    push_prefix: str
    pinned: bool
    port: int = field(default_factory=fanout.free_port)
    proc: subprocess.Popen[bytes] | None = None
    secret: str = field(default_factory=lambda: "bench-" + secrets.token_hex(8))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def database(self) -> Path:
        return self.workdir / "bench.sqlite3"

    def env(self, push_enabled: bool) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DREIKLANG_")}
        env.update(
            PYTHONPATH=str(ROOT),
            DATA_DIR=str(self.workdir),
            DATABASE_URL=f"sqlite://{self.database}",
            SECRET_KEY=self.secret,
            LOGIN_ATTEMPTS_PER_MINUTE="100000",
            POSTS_PER_MINUTE=fanout.BENCH_POSTS_PER_MINUTE,  # the agent replies 10 a second
            PUSH_ENABLED="true" if push_enabled else "false",
            PUSH_TEST_ENDPOINT_PREFIX=self.push_prefix,
        )
        return env

    def load_demo(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "server.cli", "demo", "--no-serve"],
            env=self.env(True),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        )

    def start(self, push_enabled: bool) -> None:
        log = open(self.workdir / "server.log", "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "serve", "--port", str(self.port)],
            env=self.env(push_enabled),
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        if self.pinned:
            pin(self.proc.pid, SERVER_CPU)
        wait_healthy(self.url, self.proc, "server")
        if self.pinned:  # the push worker, a child of the server, shares the server's core
            fanout.pin_tree(self.proc.pid, SERVER_CPU)

    def worker_pids(self) -> list[int]:
        """The server's child processes (its push worker, when push is on)."""
        return fanout.process_tree(self.proc.pid)[1:] if self.proc is not None else []

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def drop_queued_intents(self) -> int:
        """Forget what was queued while push was off (the server is stopped)."""
        with contextlib.closing(sqlite3.connect(self.database)) as db, db:
            return db.execute("DELETE FROM notification_intents").rowcount


def wait_healthy(url: str, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the {what} exited with {proc.returncode}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1, trust_env=False).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the {what} did not answer /healthz in {START_TIMEOUT_SECONDS} s")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve(port: int) -> int:
    """Run the real server, with a cheap password hash so sign-ups are fast (set-up only)."""
    # This file is bench/push.py: with bench/ on the path, `import push` would find it.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
    from argon2 import PasswordHasher

    import server.auth
    from server.cli import main as cli

    server.auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return cli(["serve", "--port", str(port)])


# -- HTTP -------------------------------------------------------------------------------------


def token_of(url: str, email: str) -> str:
    r = httpx.post(
        url + "/api/v1/tokens",
        json={"email": email, "password": DEMO_PASSWORD},
        timeout=30,
        trust_env=False,
    )
    r.raise_for_status()
    return str(r.json()["token"])


def signed_in(url: str, email: str) -> tuple[httpx.Client, str]:
    """A browser-like session (cookies) and its CSRF token."""
    client = httpx.Client(base_url=url, timeout=30, trust_env=False)
    client.get("/login")
    csrf = client.cookies["dreiklang_csrf"]
    r = client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrftoken": csrf})
    if r.status_code != 303:
        raise RuntimeError(f"sign-in of {email} failed: {r.status_code} {r.text[:200]}")
    return client, csrf


def find_thread(url: str, token: str) -> str:
    r = httpx.get(
        url + "/api/v1/threads?limit=50",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        trust_env=False,
    )
    r.raise_for_status()
    for row in r.json()["threads"]:
        if THREAD_TITLE in row["title"]:
            return str(row["id"])
    raise RuntimeError(f"no thread titled {THREAD_TITLE!r} in the demo data")


def vapid_key(url: str) -> str:
    r = httpx.get(url + "/push/key", timeout=30, trust_env=False)
    r.raise_for_status()
    return str(r.json()["public_key"])


def epoch(iso: str) -> float:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


@dataclass
class Posted:
    id: str
    created_at: float
    sent_at: float  # before the POST
    returned_at: float  # after the response


def post_reply(client: httpx.Client, thread: str, body: str) -> Posted:
    sent = time.time()
    r = client.post(
        f"/api/v1/threads/{thread}/messages",
        json={"body": body, "client_id": "bench-" + secrets.token_hex(8)},
    )
    returned = time.time()
    if r.status_code != 201:
        raise RuntimeError(f"posting a reply failed: {r.status_code} {r.text[:200]}")
    message = r.json()["message"]
    return Posted(str(message["id"]), epoch(message["created_at"]), sent, returned)


def push_for(messages: Sequence[Received], message_id: str) -> Received | None:
    for m in messages:
        if str(m.json().get("url", "")).endswith(f"#msg-{message_id}"):
            return m
    return None


def summary(values: Sequence[float]) -> dict[str, float | int]:
    """n, mean, p50, p90, p99 and max in milliseconds."""
    ordered = sorted(v * 1000 for v in values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "mean_ms": round(sum(ordered) / len(ordered), 2),
        "p50_ms": round(fanout.percentile(ordered, 0.50), 2),
        "p90_ms": round(fanout.percentile(ordered, 0.90), 2),
        "p99_ms": round(fanout.percentile(ordered, 0.99), 2),
        "max_ms": round(ordered[-1], 2),
    }


def backlog(database: Path) -> tuple[int, int]:
    """Intents not yet expanded and jobs not yet delivered, read from the server's database
    (WAL: readers never block the server's writes)."""
    with contextlib.closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)) as db:
        intents = db.execute("SELECT count(*) FROM notification_intents").fetchone()[0]
        jobs = db.execute("SELECT count(*) FROM push_jobs WHERE state = 'queued'").fetchone()[0]
    return int(intents), int(jobs)


def wait_drained(push: PushService, server: BenchServer) -> int:
    """Wait until the server has nothing left to push and the push service nothing more
    arriving; return the number of pushes the service has been sent in total."""
    deadline = time.monotonic() + PUSH_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if backlog(server.database) == (0, 0):
            before = push.stats()["attempts"]
            time.sleep(DRAIN_QUIET_SECONDS)
            after = push.stats()["attempts"]
            if after == before and backlog(server.database) == (0, 0):
                return int(after)
        else:
            time.sleep(0.2)
    raise TimeoutError(f"the push queue did not drain in {PUSH_TIMEOUT_SECONDS:.0f} s")


# -- part 1: reply latency --------------------------------------------------------------------


def reply_latency(
    server: BenchServer, push: PushService, thread: str, replies: int, warm_up: int = 5
) -> dict[str, Any]:
    """Sequential replies, one follower device, each push awaited before the next reply."""
    session, csrf = signed_in(server.url, FOLLOWER)
    sub = push.subscribe(vapid_key(server.url))
    r = session.post(
        "/push/devices",
        json={**sub.to_json(), "label": "bench phone"},
        headers={"x-csrftoken": csrf},
    )
    if r.status_code != 201:
        raise RuntimeError(f"registering the device failed: {r.status_code} {r.text[:200]}")
    session.close()
    agent = httpx.Client(
        base_url=server.url,
        timeout=30,
        trust_env=False,
        headers={"Authorization": f"Bearer {token_of(server.url, AGENT)}"},
    )
    commit, after_return, from_send = [], [], []
    with agent:
        for i in range(warm_up + replies):
            posted = post_reply(agent, thread, f"Benchmark reply {i}: the crew is on site.")
            got = push.wait_for(sub, count=i + 1, timeout=30)
            received = push_for(got, posted.id)
            if received is None or len(got) != i + 1:
                raise RuntimeError(f"reply {i}: {len(got)} pushes, none for {posted.id}")
            if i >= warm_up:
                commit.append(received.received_at - posted.created_at)
                after_return.append(received.received_at - posted.returned_at)
                from_send.append(received.received_at - posted.sent_at)
    return {
        "replies": replies,
        "from_commit": summary(commit),
        "from_post_return": summary(after_return),
        "from_post_start": summary(from_send),
    }


# -- part 2: followers ------------------------------------------------------------------------


async def make_followers(
    server: BenchServer, push_url: str, thread: str, count: int, concurrency: int = 16
) -> list[str]:
    """Sign up `count` customers; each follows the thread and registers one device. Return
    the push service's subscription ids."""
    key = vapid_key(server.url)
    run = secrets.token_hex(3)
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=push_url, timeout=30, trust_env=False) as service:

        async def one(i: int) -> str:
            async with (
                gate,
                httpx.AsyncClient(base_url=server.url, timeout=60, trust_env=False) as c,
            ):
                await c.get("/signup")
                csrf = c.cookies["dreiklang_csrf"]
                form = {
                    "email": f"follower-{run}-{i}@example.org",
                    "name": f"Follower {i}",
                    "password": SIGNUP_PASSWORD,
                    "csrftoken": csrf,
                }
                r = await c.post("/signup", data=form)
                if r.status_code != 303:
                    raise RuntimeError(f"sign-up {i}: {r.status_code} {r.text[:200]}")
                r = await c.post(
                    f"/threads/{thread}/follow", data={"state": "following", "csrftoken": csrf}
                )
                if r.status_code != 303:
                    raise RuntimeError(f"follow {i}: {r.status_code} {r.text[:200]}")
                s = await service.post("/subscribe", json={"applicationServerKey": key})
                s.raise_for_status()
                sub = s.json()
                device = {"endpoint": sub["endpoint"], "keys": sub["keys"], "label": f"phone {i}"}
                r = await c.post("/push/devices", json=device, headers={"x-csrftoken": csrf})
                if r.status_code != 201:
                    raise RuntimeError(f"device {i}: {r.status_code} {r.text[:200]}")
                return str(sub["id"])

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def pushes_of(
    push_url: str, ids: Sequence[str], concurrency: int = 32
) -> list[list[Received]]:
    """Every subscription's decrypted pushes, read from the push service."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=push_url, timeout=60, trust_env=False) as c:

        async def one(sub_id: str) -> list[Received]:
            async with gate:
                r = await c.get(f"/control/subscriptions/{sub_id}/messages")
                r.raise_for_status()
                return [
                    Received(
                        b64url_decode(m["plaintext"]), m["headers"], m["claims"], m["received_at"]
                    )
                    for m in r.json()["messages"]
                ]

        return list(await asyncio.gather(*(one(i) for i in ids)))


def b64url_decode(text: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- part 3: live fan-out with and without push -----------------------------------------------


@dataclass
class Window:
    """CPU use during a measurement: the server's, and other processes' that are not part of
    the benchmark (on a shared machine they disturb the latencies)."""

    pids: dict[str, int]  # server, push service, load client, this driver
    started: float = 0.0
    machine: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)

    def _used(self) -> dict[str, float]:
        used = {}
        for name, pid in self.pids.items():
            with contextlib.suppress(OSError):
                # The server with its push worker child: both are the server's work.
                measure = fanout.tree_cpu_seconds if name == "server" else fanout.proc_cpu_seconds
                used[name] = measure(pid)
        return used

    def start(self) -> None:
        self.started, self.machine = time.monotonic(), fanout.machine_busy_seconds()
        self.cpu = self._used()

    def stop(self) -> dict[str, float]:
        wall = max(1e-6, time.monotonic() - self.started)
        used = {k: v - self.cpu.get(k, v) for k, v in self._used().items()}
        foreign = fanout.machine_busy_seconds() - self.machine - sum(used.values())
        return {
            "window_seconds": round(wall, 2),
            "server_cpu_seconds": round(used.get("server", 0.0), 2),
            "push_service_cpu_seconds": round(used.get("push service", 0.0), 2),
            "foreign_cores": round(max(0.0, foreign) / wall, 2),
        }


@dataclass
class Live:
    """The measuring sockets (one load-client process): connected afresh for every measurement
    (the load client keeps a socket's latency samples until it closes). Each measurement waits
    for the machine to be quiet first and records the CPU use during it."""

    clients: fanout.Clients
    target: Target
    count: int
    window: Window
    quiet_wait: float
    connect_seconds: list[float] = field(default_factory=list)

    def expect(self, messages: int, timeout: float) -> float | None:
        """Wait for quiet, connect and subscribe the sockets, have them wait for `messages`
        events, and start the CPU window; return the other processes' share before."""
        share = fanout.wait_for_quiet(self.quiet_wait) if self.quiet_wait > 0 else None
        started = time.monotonic()
        args = {"target": self.target.__dict__, "count": self.count, "sample_every": 1, "offset": 0}
        self.clients.call("connect", [args], timeout=120)
        self.connect_seconds.append(round(time.monotonic() - started, 2))
        self.clients.call("expect", [{}], timeout=30)
        self.clients.send("wait", [{"messages": messages, "timeout": timeout}])
        self.window.start()
        return None if share is None else round(share, 3)

    def collect(self, timeout: float) -> tuple[Tally, dict[str, float]]:
        result = self.sockets_done(timeout)
        return result, self.finish()

    def sockets_done(self, timeout: float) -> Tally:
        """Wait until every socket has its messages (the CPU window stays open)."""
        result: Tally = self.clients.collect(timeout)[0]
        return result

    def finish(self) -> dict[str, float]:
        cpu = self.window.stop()
        self.clients.call("close", [{}], timeout=30)
        return cpu


def latencies(tally: Tally) -> array[float]:
    values = array("d")
    values.frombytes(tally.latencies)
    return values


def ws_figures(tally: Tally, expected: int) -> dict[str, Any]:
    return {
        **summary(latencies(tally)),
        "events": tally.events,
        "lost": tally.lost,
        "gaps": tally.gaps,
        "closed": tally.closed,
        "expected": expected,
    }


def one_reply(
    live: Live,
    agent: httpx.Client,
    thread: str,
    push: PushService | None,
    followers: Sequence[str],
    push_url: str,
) -> dict[str, Any]:
    """One reply: WebSocket arrival on every socket and, with push, on every follower device."""
    before = push.stats()["attempts"] if push else 0
    result: dict[str, Any] = {"quiet_before": live.expect(1, timeout=60)}
    mark = loadclient.timestamp_mark(time.time())
    posted = post_reply(agent, thread, f"One reply for everyone {mark}")
    # The sockets first: polling the push service meanwhile would take the load client's core.
    tally = live.sockets_done(timeout=90)
    if push is not None:
        # The followers' devices and the demo customer's; on timeout, count what is missing.
        deadline = time.monotonic() + PUSH_TIMEOUT_SECONDS
        wanted = before + len(followers) + 1
        while push.stats()["attempts"] < wanted and time.monotonic() < deadline:
            time.sleep(0.05)
    cpu = live.finish()
    result["ws"] = ws_figures(tally, 1)
    result["cpu"] = cpu
    result["latencies"] = latencies(tally)
    if push is not None:
        arrived = []
        for got in asyncio.run(pushes_of(push_url, followers)):
            received = push_for(got, posted.id)
            if received is not None:
                arrived.append(received.received_at - posted.created_at)
        arrived.sort()
        per_push = cpu["server_cpu_seconds"] * 1000 / max(1, len(arrived))
        result["pushes"] = {
            "followers": len(followers),
            "received": len(arrived),
            "missing": len(followers) - len(arrived),
            "first_ms": round(arrived[0] * 1000, 1) if arrived else None,
            "median_ms": round(arrived[len(arrived) // 2] * 1000, 1) if arrived else None,
            "last_ms": round(arrived[-1] * 1000, 1) if arrived else None,
            "server_cpu_ms_per_push": round(per_push, 2),
            "refusals": len(push.stats()["refusals"]),
        }
    return result


@dataclass
class Burst:
    row: dict[str, Any]
    samples: array[float]

    @property
    def clean(self) -> bool:
        """Whether no other process on the machine disturbed it."""
        return float(self.row["cpu"]["foreign_cores"]) < CLEAN_FOREIGN_CORES


def bursts(
    server: BenchServer,
    live: Live,
    agent_token: str,
    thread: str,
    opts: Options,
    push: PushService | None,
) -> list[Burst]:
    """Bursts of replies over a WebSocket in the followed thread; arrival latency on every
    socket. With push, the first reply of a burst starts a push to every follower (and each
    later one queues more); the burst's pushes are all delivered before the next burst."""
    done = []
    messages, rate = opts.burst_messages, opts.burst_rate
    for k in range(opts.bursts):
        before = push.stats()["attempts"] if push else 0
        quiet = live.expect(messages, timeout=messages / rate + 90)
        started = time.monotonic()
        target = Target("dreiklang", server.port, agent_token, thread)
        run_id = f"b{k}-{secrets.token_hex(3)}"
        sent = asyncio.run(loadclient.run_sender(target, agent_token, messages, rate, 0, run_id))
        tally, cpu = live.collect(timeout=messages / rate + 120)
        row: dict[str, Any] = {
            **ws_figures(tally, messages),
            "acks": sent.acks,
            "errors": len(sent.errors),
            "send_seconds": round(sent.last_sent - sent.first_sent, 2),
            "quiet_before": quiet,
            "cpu": cpu,
        }
        if push is not None:
            row["pushes"] = wait_drained(push, server) - before
            row["push_drain_seconds"] = round(time.monotonic() - started - DRAIN_QUIET_SECONDS, 1)
        done.append(Burst(row, latencies(tally)))
    return done


@dataclass
class Options:
    replies: int
    followers: int
    sockets: int
    burst_messages: int
    burst_rate: float
    bursts: int
    rounds: int
    quiet_wait: float
    pin: bool
    workdir: Path


MODES = ("without_push", "with_push")


@dataclass
class Pooled:
    """Every latency sample of one mode, over all its runs."""

    one_reply: array[float] = field(default_factory=lambda: array("d"))
    bursts: list[Burst] = field(default_factory=list)


def live_run(
    server: BenchServer,
    service: PushServiceProcess,
    clients: fanout.Clients,
    thread: str,
    followers: Sequence[str],
    opts: Options,
    mode: str,
    pooled: Pooled,
) -> dict[str, Any]:
    """Start the server with push on or off, measure one reply and the bursts, stop it."""
    enabled = mode == "with_push"
    push = service.control if enabled else None
    # Intents written while push was off would make a backlog: push was off when they happened.
    dropped = server.drop_queued_intents() if enabled else 0
    server.start(push_enabled=enabled)
    assert server.proc is not None and service.proc is not None
    try:
        agent_token = token_of(server.url, AGENT)
        target = Target("dreiklang", server.port, token_of(server.url, WATCHER), thread)
        pids = {
            "server": server.proc.pid,
            "push service": service.proc.pid,
            "load client": clients.procs[0].pid,
            "driver": os.getpid(),
        }
        live = Live(clients, target, opts.sockets, Window(pids), opts.quiet_wait)
        asyncio.run(fanout.warm_up(target, agent_token, 0))
        if push is not None:
            wait_drained(push, server)
        row: dict[str, Any] = {"intents_dropped_before": dropped}
        headers = {"Authorization": f"Bearer {agent_token}"}
        with httpx.Client(
            base_url=server.url, timeout=30, trust_env=False, headers=headers
        ) as agent:
            row["one_reply"] = one_reply(live, agent, thread, push, followers, service.url)
        pooled.one_reply.extend(row["one_reply"].pop("latencies"))
        if push is not None:
            wait_drained(push, server)
        done = bursts(server, live, agent_token, thread, opts, push)
        pooled.bursts.extend(done)
        row["bursts"] = [b.row for b in done]
        row["connect_seconds"] = live.connect_seconds
        return row
    finally:
        server.stop()


def comparison(pooled: dict[str, Pooled]) -> dict[str, Any]:
    """Burst p99 with push / without: over every burst, and over the undisturbed ones (the
    verdict; none undisturbed in a mode makes it inconclusive)."""
    result: dict[str, Any] = {}
    for name, clean_only in (("all", False), ("undisturbed", True)):
        figures = {}
        for mode in MODES:
            samples: array[float] = array("d")
            chosen = [b for b in pooled[mode].bursts if b.clean or not clean_only]
            for b in chosen:
                samples.extend(b.samples)
            figures[mode] = {**summary(samples), "bursts": len(chosen)}
        base = figures["without_push"].get("p99_ms")
        with_push = figures["with_push"].get("p99_ms")
        ratio = round(with_push / base, 3) if base and with_push else None
        result[name] = {**figures, "p99_ratio": ratio}
    ratio = result["undisturbed"]["p99_ratio"]
    if ratio is None:
        result["verdict"] = "inconclusive"
    else:
        result["verdict"] = "within" if ratio <= TARGET_P99_RATIO else "not within"
    return result


def run(opts: Options) -> dict[str, Any]:
    loadclient.raise_fd_limit(opts.sockets + 1024)
    service = PushServiceProcess(opts.workdir, opts.pin)
    service.start()
    push = service.control
    server = BenchServer(opts.workdir, push.endpoint_prefix, opts.pin)
    clients = fanout.Clients(1, opts.pin)
    if opts.pin:
        pin(os.getpid(), CLIENT_CPU)
    results: dict[str, Any] = {}
    try:
        server.load_demo()
        server.start(push_enabled=True)
        thread = find_thread(server.url, token_of(server.url, AGENT))
        print(f"reply latency: {opts.replies} replies, one follower device", flush=True)
        results["reply_latency"] = reply_latency(server, push, thread, opts.replies)
        print(f"{opts.followers} followers sign up, follow and register a device", flush=True)
        started = time.monotonic()
        followers = asyncio.run(make_followers(server, service.url, thread, opts.followers))
        results["setup"] = {
            "followers": len(followers),
            "seconds": round(time.monotonic() - started, 1),
        }
        server.stop()

        runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
        pooled = {mode: Pooled() for mode in MODES}
        for r in range(opts.rounds):
            for mode in MODES:
                print(
                    f"round {r + 1}/{opts.rounds}: {opts.sockets} sockets, "
                    f"{'push on' if mode == 'with_push' else 'PUSH_ENABLED=false'}",
                    flush=True,
                )
                runs[mode].append(
                    live_run(server, service, clients, thread, followers, opts, mode, pooled[mode])
                )
        results["live"] = {
            mode: {"runs": runs[mode], "one_reply": summary(pooled[mode].one_reply)}
            for mode in MODES
        }
        results["comparison"] = comparison(pooled)
        results["refusals"] = push.stats()["refusals"][-5:]
    finally:
        clients.close()
        server.stop()
        service.stop()
    return results


def print_table(results: dict[str, Any], opts: Options) -> None:
    def ms(figures: dict[str, Any], key: str) -> str:
        value = figures.get(key)
        return "-" if value is None else f"{value:.1f}"

    lat = results["reply_latency"]
    print()
    print(f"Reply → push service, idle queue ({lat['replies']} replies, one device)")
    print(f"  {'measured from':<30}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for key, label in (
        ("from_commit", "the message's created_at"),
        ("from_post_return", "the POST's return"),
        ("from_post_start", "the POST's start"),
    ):
        f = lat[key]
        print(
            f"  {label:<30}{ms(f, 'p50_ms'):>9}{ms(f, 'p90_ms'):>9}{ms(f, 'p99_ms'):>9}"
            f"{ms(f, 'max_ms'):>9}"
        )
    print()
    print(
        f"One reply → {opts.followers} follower devices (+1), after the message's created_at "
        f"(set-up {results['setup']['seconds']} s)"
    )
    print(
        f"  {'run':<6}{'received':>10}{'missing':>9}{'first ms':>10}{'median ms':>11}"
        f"{'last ms':>10}"
    )
    for i, run in enumerate(results["live"]["with_push"]["runs"], start=1):
        p = run["one_reply"]["pushes"]
        print(
            f"  {i:<6}{p['received']:>10}{p['missing']:>9}{p['first_ms']:>10}"
            f"{p['median_ms']:>11}{p['last_ms']:>10}"
        )
    print()
    print(
        f"Live fan-out: {opts.sockets} JSON sockets; per mode {opts.rounds} run(s) of one reply "
        f"and {opts.bursts} bursts of {opts.burst_messages} replies at {opts.burst_rate:g}/s"
    )
    print(f"  {'':<30}{'bursts':>7}{'samples':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    comp = results["comparison"]
    for mode in MODES:
        name = mode.replace("_", " ")
        one = results["live"][mode]["one_reply"]
        print(
            f"  {name + ', one reply':<30}{'':>7}{one.get('n', 0):>9}{ms(one, 'p50_ms'):>9}"
            f"{ms(one, 'p99_ms'):>9}{ms(one, 'max_ms'):>9}"
        )
        for which in ("all", "undisturbed"):
            f = comp[which][mode]
            print(
                f"  {name + ', bursts, ' + which:<30}{f['bursts']:>7}{f.get('n', 0):>9}"
                f"{ms(f, 'p50_ms'):>9}{ms(f, 'p99_ms'):>9}{ms(f, 'max_ms'):>9}"
            )
    print()
    print(
        f"  {'burst':<6}{'mode':<14}{'p50 ms':>9}{'p99 ms':>9}{'lost':>6}{'server CPU s':>14}"
        f"{'others, cores':>15}{'pushes':>8}{'drain s':>9}"
    )
    for mode in MODES:
        n = 0
        for run in results["live"][mode]["runs"]:
            for b in run["bursts"]:
                n += 1
                print(
                    f"  {n:<6}{mode:<14}{ms(b, 'p50_ms'):>9}{ms(b, 'p99_ms'):>9}{b['lost']:>6}"
                    f"{b['cpu']['server_cpu_seconds']:>14}{b['cpu']['foreign_cores']:>15}"
                    f"{b.get('pushes', '-'):>8}{b.get('push_drain_seconds', '-'):>9}"
                )
    print(
        f"  burst p99 with push / without: {comp['all']['p99_ratio']} over all bursts, "
        f"{comp['undisturbed']['p99_ratio']} over undisturbed ones (others < "
        f"{CLEAN_FOREIGN_CORES:g} cores): {comp['verdict']} the {TARGET_P99_RATIO:g} target"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["serve"]:
        serve_parser = argparse.ArgumentParser(prog="push.py serve")
        serve_parser.add_argument("--port", type=int, required=True)
        return serve(serve_parser.parse_args(args_in[1:]).port)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer replies, followers, sockets")
    parser.add_argument("--replies", type=int, help="part 1 (default 200, quick 50)")
    parser.add_argument("--followers", type=int, help="parts 2-3 (default 1000, quick 200)")
    parser.add_argument("--sockets", type=int, help="measuring sockets (default 200, quick 100)")
    parser.add_argument("--burst-messages", type=int, help="replies a burst (default 20, quick 10)")
    parser.add_argument("--burst-rate", type=float, default=10.0, help="replies a second")
    parser.add_argument("--bursts", type=int, help="bursts a run (default 2)")
    parser.add_argument(
        "--rounds", type=int, help="runs per mode, alternating (default 2, quick 1)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=20.0,
        help="before each measurement, wait up to this many seconds for other "
        "processes to calm down (0: don't)",
    )
    parser.add_argument("--no-pin", action="store_true", help="don't pin processes to cores")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--out", type=Path, default=Path("/tmp/dreiklang-push-bench.json"))
    args = parser.parse_args(args_in)
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="dreiklang-push-bench-"))
    opts = Options(
        replies=args.replies or (50 if args.quick else 200),
        followers=args.followers or (200 if args.quick else 1000),
        sockets=args.sockets or (100 if args.quick else 200),
        burst_messages=args.burst_messages or (10 if args.quick else 20),
        burst_rate=args.burst_rate,
        bursts=args.bursts or 2,
        rounds=args.rounds or (1 if args.quick else 2),
        quiet_wait=args.quiet_wait,
        pin=can_pin() and not args.no_pin,
        workdir=workdir,
    )
    started = time.monotonic()
    try:
        results = run(opts)
    finally:
        if not args.keep:
            import shutil

            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work directory kept: {workdir}")
    results["options"] = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in opts.__dict__.items()
    }
    results["machine"] = {
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
    }
    results["seconds"] = round(time.monotonic() - started, 1)
    print_table(results, opts)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"\nJSON: {args.out}  ({results['seconds']} s)")
    return {"within": 0, "not within": 1}.get(results["comparison"]["verdict"], 2)


if __name__ == "__main__":
    sys.exit(main())
