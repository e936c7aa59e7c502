"""Fan-out benchmark: Dreiklang against a naive in-memory room, same uvicorn, same load.

For each size N, each target server runs in its own process (Dreiklang on a fresh SQLite
DATA_DIR with the demo company; bench/baseline_room.py), N subscribers connect from separate
load-client processes and follow one thread, then one sender sends M messages at a steady
rate. Measured: server RSS per idle connection, server CPU (all threads, and the push worker
child, from /proc) per delivered frame, delivered frames/s, end-to-end latency (send timestamp
in the body to receipt, same host clock), and losses (every subscriber must see every event,
seq contiguous).

    .venv/bin/python bench/fanout.py            # N = 100, 1000, 5000; 200 messages at 20/s
    .venv/bin/python bench/fanout.py --quick    # N = 100, 1000; 50 messages (about 1 minute)
    .venv/bin/python bench/fanout.py --workload threads  # many small threads (smallthreads.py)

See bench/README.md for what the figures mean and the latest results.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import loadclient
from loadclient import SendResult, Tally, Target

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CUSTOMER = ("weber@example.org", "nordlicht-demo")  # the subscribers: one demo customer
AGENT = ("jan@nordlicht.example", "nordlicht-demo")  # the sender: a support agent answering
THREAD_TITLE = "Stromausfall"  # the demo customer's own public thread
SERVER_CPU, CLIENT_CPU = 0, 1  # on a 2-core machine: the server gets one core, clients the other
START_TIMEOUT_SECONDS = 60.0
SETTLE_SECONDS = 1.0  # let the server finish accept-time work before reading RSS
CLK_TCK = os.sysconf("SC_CLK_TCK")
# One agent sends the whole load (20 messages a second and more): posting stays limited, as in
# production, but far above what a benchmark sends, so the limit is counted and never hit.
BENCH_POSTS_PER_MINUTE = "customer=1000000,employee=1000000,moderator=1000000,admin=1000000"

TARGETS = {
    "N=1000 CPU/frame ratio": 1.5,  # Dreiklang / baseline, server CPU per delivered frame
    "KiB per idle connection": 35.0,
}


# -- the servers -----------------------------------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_cpu_seconds(pid: int) -> float:
    """Return the CPU time of a process, all its threads, user and system alike.

    /proc/PID/task/*/schedstat counts nanoseconds on the CPU; utime+stime in /proc/PID/stat
    count 10 ms ticks, too coarse for small runs (used where schedstat is missing).
    """
    with contextlib.suppress(OSError, ValueError):
        total = 0
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):  # a thread may end while we read
                total += int((task / "schedstat").read_text().split()[0])
        if total:
            return total / 1e9
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree(pid: int) -> list[int]:
    """Return a process and its descendants (Dreiklang's push worker runs as a child)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                with contextlib.suppress(OSError):
                    todo += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree_cpu_seconds(pid: int) -> float:
    """Return the CPU time of a process and its living descendants."""
    total = 0.0
    for member in process_tree(pid):
        with contextlib.suppress(OSError, ValueError):
            total += proc_cpu_seconds(member)
    return total


def pin_tree(pid: int, cpu: int) -> None:
    for member in process_tree(pid):
        with contextlib.suppress(OSError):
            os.sched_setaffinity(member, {cpu})


def proc_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


@dataclass
class Server:
    """A target server in a subprocess, pinned to the server core."""

    kind: str  # "dreiklang" | "baseline" | "storing" (the room that stores first)
    workdir: Path
    pin: bool
    source: Path = ROOT  # the Dreiklang checkout to run (the server is imported from here)
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    customer_token: str = ""
    agent_token: str = ""
    thread: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.kind}-{self.port}.log"

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DREIKLANG_")}
        env["PYTHONPATH"] = str(self.source)  # `-m server.cli` from this checkout
        env.update(
            DATA_DIR=str(self.workdir),
            DATABASE_URL=f"sqlite://{self.workdir / 'bench.sqlite3'}",
            SECRET_KEY="bench-" + secrets.token_hex(8),
            LOGIN_ATTEMPTS_PER_MINUTE="1000",
            POSTS_PER_MINUTE=BENCH_POSTS_PER_MINUTE,
        )
        return env

    def command(self) -> list[str]:
        if self.kind == "dreiklang":
            return [sys.executable, "-m", "server.cli", "serve", "--port", str(self.port)]
        room = [sys.executable, str(BENCH / "baseline_room.py"), "--port", str(self.port)]
        if self.kind == "storing":
            room += ["--store", str(self.workdir / "room.sqlite3")]
        return room

    def start(self) -> None:
        if self.kind == "dreiklang":
            subprocess.run(
                [sys.executable, "-m", "server.cli", "demo", "--no-serve"],
                env=self.env(), cwd=self.source, capture_output=True, text=True, timeout=120,
                check=True,
            )  # fmt: skip
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(
            self.command(), env=self.env(), cwd=self.source, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        if self.pin:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.proc.pid, {SERVER_CPU})
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited: {self.log_tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(self.url + "/healthz", timeout=1) as r,
            ):
                if r.status == 200:
                    if self.pin:  # children started since (the push worker) are server too
                        pin_tree(self.proc.pid, SERVER_CPU)
                    break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{self.kind} server did not answer /healthz: {self.log_tail()}")
        if self.kind == "dreiklang":
            self.customer_token = self.token(*CUSTOMER)
            self.agent_token = self.token(*AGENT)
            self.thread = self.find_thread()

    def token(self, email: str, password: str) -> str:
        data = self.http("POST", "/api/v1/tokens", {"email": email, "password": password})
        return str(data["token"])

    def find_thread(self) -> str:
        data = self.http("GET", "/api/v1/threads?limit=50", token=self.customer_token)
        for row in data["threads"]:
            if THREAD_TITLE in row["title"]:
                return str(row["id"])
        raise RuntimeError(f"no thread titled {THREAD_TITLE!r} in the demo data")

    def http(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        req = urllib.request.Request(self.url + path, method=method)
        if body is not None:
            req.data = json.dumps(body).encode()
            req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def target(self) -> Target:
        return Target(self.kind, self.port, self.customer_token, self.thread)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:] if self.log_path.exists() else ""


# -- the load-client processes ---------------------------------------------------------------


class Clients:
    """A few load-client processes that hold the subscribers, commanded over pipes."""

    def __init__(self, count: int, pin: bool) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[Any] = []
        for _ in range(count):
            parent, child = ctx.Pipe()
            p = ctx.Process(
                target=loadclient.worker, args=(child, CLIENT_CPU if pin else None), daemon=True
            )
            p.start()
            self.pipes.append(parent)
            self.procs.append(p)

    def send(self, cmd: str, args_of: Sequence[dict[str, Any]]) -> None:
        for pipe, args in zip(self.pipes, args_of, strict=True):
            pipe.send((cmd, args))

    def collect(self, timeout: float) -> list[Any]:
        deadline = time.monotonic() + timeout
        results = []
        for pipe in self.pipes:
            if not pipe.poll(max(0.0, deadline - time.monotonic())):
                raise TimeoutError(f"load client did not answer within {timeout:.0f} s")
            status, value = pipe.recv()
            if status != "ok":
                raise RuntimeError(f"load client failed: {value}")
            results.append(value)
        return results

    def call(self, cmd: str, args_of: Sequence[dict[str, Any]], timeout: float) -> list[Any]:
        self.send(cmd, args_of)
        return self.collect(timeout)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.call("exit", [{} for _ in self.pipes], timeout=10)
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()


def shares(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


# -- one measurement -------------------------------------------------------------------------


@dataclass
class Options:
    messages: int
    rate: float
    workers: int
    pin: bool
    thread_list: bool = False
    py_spy: str = ""  # path of a py-spy binary: profile the server during the send phase
    profile_dir: Path | None = None
    source: Path = ROOT
    quiet_wait: float = 0.0  # seconds to wait, at most, for other processes to calm down
    frame_budget: float = 20_000.0  # frames/s offered at most: the rate falls for large N
    targets: tuple[str, ...] = ("dreiklang", "baseline")
    label: str = ""  # names the server code measured when --server-root is no git checkout
    pad_to: int = 700

    def rate_for(self, n: int) -> float:
        """Offer at most `frame_budget` frames a second.

        A sender faster than the server can store and fan out is disconnected after about
        20 s of backlog: its pongs queue behind unread frames and uvicorn's keepalive gives
        up (ws_ping_timeout). At N=5000 that happens to both targets at 20 messages/s.
        """
        if self.frame_budget <= 0:
            return self.rate
        return min(
            self.rate, self.frame_budget / n
        )  # baseline frame size; replaced by Dreiklang's mean event frame size


def percentile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[i]


async def warm_up(target: Target, sender_token: str, pad_to: int) -> None:
    """Exercise every code path once so lazy imports and caches don't count as per-socket."""
    socks = [await loadclient.open_socket(target, sample=False) for _ in range(4)]
    await loadclient.run_sender(target, sender_token, 3, 20.0, pad_to, "warm")
    await loadclient.wait_delivered(socks, 3, time.monotonic() + 10)
    for s in socks:
        s.close()
    await asyncio.sleep(0.3)


def measure(server: Server, n: int, opts: Options, clients: Clients) -> dict[str, Any]:
    """Connect N subscribers, send M messages, and return the figures for one server."""
    assert server.proc is not None
    pid = server.proc.pid
    target = server.target()
    target.thread_list = opts.thread_list
    sender_token = server.agent_token
    asyncio.run(warm_up(target, sender_token, opts.pad_to))
    time.sleep(SETTLE_SECONDS)
    rss_before = proc_rss_kib(pid)

    counts = shares(n, len(clients.pipes))
    offsets = [sum(counts[:i]) for i in range(len(counts))]
    sample_every = max(1, n // 200)
    t0 = time.monotonic()
    connected = clients.call(
        "connect",
        [
            {"target": target.__dict__, "count": c, "sample_every": sample_every, "offset": o}
            for c, o in zip(counts, offsets, strict=True)
        ],
        timeout=60 + n * 0.05,
    )
    connect_seconds = time.monotonic() - t0
    time.sleep(SETTLE_SECONDS)
    rss_idle = proc_rss_kib(pid)

    clients.call("expect", [{} for _ in counts], timeout=30)
    m = opts.messages
    # Bounds, not estimates: 200 µs a frame is several times slower than any run seen.
    rate = opts.rate_for(n)
    wait_timeout = m / rate + 60 + n * m * 200e-6
    worker_timeout = wait_timeout + m / rate  # the sender's bound starts after sending
    clients.send("wait", [{"messages": m, "timeout": worker_timeout} for _ in counts])
    spy = start_py_spy(opts, pid, f"{server.kind}-{n}")
    load_before = os.getloadavg()[0]
    machine_before, self_before = machine_busy_seconds(), loadclient.process_cpu_seconds()
    cpu_before, own_before = tree_cpu_seconds(pid), proc_cpu_seconds(pid)
    run_id = secrets.token_hex(4)
    sent: SendResult = asyncio.run(
        loadclient.run_sender(
            target, sender_token, m, rate, opts.pad_to, run_id, settle_seconds=wait_timeout
        )
    )
    tallies: list[Tally] = clients.collect(timeout=worker_timeout + 30)
    cpu_after, own_after = tree_cpu_seconds(pid), proc_cpu_seconds(pid)
    machine_after, self_after = machine_busy_seconds(), loadclient.process_cpu_seconds()
    wall = max(1e-9, time.time() - sent.first_sent)
    load_after = os.getloadavg()[0]
    rss_after = proc_rss_kib(pid)
    stop_py_spy(spy)
    clients.call("close", [{} for _ in counts], timeout=60)

    events = sum(t.events for t in tallies)
    others = sum(t.others for t in tallies)
    frames = events + others
    last_rx = max(t.last_rx for t in tallies)
    span = max(1e-9, last_rx - sent.first_sent)
    lat = array("d")
    for t in tallies:
        lat.frombytes(t.latencies)
    lat_sorted = sorted(lat)
    closed: dict[str, int] = {}
    for t in tallies:
        for code, k in t.closed.items():
            closed[str(code)] = closed.get(str(code), 0) + k
    server_cpu = cpu_after - cpu_before
    client_cpu = sum(t.client_cpu_seconds for t in tallies)
    ours = server_cpu + client_cpu + (self_after - self_before)
    foreign = max(0.0, machine_after - machine_before - ours)
    return {
        "target": server.kind,
        "subscribers": n,
        "messages": m,
        "rate_per_second": rate,
        "connect_seconds": round(connect_seconds, 2),
        "connect_seconds_by_worker": [round(c["seconds"], 2) for c in connected],
        "rss_before_kib": rss_before,
        "rss_idle_kib": rss_idle,
        "rss_after_send_kib": rss_after,
        "kib_per_idle_connection": round((rss_idle - rss_before) / n, 2),
        "sent": sent.sent,
        "acks": sent.acks,
        "send_errors": sent.errors[:5],
        "expected_events": n * m,
        "events_delivered": events,
        "other_frames_delivered": others,
        "frames_delivered": frames,
        "mean_event_frame_bytes": round(sum(t.event_bytes for t in tallies) / max(1, events)),
        "lost": sum(t.lost for t in tallies),
        "seq_gaps": sum(t.gaps for t in tallies),
        "duplicates": sum(t.dups for t in tallies),
        "closed": closed,
        "send_seconds": round(sent.last_sent - sent.first_sent, 3),
        "delivery_seconds": round(span, 3),
        "frames_per_second": round(frames / span),
        "events_per_second": round(events / span),
        "latency_samples": len(lat_sorted),
        "latency_p50_ms": round(percentile(lat_sorted, 0.50) * 1000, 2),
        "latency_p99_ms": round(percentile(lat_sorted, 0.99) * 1000, 2),
        "latency_max_ms": round((lat_sorted[-1] if lat_sorted else float("nan")) * 1000, 2),
        "server_cpu_seconds": round(server_cpu, 2),
        # of which its child processes (Dreiklang's push worker)
        "server_children_cpu_seconds": round(server_cpu - (own_after - own_before), 2),
        "server_cpu_us_per_frame": round(server_cpu / max(1, frames) * 1e6, 2),
        "server_cpu_us_per_event": round(server_cpu / max(1, events) * 1e6, 2),
        "client_cpu_seconds": round(client_cpu, 2),
        "client_cpu_us_per_frame": round(client_cpu / max(1, frames) * 1e6, 2),
        "server_busy": round(server_cpu / span, 2),  # of one core, over the delivery span
        "client_busy": round(client_cpu / span, 2),  # 1.0 = the load clients' whole core
        "loadavg_1min": [round(load_before, 2), round(load_after, 2)],
        # CPU that processes outside this benchmark used meanwhile, in % of the machine
        "other_cpu_share": round(foreign / (wall * (os.cpu_count() or 1)), 3),
        "unacked": sent.sent - sent.acks,
        "sender_closed": sent.close_code,
    }


def machine_busy_seconds() -> float:
    """Return the CPU time all processes have used since boot (/proc/stat, every core)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


def wait_for_quiet(max_seconds: float, threshold: float = 0.10) -> float:
    """Wait until other processes use under `threshold` of the machine; return the last share."""
    deadline = time.monotonic() + max_seconds
    share = 1.0
    while True:
        before, own = machine_busy_seconds(), loadclient.process_cpu_seconds()
        time.sleep(2.0)
        used = machine_busy_seconds() - before - (loadclient.process_cpu_seconds() - own)
        share = max(0.0, used / (2.0 * (os.cpu_count() or 1)))
        if share < threshold or time.monotonic() >= deadline:
            return share


def start_py_spy(opts: Options, pid: int, name: str) -> subprocess.Popen[bytes] | None:
    """Sample the server with py-spy (collapsed stacks, for flamegraph.pl or speedscope)."""
    if not opts.py_spy or opts.profile_dir is None:
        return None
    out = opts.profile_dir / f"{name}.txt"
    return subprocess.Popen(
        [opts.py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "250", "--threads",
         "--subprocesses",
         "--output", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop_py_spy(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is None:
        return
    spy.send_signal(signal.SIGINT)
    try:
        spy.wait(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        spy.wait()


# -- the run ---------------------------------------------------------------------------------


@contextlib.contextmanager
def running(kind: str, root: Path, pin: bool, source: Path) -> Iterator[Server]:
    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=root))
    server = Server(kind, workdir, pin, source)
    try:
        server.start()
        yield server
    finally:
        server.stop()


def run(sizes: Sequence[int], opts: Options, keep: bool) -> dict[str, Any]:
    pin = opts.pin
    if pin:
        os.sched_setaffinity(0, {CLIENT_CPU})
    loadclient.raise_fd_limit(max(sizes) + 1024)  # inherited by the servers we start
    root = Path(tempfile.mkdtemp(prefix="dreiklang-bench-"))
    clients = Clients(opts.workers, pin)
    results: list[dict[str, Any]] = []
    try:
        for n in sizes:
            for kind in opts.targets:
                if opts.quiet_wait > 0:
                    share = wait_for_quiet(opts.quiet_wait)
                    print(f"(machine {round(100 * share)}% busy) ", end="")
                print(f"N={n:>5} {kind:<9} ...", end="", flush=True)
                started = time.monotonic()
                with running(kind, root, pin, opts.source) as server:
                    row = measure(server, n, opts, clients)
                if kind == "dreiklang" and row["mean_event_frame_bytes"]:
                    opts.pad_to = row["mean_event_frame_bytes"]  # same frame size for baseline
                results.append(row)
                took = time.monotonic() - started
                print(
                    f" {took:5.1f} s  {row['server_cpu_us_per_frame']} µs/frame"
                    f"  {row['kib_per_idle_connection']} KiB/conn  lost {row['lost']}"
                )
    finally:
        clients.close()
        add_marginals(results)
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"server logs kept in {root}")
    return {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "commit": opts.label or git_commit(opts.source),
        "source": str(opts.source),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pinned": pin,
        "workers": opts.workers,
        "messages": opts.messages,
        "rate_per_second": opts.rate,
        "frame_budget": opts.frame_budget,
        "thread_list": opts.thread_list,
        "caveat": (
            f"{os.cpu_count()} cores: the server is pinned to core {SERVER_CPU}, the load "
            f"clients and the sender share core {CLIENT_CPU}"
            if pin
            else "not pinned: server and load clients compete for the same cores"
        ),
        "results": results,
        "ratios": ratios(results),
    }


def git_commit(source: Path) -> str:
    """Name the server code measured: its commit, "+dirty" if server/ has local changes."""
    with contextlib.suppress(Exception):
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=source, capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "server"], cwd=source, capture_output=True, text=True
        )
        if out.returncode == 0:
            return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    return "unknown (not a git checkout)"


def ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    by = {(r["target"], r["subscribers"]): r for r in results}
    out = []
    for (kind, n), dk in by.items():
        base = by.get(("baseline", n))
        if kind != "dreiklang" or base is None:
            continue

        def ratio(key: str, dk: dict[str, Any] = dk, base: dict[str, Any] = base) -> float:
            return round(dk[key] / base[key], 2) if base[key] else float("nan")

        out.append(
            {
                "subscribers": n,
                "cpu_per_frame": ratio("server_cpu_us_per_frame"),
                "cpu_per_event": ratio("server_cpu_us_per_event"),
                "memory_per_connection": ratio("kib_per_idle_connection"),
            }
        )
    return out


def add_marginals(results: list[dict[str, Any]]) -> None:
    """Add the memory per connection between consecutive sizes: free of fixed first-use costs."""
    for kind in ("dreiklang", "baseline"):
        rows = sorted((r for r in results if r["target"] == kind), key=lambda r: r["subscribers"])
        for small, big in zip(rows, rows[1:], strict=False):
            grown = (big["rss_idle_kib"] - big["rss_before_kib"]) - (
                small["rss_idle_kib"] - small["rss_before_kib"]
            )
            big["kib_per_connection_marginal"] = round(
                grown / (big["subscribers"] - small["subscribers"]), 2
            )


def table(report: dict[str, Any]) -> str:
    with_list = report["thread_list"]
    head = (
        f"{'N':>5} {'target':<9} {'KiB/conn':>8} {'marginal':>8} {'µs/frame':>8} "
        + (f"{'µs/event':>8} " if with_list else "")
        + f"{'msg/s':>5} {'frames/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'lost':>4} {'gaps':>4} "
        f"{'conn s':>6} {'srv%':>4} {'cli%':>4} {'oth%':>4}"
    )
    lines = [head, "-" * len(head)]
    for r in report["results"]:
        marginal = r.get("kib_per_connection_marginal")
        lines.append(
            f"{r['subscribers']:>5} {r['target']:<9} {r['kib_per_idle_connection']:>8.1f} "
            + (f"{marginal:>8.1f} " if marginal is not None else f"{'':>8} ")
            + f"{r['server_cpu_us_per_frame']:>8.1f} "
            + (f"{r['server_cpu_us_per_event']:>8.1f} " if with_list else "")
            + f"{r['rate_per_second']:>5g} {r['frames_per_second']:>8} "
            f"{r['latency_p50_ms']:>8.1f} "
            f"{r['latency_p99_ms']:>8.1f} {r['lost']:>4} {r['seq_gaps']:>4} "
            f"{r['connect_seconds']:>6.1f} {round(100 * r['server_busy']):>4} "
            f"{round(100 * r['client_busy']):>4} {round(100 * r['other_cpu_share']):>4}"
        )
    lines.append("")
    lines.append("Dreiklang / baseline:")
    for q in report["ratios"]:
        lines.append(
            f"  N={q['subscribers']:>5}  CPU per frame {q['cpu_per_frame']:.2f}x   "
            + (f"CPU per event {q['cpu_per_event']:.2f}x   " if with_list else "")
            + f"memory per connection {q['memory_per_connection']:.2f}x"
        )
    lines += [
        "",
        "KiB/conn: server RSS growth from N idle subscribers, over N. marginal: the same between",
        "  this size and the previous one (free of fixed first-use costs).",
        "µs/frame: server CPU (all threads, with its push worker child) in the send phase over "
        "the frames subscribers got.",
    ]
    if with_list:
        lines.append("µs/event: the same over message events only (--list adds 'activity' frames).")
    lines += [
        "srv%/cli%: CPU of the server / all load clients over the delivery span, in % of one",
        "  core; near 100 that side was saturated and latency is queueing. oth%: CPU used by",
        "  other processes on the machine meanwhile, in % of all cores.",
        f"Caveat: {report['caveat']}.",
    ]
    return "\n".join(lines)


def verdict(report: dict[str, Any]) -> list[str]:
    """Check the issue's targets; return one line per target."""
    out = []
    busiest = max((r["other_cpu_share"] for r in report["results"]), default=0.0)
    if busiest > 0.10:
        out.append(
            f"WARN other processes used up to {round(100 * busiest)}% of the machine during a "
            "send phase: latency and throughput suffer most, CPU per frame a little; rerun "
            "when idle (--quiet-wait 300)"
        )
    for r in report["results"]:
        if r["client_busy"] > 0.8:
            out.append(
                f"WARN N={r['subscribers']} {r['target']}: the load clients used "
                f"{round(100 * r['client_busy'])}% of their core; latency may be the client's"
            )
    dk = [r for r in report["results"] if r["target"] == "dreiklang"]
    for q in report["ratios"]:
        if q["subscribers"] == 1000:
            ok = q["cpu_per_frame"] <= TARGETS["N=1000 CPU/frame ratio"]
            out.append(
                f"{'PASS' if ok else 'MISS'} CPU per frame at N=1000 is {q['cpu_per_frame']}x "
                f"the baseline (target ≤ 1.5x; per message event {q['cpu_per_event']}x)"
            )
    for r in dk:
        kib, marginal = r["kib_per_idle_connection"], r.get("kib_per_connection_marginal")
        limit = TARGETS["KiB per idle connection"]
        if r["subscribers"] < 1000:  # a few hundred KiB of first-use growth dominate here
            out.append(f"INFO N={r['subscribers']}: {kib} KiB per idle connection")
        else:
            ok = kib <= limit and (marginal is None or marginal <= limit)
            out.append(
                f"{'PASS' if ok else 'MISS'} N={r['subscribers']}: {kib} KiB per idle "
                f"connection, {marginal if marginal is not None else '-'} KiB marginal "
                f"(target ≤ {limit:g})"
            )
        if r["subscribers"] >= 5000:
            out.append(f"PASS N={r['subscribers']}: all sockets open on one server process")
        ok = r["lost"] == 0 and r["seq_gaps"] == 0 and r["duplicates"] == 0 and not r["closed"]
        ok = ok and r["unacked"] == 0
        sender = r.get("sender_closed")
        out.append(
            f"{'PASS' if ok else 'MISS'} N={r['subscribers']}: lost {r['lost']}, "
            f"gaps {r['seq_gaps']}, duplicates {r['duplicates']}, closed {r['closed'] or 0}, "
            f"sends unanswered {r['unacked']}"
            + (f" (the server closed the sender: {sender})" if sender else "")
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    workload = argparse.ArgumentParser(add_help=False)
    workload.add_argument("--workload", choices=("room", "threads"), default="room")
    chosen, rest = workload.parse_known_args(argv)
    if chosen.workload == "threads":
        import smallthreads  # its flags, its report: `--workload threads --help`

        return smallthreads.main(rest)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workload",
        choices=("room", "threads"),
        default="room",
        help="room: N subscribers in one thread (these flags); threads: many small threads",
    )
    parser.add_argument(
        "--sizes", default="100,1000,5000", help="subscriber counts, comma-separated"
    )
    parser.add_argument("--messages", type=int, default=200, help="messages the sender sends")
    parser.add_argument("--rate", type=float, default=20.0, help="messages per second")
    parser.add_argument(
        "--frame-budget",
        type=float,
        default=20_000.0,
        help="cap the rate at this many frames/s offered (rate x N); 0: no cap",
    )
    parser.add_argument(
        "--targets", default="dreiklang,baseline", help="which servers to measure, in order"
    )
    parser.add_argument("--workers", type=int, default=2, help="load-client processes")
    parser.add_argument("--quick", action="store_true", help="N=100,1000 and 50 messages")
    parser.add_argument(
        "--list", action="store_true", help="Dreiklang subscribers also ask for ?list=1 notices"
    )
    parser.add_argument(
        "--server-root", default=str(ROOT), help="Dreiklang checkout to run (default: this one)"
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each run, wait up to this many seconds until other processes use <10%% CPU",
    )
    parser.add_argument("--label", default="", help="name of the server code, for the report")
    parser.add_argument("--py-spy", default="", help="py-spy binary: profile the servers")
    parser.add_argument(
        "--profile-dir", default="/tmp/dreiklang-bench-profiles", help="where py-spy writes"
    )
    parser.add_argument("--no-pin", action="store_true", help="don't pin server and clients")
    parser.add_argument("--keep", action="store_true", help="keep the server logs and databases")
    parser.add_argument("--out", default="/tmp/dreiklang-bench.json", help="JSON results file")
    parser.add_argument("--show", metavar="JSON", help="print the table of an earlier run and exit")
    args = parser.parse_args(argv)
    if args.show:
        report = json.loads(Path(args.show).read_text())
        if report.get("workload") == "threads":
            import smallthreads

            return smallthreads.show(report)
        add_marginals(report["results"])
        print(f"{report['when']}, server {report['commit']}, {report['messages']} messages at "
              f"{report['rate_per_second']:g}/s at most\n")  # fmt: skip
        print(table(report))
        print()
        print("\n".join(verdict(report)))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    messages = args.messages
    if args.quick:
        sizes = [s for s in sizes if s <= 1000] or [100, 1000]
        messages = min(messages, 50)
    if not sizes or min(sizes) < 1 or messages < 1 or args.rate <= 0 or args.workers < 1:
        parser.error("sizes, messages, rate and workers must be positive")
    pin = not args.no_pin and (os.cpu_count() or 1) >= 2
    opts = Options(messages, args.rate, args.workers, pin, thread_list=args.list)
    opts.source = Path(args.server_root).resolve()
    opts.quiet_wait = args.quiet_wait
    opts.frame_budget = args.frame_budget
    opts.label = args.label
    opts.targets = tuple(t.strip() for t in args.targets.split(",") if t.strip())
    if not opts.targets or set(opts.targets) - {"dreiklang", "baseline"}:
        parser.error(f"--targets takes dreiklang and/or baseline, not {args.targets!r}")
    if args.py_spy:
        opts.py_spy = args.py_spy
        opts.profile_dir = Path(args.profile_dir)
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
    report = run(sizes, opts, args.keep)
    print()
    print(table(report))
    print()
    print("\n".join(verdict(report)))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.modules.setdefault("fanout", sys.modules[__name__])  # smallthreads imports us: one copy
    sys.exit(main())
