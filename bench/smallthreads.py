"""The many-small-threads workload of the fan-out benchmark: server CPU per message.

Customer care is many small threads, not one huge room. T threads with P subscribers each
(T × P sockets, each following one thread) get M messages at a steady rate, spread evenly over
the threads in a seeded random order. Measured from outside, as bench/fanout.py measures:
server CPU (all threads and child processes, from /proc) from the first send until every
subscriber has every message of its thread, over the messages sent; and delivered frames,
losses (every subscriber gets each message of its thread once, in order), latency.

Targets, all in one run, with the same load client:
- "dreiklang": `dreiklang serve` on a fresh SQLite DATA_DIR with the demo, and T threads the
  demo customer starts through `POST /api/v1/threads`; the subscribers are that customer, the
  sender the demo agent (as in the one-room workload). Before measuring, the agent answers
  every thread once (`--no-prime` skips it), so that each measured message is a plain reply
  and not also the status change of a question's first answer.
- "dreiklang@PATH": the same, the server code taken from another checkout (an older commit).
- "storing": bench/baseline_room.py with `--store`: one room per thread that writes every
  message to SQLite (one INSERT, one COMMIT) before it broadcasts it.
- "baseline": the same rooms without storing: the naive in-memory room.

    .venv/bin/python bench/fanout.py --workload threads      # 500 × 4, 1,500 at 50/s, 3 runs
    .venv/bin/python bench/fanout.py --workload threads --threads 50 --messages 200 --runs 1

See bench/README.md for what the figures mean.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import fanout
import loadclient
from fanout import CLIENT_CPU, ROOT, SERVER_CPU, SETTLE_SECONDS, Clients, Server
from loadclient import SendResult, Tally, Target

KINDS = ("dreiklang", "storing", "baseline")
ROOM_NAMES = {"storing": "storing room", "baseline": "naive room"}
IDLE_SHARE = 0.03  # of one core: below this the server has settled (push rounds, WAL work)
IDLE_WAIT_SECONDS = 60.0  # the push worker's rounds for T new threads take a few seconds
IDLE_PROBE_SECONDS = 1.0
IDLE_MEASURE_SECONDS = 2.0  # server CPU with every socket open and nothing sent
CREATE_SECONDS_PER_THREAD = 0.5  # bound on starting threads; each takes ~10-20 ms
FRAME_CPU_BOUND_SECONDS = 200e-6  # per frame; several times slower than any run seen
MESSAGE_CPU_BOUND_SECONDS = 20e-3  # per message; about 5 times what Dreiklang spends


@dataclass(frozen=True)
class Contender:
    """One server to measure: what runs, from which checkout, under which name."""

    name: str  # in the report: "dreiklang", "dreiklang@1ec56da", "storing", "baseline"
    kind: str  # fanout.Server's kind
    source: Path = ROOT
    code: str = ""  # the Dreiklang commit measured


@dataclass
class Options:
    threads: int = 500
    per_thread: int = 4
    rate: float = 50.0
    messages: int = 1500  # 30 s at 50/s
    runs: int = 3
    seed: int = 1
    workers: int = 2
    pin: bool = True
    quiet_wait: float = 0.0
    py_spy: str = ""
    profile_dir: Path | None = None
    pad_to: int = 700  # baseline frames: replaced by Dreiklang's mean event frame size
    prime: bool = True  # answer each thread once before measuring (see answer_threads)
    contenders: list[Contender] = field(default_factory=list)

    @property
    def subscribers(self) -> int:
        return self.threads * self.per_thread


def parse_targets(spec: str, server_root: Path, label: str) -> list[Contender]:
    """Read `--targets`: dreiklang, dreiklang@PATH, storing, baseline, comma-separated."""
    out: list[Contender] = []
    for raw in (t.strip() for t in spec.split(",")):
        if not raw:
            continue
        kind, _, path = raw.partition("@")
        if kind not in KINDS or (path and kind != "dreiklang"):
            raise ValueError(f"unknown target {raw!r}: use {', '.join(KINDS)} or dreiklang@PATH")
        if kind != "dreiklang":
            out.append(Contender(kind, kind))
            continue
        source = Path(path).expanduser().resolve() if path else server_root
        if not (source / "server" / "cli.py").is_file():
            raise ValueError(f"no Dreiklang checkout at {str(source)!r} (no server/cli.py)")
        code = fanout.git_commit(source)
        if code.startswith("unknown"):  # e.g. a `git archive` extract
            code = source.name
        if not path and label:
            code = label
        out.append(Contender(f"dreiklang@{code}" if path else "dreiklang", kind, source, code))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ValueError(f"targets named twice: {names!r}")
    return out


def make_schedule(threads: int, messages: int, seed: int) -> list[int]:
    """Return the thread index of each message: even shares, a seeded random order."""
    order = [k % threads for k in range(messages)]
    random.Random(seed).shuffle(order)
    return order


def create_threads(server: Server, count: int, run_id: str) -> list[str]:
    """Start `count` threads as the demo customer through the JSON API; return their ids."""
    deadline = time.monotonic() + 60 + count * CREATE_SECONDS_PER_THREAD
    ids: list[str] = []
    for i in range(count):
        if time.monotonic() > deadline:
            raise TimeoutError(f"started only {i} of {count} threads in time")
        body = {
            "title": f"Benchmark thread {i}",
            "body": f"Question {i} of the many-threads benchmark",
            "client_id": f"bench-{run_id}-thread-{i}",
        }
        data = server.http("POST", "/api/v1/threads", body, token=server.customer_token)
        ids.append(str(data["thread"]["id"]))
    return ids


def answer_threads(server: Server, threads: list[str], run_id: str) -> None:
    """Answer every thread once as the agent (`--prime`): the first staff reply to a customer's
    open question also moves it to "answered" (a second event, server/actions/desk.py), so
    without this a third of the measured messages would carry a status event too, and each
    subscriber would get one event more than its thread's share of messages."""
    deadline = time.monotonic() + 60 + len(threads) * CREATE_SECONDS_PER_THREAD
    for i, thread in enumerate(threads):
        if time.monotonic() > deadline:
            raise TimeoutError(f"answered only {i} of {len(threads)} threads in time")
        body = {"body": f"First answer {i}", "client_id": f"bench-{run_id}-answer-{i}"}
        server.http("POST", f"/api/v1/threads/{thread}/messages", body, token=server.agent_token)


def wait_idle(pid: int, max_seconds: float) -> float:
    """Wait until the server uses under IDLE_SHARE of a core; return the last share seen."""
    deadline = time.monotonic() + max_seconds
    while True:
        before = fanout.tree_cpu_seconds(pid)
        time.sleep(IDLE_PROBE_SECONDS)
        share = (fanout.tree_cpu_seconds(pid) - before) / IDLE_PROBE_SECONDS
        if share < IDLE_SHARE or time.monotonic() >= deadline:
            return share


def thread_cpu_seconds(pid: int) -> dict[str, float]:
    """Return the CPU time of each thread of a server and its children, by a readable key."""
    out: dict[str, float] = {}
    for member in fanout.process_tree(pid):
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{member}/task").iterdir():
                with contextlib.suppress(OSError, ValueError):  # a thread may end meanwhile
                    comm = (task / "comm").read_text().strip()
                    seconds = int((task / "schedstat").read_text().split()[0]) / 1e9
                    owner = "server" if member == pid else f"child {member}"
                    what = "main thread" if task.name == str(member) else f"thread {task.name}"
                    out[f"{owner}: {what} ({comm})"] = seconds
    return out


def start_profile(opts: Options, pid: int, name: str) -> Any:
    """Record the server with py-spy during the send phase, if asked to."""
    spy_opts = fanout.Options(opts.messages, opts.rate, opts.workers, opts.pin)
    spy_opts.py_spy, spy_opts.profile_dir = opts.py_spy, opts.profile_dir
    return fanout.start_py_spy(spy_opts, pid, name)


# -- one measurement -------------------------------------------------------------------------


def measure(
    server: Server, who: Contender, opts: Options, clients: Clients, threads: list[str],
    schedule: list[int], run: int,
) -> dict[str, Any]:  # fmt: skip
    """Connect T × P subscribers, send the scheduled messages, return one server's figures."""
    assert server.proc is not None
    pid = server.proc.pid
    mode = "dreiklang" if server.kind == "dreiklang" else "baseline"
    target = Target(mode, server.port, server.customer_token, rooms=mode == "baseline")
    sender_token = server.agent_token
    asyncio.run(fanout.warm_up(replace(target, thread=threads[0]), sender_token, opts.pad_to))
    settled_share = wait_idle(pid, IDLE_WAIT_SECONDS)
    rss_before = fanout.proc_rss_kib(pid)

    n = opts.subscribers
    counts = fanout.shares(n, len(clients.pipes))
    offsets = [sum(counts[:i]) for i in range(len(counts))]
    t0 = time.monotonic()
    clients.call(
        "connect",
        [
            # Every socket samples latency: each gets only M / T messages.
            {"target": target.__dict__, "count": c, "sample_every": 1, "offset": o,
             "threads": threads}
            for c, o in zip(counts, offsets, strict=True)
        ],
        timeout=60 + n * 0.05,
    )  # fmt: skip
    connect_seconds = time.monotonic() - t0
    time.sleep(SETTLE_SECONDS)
    idle_before = fanout.tree_cpu_seconds(pid)
    time.sleep(IDLE_MEASURE_SECONDS)
    idle_share = (fanout.tree_cpu_seconds(pid) - idle_before) / IDLE_MEASURE_SECONDS
    rss_idle = fanout.proc_rss_kib(pid)

    clients.call("expect", [{} for _ in counts], timeout=30)
    m, rate = len(schedule), opts.rate
    per_thread = dict(Counter(threads[i] for i in schedule))
    wait_timeout = (
        m / rate + 60 + m * opts.per_thread * FRAME_CPU_BOUND_SECONDS
        + m * MESSAGE_CPU_BOUND_SECONDS
    )  # fmt: skip
    worker_timeout = wait_timeout + m / rate  # the sender's bound starts after sending
    clients.send(
        "wait",
        [{"messages": m, "timeout": worker_timeout, "per_thread": per_thread} for _ in counts],
    )
    spy = start_profile(opts, pid, f"threads-{who.name.replace('/', '_')}-{run}")
    machine_before, self_before = fanout.machine_busy_seconds(), loadclient.process_cpu_seconds()
    by_thread_before = thread_cpu_seconds(pid)
    cpu_before, own_before = fanout.tree_cpu_seconds(pid), fanout.proc_cpu_seconds(pid)
    sent: SendResult = asyncio.run(
        loadclient.run_sender(
            target, sender_token, m, rate, opts.pad_to, secrets.token_hex(4),
            settle_seconds=wait_timeout, schedule=[threads[i] for i in schedule],
        )
    )  # fmt: skip
    tallies: list[Tally] = clients.collect(timeout=worker_timeout + 30)
    cpu_after, own_after = fanout.tree_cpu_seconds(pid), fanout.proc_cpu_seconds(pid)
    by_thread = {
        k: round(v - by_thread_before.get(k, 0.0), 3) for k, v in thread_cpu_seconds(pid).items()
    }
    machine_after, self_after = fanout.machine_busy_seconds(), loadclient.process_cpu_seconds()
    wall = max(1e-9, time.time() - sent.first_sent)
    rss_after = fanout.proc_rss_kib(pid)
    fanout.stop_py_spy(spy)
    clients.call("close", [{} for _ in counts], timeout=60)

    events = sum(t.events for t in tallies)
    frames = events + sum(t.others for t in tallies)
    span = max(1e-9, max(t.last_rx for t in tallies) - sent.first_sent)
    lat = array("d")
    closed: dict[str, int] = {}
    for t in tallies:
        lat.frombytes(t.latencies)
        for code, k in t.closed.items():
            closed[str(code)] = closed.get(str(code), 0) + k
    lat_sorted = sorted(lat)
    server_cpu = cpu_after - cpu_before
    client_cpu = sum(t.client_cpu_seconds for t in tallies)
    foreign = max(0.0, machine_after - machine_before - server_cpu - client_cpu
                  - (self_after - self_before))  # fmt: skip
    return {
        "target": who.name,
        "kind": server.kind,
        "code": who.code,
        "run": run,
        "threads": opts.threads,
        "per_thread": opts.per_thread,
        "subscribers": n,
        "messages": m,
        "rate_per_second": rate,
        "connect_seconds": round(connect_seconds, 2),
        "settled_share_before": round(settled_share, 3),
        "server_idle_busy": round(idle_share, 3),  # of one core, all sockets open, no messages
        "rss_before_kib": rss_before,
        "rss_idle_kib": rss_idle,
        "rss_after_send_kib": rss_after,
        "kib_per_idle_connection": round((rss_idle - rss_before) / n, 2),
        "sent": sent.sent,
        "acks": sent.acks,
        "send_errors": sent.errors[:5],
        "expected_events": m * opts.per_thread,
        "events_delivered": events,
        "frames_delivered": frames,
        "mean_event_frame_bytes": round(sum(t.event_bytes for t in tallies) / max(1, events)),
        "lost": sum(t.lost for t in tallies),
        "extra": sum(t.extra for t in tallies),
        "seq_gaps": sum(t.gaps for t in tallies),
        "duplicates": sum(t.dups for t in tallies),
        "closed": closed,
        "send_seconds": round(sent.last_sent - sent.first_sent, 3),
        "delivery_seconds": round(span, 3),
        "latency_samples": len(lat_sorted),
        "latency_p50_ms": round(fanout.percentile(lat_sorted, 0.50) * 1000, 2),
        "latency_p99_ms": round(fanout.percentile(lat_sorted, 0.99) * 1000, 2),
        "latency_max_ms": round((lat_sorted[-1] if lat_sorted else float("nan")) * 1000, 2),
        "server_cpu_seconds": round(server_cpu, 3),
        # of which its child processes (Dreiklang's push worker)
        "server_children_cpu_seconds": round(server_cpu - (own_after - own_before), 3),
        # where it went: the event loop, SQLite's thread (aiosqlite), the push worker child
        "server_cpu_seconds_by_thread": {k: v for k, v in by_thread.items() if v >= 0.001},
        "server_cpu_ms_per_message": round(server_cpu / max(1, sent.sent) * 1e3, 3),
        "server_cpu_us_per_frame": round(server_cpu / max(1, frames) * 1e6, 1),
        "client_cpu_seconds": round(client_cpu, 2),
        "server_busy": round(server_cpu / span, 3),  # of one core, over the delivery span
        "client_busy": round(client_cpu / span, 3),  # 1.0 = the load clients' whole core
        "other_cpu_share": round(foreign / (wall * (os.cpu_count() or 1)), 3),
        "unacked": sent.sent - sent.acks,
        "sender_closed": sent.close_code,
    }


# -- the run ---------------------------------------------------------------------------------


def run(opts: Options, keep: bool) -> dict[str, Any]:
    """Measure every contender once per run, in the order given; return the report."""
    if opts.pin:
        os.sched_setaffinity(0, {CLIENT_CPU})
    loadclient.raise_fd_limit(opts.subscribers + 1024)  # inherited by the servers we start
    root = Path(tempfile.mkdtemp(prefix="dreiklang-bench-threads-"))
    clients = Clients(opts.workers, opts.pin)
    rows: list[dict[str, Any]] = []
    padded = False  # baseline frames take the size of the first Dreiklang run's, once
    try:
        for run_no in range(1, opts.runs + 1):
            schedule = make_schedule(opts.threads, opts.messages, opts.seed + run_no)
            for who in opts.contenders:
                if opts.quiet_wait > 0:
                    share = fanout.wait_for_quiet(opts.quiet_wait)
                    print(f"(machine {round(100 * share)}% busy) ", end="")
                print(f"run {run_no}/{opts.runs} {who.name:<22} ...", end="", flush=True)
                started = time.monotonic()
                with fanout.running(who.kind, root, opts.pin, who.source) as server:
                    if who.kind == "dreiklang":
                        threads = create_threads(server, opts.threads, secrets.token_hex(4))
                        if opts.prime:
                            answer_threads(server, threads, secrets.token_hex(4))
                    else:
                        threads = [f"t{i}" for i in range(opts.threads)]
                    setup = time.monotonic() - started
                    row = measure(server, who, opts, clients, threads, schedule, run_no)
                row["setup_seconds"] = round(setup, 1)
                if who.kind == "dreiklang" and not padded and row["mean_event_frame_bytes"]:
                    opts.pad_to, padded = row["mean_event_frame_bytes"], True
                rows.append(row)
                print(
                    f" {time.monotonic() - started:5.1f} s  "
                    f"{row['server_cpu_ms_per_message']:.3f} ms CPU/message  "
                    f"lost {row['lost']}  p99 {row['latency_p99_ms']} ms"
                )
    finally:
        clients.close()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"server logs kept in {root}")
    return {
        "workload": "threads",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "bench_commit": fanout.git_commit(ROOT),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "pinned": opts.pin,
        "workers": opts.workers,
        "threads": opts.threads,
        "per_thread": opts.per_thread,
        "subscribers": opts.subscribers,
        "messages": opts.messages,
        "rate_per_second": opts.rate,
        "runs": opts.runs,
        "seed": opts.seed,
        "primed": opts.prime,  # every thread answered once before measuring
        "pad_to": opts.pad_to,
        "targets": [
            {"name": c.name, "kind": c.kind, "code": c.code, "source": str(c.source)}
            for c in opts.contenders
        ],
        "caveat": (
            f"{os.cpu_count()} cores: the server is pinned to core {SERVER_CPU}, the load "
            f"clients and the sender share core {CLIENT_CPU}"
            if opts.pin
            else "not pinned: server and load clients compete for the same cores"
        ),
        "results": rows,
        "summary": summarize(rows),
        "ratios": ratios(rows, [c["name"] for c in targets_of(rows)]),
    }


def targets_of(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Return each measured target once, in the order first measured."""
    seen: dict[str, dict[str, str]] = {}
    for r in rows:
        seen.setdefault(r["target"], {"name": r["target"], "kind": r["kind"]})
    return list(seen.values())


SPREAD_KEYS = (
    "server_cpu_ms_per_message",
    "server_cpu_us_per_frame",
    "latency_p50_ms",
    "latency_p99_ms",
    "server_idle_busy",
    "kib_per_idle_connection",
)


def spread(values: Sequence[float]) -> dict[str, float]:
    """Return median, min and max of a figure over runs."""
    if not values:
        return {"median": float("nan"), "min": float("nan"), "max": float("nan"), "n": 0}
    return {"median": round(statistics.median(values), 3), "min": min(values),
            "max": max(values), "n": len(values)}  # fmt: skip


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float]]]:
    """Return each target's figures as median, min and max over its runs."""
    return {
        t["name"]: {
            key: spread([r[key] for r in rows if r["target"] == t["name"]]) for key in SPREAD_KEYS
        }
        for t in targets_of(rows)
    }


def ratios(rows: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    """Return CPU-per-message ratios taken within each run, with their spread over runs."""
    kinds = {t["name"]: t["kind"] for t in targets_of(rows)}
    dks = [n for n in names if kinds[n] == "dreiklang"]
    rooms = [n for n in names if kinds[n] != "dreiklang"]
    pairs = [(d, r) for d in dks for r in rooms] + [(dks[0], d) for d in dks[1:]]
    by = {(r["run"], r["target"]): r["server_cpu_ms_per_message"] for r in rows}
    out = []
    for num, den in pairs:
        per_run = [
            round(by[(run, num)] / by[(run, den)], 3)
            for run in sorted({r["run"] for r in rows})
            if by.get((run, num)) and by.get((run, den))
        ]
        out.append({"numerator": num, "denominator": den, "per_run": per_run, **spread(per_run)})
    return out


def table(report: dict[str, Any]) -> str:
    """Format every run's row, the spread per target and the ratios."""
    head = (
        f"{'run':>3} {'target':<22} {'ms/msg':>7} {'µs/frame':>8} {'frames':>7} {'lost':>4} "
        f"{'gaps':>4} {'dups':>4} {'p50 ms':>7} {'p99 ms':>7} {'idle%':>5} {'srv%':>4} "
        f"{'cli%':>4} {'oth%':>4}"
    )
    lines = [head, "-" * len(head)]
    for r in report["results"]:
        lines.append(
            f"{r['run']:>3} {r['target']:<22} {r['server_cpu_ms_per_message']:>7.3f} "
            f"{r['server_cpu_us_per_frame']:>8.1f} {r['frames_delivered']:>7} {r['lost']:>4} "
            f"{r['seq_gaps']:>4} {r['duplicates'] + r['extra']:>4} "
            f"{r['latency_p50_ms']:>7.1f} {r['latency_p99_ms']:>7.1f} "
            f"{100 * r['server_idle_busy']:>5.1f} {round(100 * r['server_busy']):>4} "
            f"{round(100 * r['client_busy']):>4} {round(100 * r['other_cpu_share']):>4}"
        )
    lines += ["", "Code measured:"]
    for t in report["targets"]:
        code = t["code"] or "bench/baseline_room.py" + (
            " --store" if t["kind"] == "storing" else ""
        )
        lines.append(
            f"  {t['name']:<22} {code}  ({t['source']})"
            if t["code"]
            else f"  {t['name']:<22} {code}"
        )
    lines += ["", f"Median (min–max) over {report['runs']} run(s):"]
    for name, figures in report["summary"].items():
        cpu, frame = figures["server_cpu_ms_per_message"], figures["server_cpu_us_per_frame"]
        p99 = figures["latency_p99_ms"]
        lines.append(
            f"  {name:<22} {cpu['median']:.3f} ms CPU/message ({cpu['min']:.3f}–{cpu['max']:.3f})"
            f"  {frame['median']:.1f} µs/frame  p99 {p99['median']:.1f} ms "
            f"({p99['min']:.1f}–{p99['max']:.1f})"
        )
    lines += ["", "CPU per message, ratios within each run (median, min–max):"]
    for q in report["ratios"]:
        lines.append(
            f"  {q['numerator'] + ' / ' + q['denominator']:<40} {q['median']:.2f}x "
            f"({q['min']:.2f}–{q['max']:.2f}; per run {', '.join(map(str, q['per_run']))})"
        )
    lines += [
        "",
        "ms/msg: server CPU (all threads, with child processes) from the first send until every",
        "  subscriber had every message of its thread, over the messages sent.",
        "dups: events repeated or beyond what the socket's thread got; gaps: breaks in its seq.",
        "idle%: server CPU with every socket open before sending, in % of one core. srv%/cli%:",
        "  server / load clients over the delivery span; oth%: other processes, % of all cores.",
        f"Caveat: {report['caveat']}.",
    ]
    return "\n".join(lines)


def verdict(report: dict[str, Any]) -> list[str]:
    """Summarize the figures in INFO lines and check delivery; return one line per finding."""
    out = []
    rows = report["results"]
    busiest = max((r["other_cpu_share"] for r in rows), default=0.0)
    if busiest > 0.10:
        out.append(
            f"WARN other processes used up to {round(100 * busiest)}% of the machine during a "
            "send phase; rerun when idle (--quiet-wait 300)"
        )
    for r in rows:
        if r["client_busy"] > 0.8:
            out.append(
                f"WARN run {r['run']} {r['target']}: the load clients used "
                f"{round(100 * r['client_busy'])}% of their core; latency may be the client's"
            )
    summary, names = report["summary"], [t["name"] for t in targets_of(rows)]
    by_pair = {(q["numerator"], q["denominator"]): q for q in report["ratios"]}
    shape = (
        f"{report['threads']} threads × {report['per_thread']} subscribers, "
        f"{report['messages']} messages at {report['rate_per_second']:g}/s"
    )
    rooms = [n for n in names if n in ROOM_NAMES]
    for name in names:
        if name in ROOM_NAMES:
            continue
        cpu = summary[name]["server_cpu_ms_per_message"]
        parts = [
            f"INFO threads workload ({shape}): {name} {cpu['median']:.2f} ms CPU/message "
            f"(median of {cpu['n']}, {cpu['min']:.2f}–{cpu['max']:.2f})"
        ]
        parts += [
            f"{ROOM_NAMES[room]} {summary[room]['server_cpu_ms_per_message']['median']:.2f} ms"
            for room in rooms
        ]
        line = ", ".join(parts)
        times = [
            f"{q['median']:.1f}× the {ROOM_NAMES[room]} ({q['min']:.1f}–{q['max']:.1f} per run)"
            for room in rooms
            if (q := by_pair.get((name, room))) and q["n"]
        ]
        out.append(line + (": " + ", ".join(times) if times else ""))
    for (num, den), q in by_pair.items():
        if den not in ROOM_NAMES and q["n"]:
            out.append(
                f"INFO {num} / {den}: {q['median']:.2f}× the CPU per message "
                f"({q['min']:.2f}–{q['max']:.2f} over {q['n']} runs, each ratio within one run)"
            )
    for name in names:
        mine = [r for r in rows if r["target"] == name]
        bad = {
            "lost": sum(r["lost"] for r in mine),
            "gaps": sum(r["seq_gaps"] for r in mine),
            "repeated or stray": sum(r["duplicates"] + r["extra"] for r in mine),
            "closed": sum(sum(r["closed"].values()) for r in mine),
            "sends unanswered": sum(r["unacked"] for r in mine),
        }
        figures = ", ".join(f"{k} {v}" for k, v in bad.items()) + f" over {len(mine)} run(s)"
        if any(bad.values()):
            out.append(f"MISS {name}: {figures}")
        else:
            out.append(
                f"PASS {name}: every subscriber got each message of its thread once, in order "
                f"({figures})"
            )
    return out


def show(report: dict[str, Any]) -> int:
    """Print an earlier run's table and verdict."""
    print(
        f"{report['when']}, bench {report['bench_commit']}, {report['threads']} threads × "
        f"{report['per_thread']}, {report['messages']} messages at "
        f"{report['rate_per_second']:g}/s, {report['runs']} run(s)\n"
    )
    print(table(report))
    print()
    print("\n".join(verdict(report)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the workload's flags, run it, print and write the report."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        epilog="Run as `bench/fanout.py --workload threads [flags]`.",
    )
    defaults = Options()
    parser.add_argument(
        "--threads", type=int, default=defaults.threads, help="threads, each its own room"
    )
    parser.add_argument(
        "--per-thread", type=int, default=defaults.per_thread, help="subscribers per thread"
    )
    parser.add_argument("--rate", type=float, default=defaults.rate, help="messages per second")
    parser.add_argument(
        "--messages", type=int, default=defaults.messages, help="messages sent, over all threads"
    )
    parser.add_argument("--runs", type=int, default=defaults.runs, help="repetitions")
    parser.add_argument(
        "--seed", type=int, default=defaults.seed, help="order of threads; run k uses seed + k"
    )
    parser.add_argument(
        "--targets",
        default="dreiklang,storing,baseline",
        help="in order, comma-separated: dreiklang, dreiklang@PATH (another checkout), "
        "storing, baseline",
    )
    parser.add_argument(
        "--server-root", default=str(ROOT), help="checkout that `dreiklang` runs (default: this)"
    )
    parser.add_argument("--label", default="", help="names the `dreiklang` code in the report")
    parser.add_argument("--workers", type=int, default=defaults.workers, help="load clients")
    parser.add_argument(
        "--no-prime", action="store_true",
        help="don't answer each thread once before measuring: the first reply's status event "
        "is then measured too (and counted as a stray event)",
    )  # fmt: skip
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=0.0,
        help="before each target, wait up to this many seconds until others use <10%% CPU",
    )
    parser.add_argument("--py-spy", default="", help="py-spy binary: profile the send phases")
    parser.add_argument(
        "--profile-dir", default="/tmp/dreiklang-bench-profiles", help="where py-spy writes"
    )
    parser.add_argument("--no-pin", action="store_true", help="don't pin server and clients")
    parser.add_argument("--keep", action="store_true", help="keep the server logs and databases")
    parser.add_argument(
        "--out", default="/tmp/dreiklang-bench-threads.json", help="JSON results file"
    )
    parser.add_argument("--show", metavar="JSON", help="print the table of an earlier run and exit")
    args = parser.parse_args(argv)
    if args.show:
        return show(json.loads(Path(args.show).read_text()))
    sizes = (args.threads, args.per_thread, args.messages, args.runs, args.workers)
    if min(sizes) < 1 or args.rate <= 0:
        parser.error("threads, per-thread, messages, runs, workers and rate must be positive")
    try:
        contenders = parse_targets(
            args.targets, Path(args.server_root).expanduser().resolve(), args.label
        )
    except ValueError as err:
        parser.error(str(err))
    if not contenders:
        parser.error(f"no targets in {args.targets!r}")
    opts = Options(
        threads=args.threads, per_thread=args.per_thread, rate=args.rate,
        messages=args.messages, runs=args.runs, seed=args.seed, workers=args.workers,
        pin=not args.no_pin and (os.cpu_count() or 1) >= 2, quiet_wait=args.quiet_wait,
        contenders=contenders, prime=not args.no_prime,
    )  # fmt: skip
    if args.py_spy:
        opts.py_spy, opts.profile_dir = args.py_spy, Path(args.profile_dir)
        opts.profile_dir.mkdir(parents=True, exist_ok=True)
    report = run(opts, args.keep)
    print()
    print(table(report))
    print()
    print("\n".join(verdict(report)))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nresults written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
