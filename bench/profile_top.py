"""Top lines of py-spy profiles: where the server's samples go, by own and by cumulative time.

Reads the collapsed stacks that `bench/fanout.py --py-spy PATH` writes (py-spy `record
--format raw --threads --subprocesses`: one line per distinct stack, `frame;frame;… count`,
the first frames naming the process and the thread) and prints, over all the files given:

- each process and thread's share of the samples (the event loop, aiosqlite's thread, the push
  worker child, …; thread ids and numbers are dropped so that runs add up);
- the top functions by **own** time (the leaf frame: where the CPU was when sampled);
- the top functions by **cumulative** time (every stack a function is on, counted once per
  stack even when it recurses), by default only the project's own (server/, push/, the rooms);
- the samples in each of a few **buckets** named after issue 17's list (send transaction,
  loop wake-ups, socket writes, rendering, push worker, …): a sample goes to the bucket of its
  innermost frame that matches one (the rules are `BUCKETS` below; `--bucket` adds one in
  front); every sample of the push worker child goes to the child's bucket.

py-spy is meant to count a sample only while a thread runs (no `--idle`), but with
`--nonblocking` (the benchmark's: the server is never paused) many samples of a thread in
epoll_wait or in aiosqlite's queue wait get through; those leaves (`WAITS`) are left out unless
`--waits`, so the shares are shares of the server's busy time.

    .venv/bin/python bench/fanout.py --workload threads --runs 1 --targets dreiklang \
        --py-spy .venv/bin/py-spy --profile-dir /tmp/dk-prof
    .venv/bin/python bench/profile_top.py /tmp/dk-prof/threads-dreiklang-*.txt --top 30
    .venv/bin/python bench/profile_top.py FILE --thread 'push' --top 20   # one thread only
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
THREAD_ID = re.compile(r"^thread \(\d+\): ?")
PROCESS = re.compile(r'^process \d+:"(?P<cmd>.*)"$')
NUMBERED = re.compile(r"-\d+\b")

# Leaf frames (with their line, Python 3.11.7 and aiosqlite 0.22) where a thread waits rather
# than works: the event loop's epoll_wait, aiosqlite's thread waiting for its next call.
# py-spy's `--nonblocking` idle detection lets many of them through (a thread just woken on a
# busy core is runnable); `--waits` keeps them. The wake-up's kernel work that they also hold
# is in the server's CPU from /proc, not here.
WAITS = re.compile(
    r"^EpollSelector\.select \(.*selectors\.py:468\)$"
    r"|^_connection_worker_thread \(.*aiosqlite/core\.py:59\)$"
)

# (name, pattern over a frame "function (path)"): a sample goes to the bucket of the innermost
# frame (nearest the leaf) that matches any pattern, the earlier bucket when one frame matches
# two; a sample of the push worker child goes to the child's bucket whatever it does.
CHILD_BUCKET = ("push worker child (all of it)", r"^process:.*push-worker")
BUCKETS: list[tuple[str, str]] = [
    ("waking the loop from another thread", r"call_soon_threadsafe|_write_to_self"),
    ("waking the push worker (pipe)", r"push/process\.py|_UnixWritePipeTransport"),
    (
        "socket writes",
        r"socketwriter\.py|_SelectorSocketTransport\.write|Frame\.serialize|"
        r"WebSocketsSansIOProtocol\.send \(|send_text",
    ),
    (
        "rendering (templates, Markdown, sanitiser)",
        r"jinja2|markdown|nh3|bleach|templating\.py|server/events/|babel",
    ),
    ("JSON", r"json/|msgspec"),
    ("ORM (tortoise, pypika)", r"tortoise/|pypika"),
    ("send transaction (txscript, on aiosqlite's thread)", r"txscript\.py"),
    ("other SQLite statements (aiosqlite)", r"aiosqlite/|sqlite3"),
    ("storing room's INSERT + COMMIT", r"^ThreadRooms\.serve \("),
    ("reading frames (uvicorn, websockets)", r"uvicorn/protocols/websockets|websockets/"),
    ("asyncio's loop and socket reads", r"asyncio/"),
]


def parse_frame(frame: str, keep_line: bool) -> str:
    """Return "function (path)" with the line number dropped unless asked for."""
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m["file"]
    for marker in ("site-packages/", "lib/python3."):
        if marker in path:
            path = path.split(marker, 1)[1]
            if marker == "lib/python3.":
                path = "stdlib/" + path.split("/", 1)[-1]
            break
    if keep_line and m["line"]:
        return f"{m['func']} ({path}:{m['line']})"
    return f"{m['func']} ({path})"


def root_name(frame: str) -> str:
    """Name a process or thread frame without its ids, so that runs add up."""
    m = PROCESS.match(frame)
    if m:
        cmd = m["cmd"]
        return "process: " + (cmd if len(cmd) < 80 else cmd[:77] + "...")
    if frame.startswith("thread ("):
        return "thread: " + NUMBERED.sub("-N", THREAD_ID.sub("", frame)) or "thread"
    return frame


def read_stacks(
    paths: Iterable[Path], keep_line: bool, waits: bool = False
) -> tuple[Counter[tuple[str, ...]], int]:
    """Return the sample count of every stack, roots first (process, thread, then frames),
    and the samples dropped as waits (unless `waits`)."""
    stacks: Counter[tuple[str, ...]] = Counter()
    dropped = 0
    for path in paths:
        for raw in path.read_text(errors="replace").splitlines():
            body, _, count = raw.rpartition(" ")
            if not body or not count.isdigit():
                continue
            frames = body.split(";")
            if not waits and WAITS.match(parse_frame(frames[-1], keep_line=True)):
                dropped += int(count)
                continue
            roots = []
            while frames and (frames[0].startswith("process ") or frames[0].startswith("thread (")):
                roots.append(root_name(frames.pop(0)))
            stacks[(*roots, *(parse_frame(f, keep_line) for f in frames))] += int(count)
    return stacks, dropped


def split_roots(stack: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    n = 0
    while n < len(stack) and stack[n].startswith(("process: ", "thread: ")):
        n += 1
    return stack[:n], stack[n:]


def summarize(
    stacks: Counter[tuple[str, ...]], buckets: Sequence[tuple[str, str]]
) -> tuple[int, Counter[str], Counter[str], Counter[str], Counter[str]]:
    """Return total samples and the counters by root, own, cumulative and bucket."""
    total = 0
    by_root: Counter[str] = Counter()
    own: Counter[str] = Counter()
    cumulative: Counter[str] = Counter()
    by_bucket: Counter[str] = Counter()
    compiled = [(name, re.compile(pattern)) for name, pattern in buckets]
    child = re.compile(CHILD_BUCKET[1])
    for stack, count in stacks.items():
        total += count
        roots, frames = split_roots(stack)
        by_root[" / ".join(roots) or "(no thread)"] += count
        if frames:
            own[frames[-1]] += count
        for f in set(frames):
            cumulative[f] += count
        if any(child.search(r) for r in roots):
            by_bucket[CHILD_BUCKET[0]] += count
            continue
        by_bucket[bucket_of(frames, compiled)] += count
    return total, by_root, own, cumulative, by_bucket


def bucket_of(frames: Sequence[str], compiled: Sequence[tuple[str, re.Pattern[str]]]) -> str:
    """Return the bucket of the innermost frame that matches one."""
    for frame in reversed(frames):
        for name, pattern in compiled:
            if pattern.search(frame):
                return name
    return "(other)"


def lines(title: str, counter: Counter[str], total: int, top: int) -> list[str]:
    out = [title]
    for name, count in counter.most_common(top):
        out.append(f"  {100 * count / max(1, total):5.1f} %  {count:>7}  {name}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="py-spy raw (collapsed) stacks")
    parser.add_argument("--top", type=int, default=25, help="lines per list")
    parser.add_argument("--lines", action="store_true", help="keep line numbers in frames")
    parser.add_argument(
        "--cumulative-frames",
        default=r"\((server|push)/|baseline_room\.py",
        metavar="REGEX",
        help="list only these frames by cumulative time (default: the project's own code; "
        "'.' lists every frame, the event loop's and the thread's boilerplate included)",
    )
    parser.add_argument(
        "--waits", action="store_true", help="keep samples of threads waiting (see WAITS)"
    )
    parser.add_argument(
        "--thread", default="", help="only stacks whose process or thread matches this regex"
    )
    parser.add_argument(
        "--bucket", action="append", default=[], metavar="NAME=REGEX",
        help="an extra bucket, tried before the built-in ones",
    )  # fmt: skip
    args = parser.parse_args(argv)
    stacks, dropped = read_stacks(args.files, args.lines, args.waits)
    if args.thread:
        wanted = re.compile(args.thread)
        stacks = Counter(
            {s: c for s, c in stacks.items() if any(wanted.search(r) for r in split_roots(s)[0])}
        )
    extra = [tuple(b.split("=", 1)) for b in args.bucket if "=" in b]
    total, by_root, own, cumulative, by_bucket = summarize(stacks, [*extra, *BUCKETS])
    print(
        f"{total} samples from {len(args.files)} file(s)"
        + (f"; {dropped} more were waits, left out (--waits keeps them)" if dropped else "")
        + "\n"
    )
    out: list[str] = []
    out += lines("By process and thread:", by_root, total, args.top)
    out += [""] + lines("By bucket (innermost matching frame):", by_bucket, total, len(by_bucket))
    out += [""] + lines("Top by own time (leaf frame):", own, total, args.top)
    shown = re.compile(args.cumulative_frames)
    cumulative = Counter({f: n for f, n in cumulative.items() if shown.search(f)})
    out += [""] + lines(
        f"Top by cumulative time (on the stack; frames matching {args.cumulative_frames}):",
        cumulative, total, args.top,
    )  # fmt: skip
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
