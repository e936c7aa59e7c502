"""Search benchmark: 100,000 messages, query time p50/p99 on SQLite and PostgreSQL.

For each database: a fresh, migrated database; the demo's people; 500 public threads (through
the actions, as people write them) and then 100,000 messages written in bulk with the stems the
send path stores (server/terms.py), a tenth of them staff notes. The words come from the demo's
texts (German and English), drawn with a Zipf-like skew so some words are common and most rare.

Then the same queries run against both: single words (common and rare), two words, a phrase,
an exclusion, and a word being typed (a prefix), each as a customer and as an employee, through
`server.search.search` (visibility rules, ranking and snippets included). The baseline, in the
same run and on the same rows, is what a search without an index does: `body LIKE '%word%'`
with the same visibility join, newest first. Report: p50/p99 per database and the ratio to the
baseline's. Target (issue 13): p99 ≤ 50 ms on SQLite.

    .venv/bin/python bench/search.py                      # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/search.py --messages 20000 --databases sqlite
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.actions.accounts import create_user  # noqa: E402
from server.actions.threads import start_thread  # noqa: E402
from server.adapters.tortoise import insert_many  # noqa: E402
from server.db import close_database, migrate, open_database  # noqa: E402
from server.demo import THREADS  # noqa: E402
from server.models import Audience, Message, Role, new_id  # noqa: E402
from server.publisher import Publisher  # noqa: E402
from server.search import Filters, search  # noqa: E402
from server.settings import Settings  # noqa: E402
from server.terms import parse, terms, words  # noqa: E402
from server.txscript import dialect_sql  # noqa: E402

BATCH = 2000
THREAD_COUNT = 500
DEFAULT_PG = "postgres://postgres:postgres@127.0.0.1:5432/test"


def vocabulary() -> list[str]:
    """The demo's words, each once, most frequent first (a stable order for the skew)."""
    seen: dict[str, int] = {}
    for _, title, _, _, messages, _ in THREADS:
        for text in [title, *(m[1] for m in messages)]:
            for w in words(text):
                seen[w] = seen.get(w, 0) + 1
    return sorted(seen, key=lambda w: (-seen[w], w))


def sentence(rng: random.Random, vocab: list[str], weights: list[float]) -> str:
    return " ".join(rng.choices(vocab, weights, k=rng.randint(6, 40))) + "."


def queries(rng: random.Random, vocab: list[str]) -> list[tuple[str, str, bool]]:
    """(kind, text, typing): the mix every database answers."""
    common, rare = vocab[:20], vocab[len(vocab) // 2 :]
    found: list[tuple[str, str, bool]] = []
    for _ in range(20):
        found.append(("common word", rng.choice(common), False))
        found.append(("rare word", rng.choice(rare), False))
        found.append(("two words", f"{rng.choice(common)} {rng.choice(rare)}", False))
        a, b = rng.sample(vocab[:60], 2)
        found.append(("phrase", f'"{a} {b}"', False))
        found.append(("exclusion", f"{rng.choice(common)} -{rng.choice(common)}", False))
        word = rng.choice([w for w in vocab if len(w) >= 6])
        found.append(("typing", word[: max(3, len(word) - 3)], True))
    return found


async def fill(settings: Settings, count: int, seed: int) -> dict[str, Any]:
    """Write the people, threads and messages; return who searches and how long it took."""
    await migrate(settings)
    await open_database(settings)
    live = Publisher()
    customer = await create_user("weber@example.org", "Weber", "bench-pass-1", Role.CUSTOMER)
    staff = await create_user("jan@nordlicht.example", "Jan", "bench-pass-1", Role.EMPLOYEE)
    rng = random.Random(seed)
    vocab = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    started = time.perf_counter()
    threads = []
    for i in range(THREAD_COUNT):
        title = " ".join(rng.choices(vocab, weights, k=rng.randint(3, 8)))
        thread, _, _ = await start_thread(
            live, customer, title, sentence(rng, vocab, weights), f"t{i}"
        )
        threads.append(thread.id)
    from tortoise.connection import get_connection

    conn = get_connection("default")
    template = Message(author_id=staff.id, client_id="", body="", html="", audience=Audience.ALL)
    now = datetime.now(UTC)
    written = 0
    while written < count:
        rows = []
        for _ in range(min(BATCH, count - written)):
            body = sentence(rng, vocab, weights)
            note = rng.random() < 0.1
            rows.append({
                "id": new_id(), "thread_id": rng.choice(threads), "client_id": f"b{written}",
                "body": body, "html": f"<p>{body}</p>", "terms": terms(body), "created_at": now,
                "audience": Audience.STAFF if note else Audience.ALL,
            })  # fmt: skip
            written += 1
        sql, params = insert_many(template, rows)
        await conn.execute_many(dialect_sql(conn, sql), params)
    # A server that ran for a while has statistics (autovacuum, SQLite's optimize): so does this.
    await conn.execute_script(
        "ANALYZE" if conn.capabilities.dialect == "postgres" else "PRAGMA optimize"
    )
    return {
        "customer": customer, "staff": staff, "vocab": vocab,
        "fill_seconds": round(time.perf_counter() - started, 1),
    }  # fmt: skip


async def like_baseline(viewer: Any, text: str) -> int:
    """What search costs without an index: a substring scan with the same visibility rule."""
    from tortoise.connection import get_connection

    conn = get_connection("default")
    word = text.strip('"-').split()[0]
    sql = (
        "SELECT m.id, m.body FROM messages m JOIN threads t ON t.id = m.thread_id "
        "WHERE m.body LIKE ? AND m.deleted_at IS NULL AND t.visibility = ? "
        "AND (m.audience = ? OR ?) ORDER BY m.created_at DESC LIMIT 21"
    )
    rows = await conn.execute_query_dict(
        dialect_sql(conn, sql), [f"%{word}%", "public", "all", bool(viewer.is_staff)]
    )
    return len(rows)


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


async def measure(settings: Settings, count: int, seed: int) -> dict[str, Any]:
    world = await fill(settings, count, seed)
    try:
        mix = queries(random.Random(seed + 1), world["vocab"])
        for _, text, typing in mix[:10]:  # warm the caches both ways
            await search(world["customer"], parse(text, typing=typing), Filters())
            await like_baseline(world["customer"], text)
        timings: dict[str, list[float]] = {"search": [], "like": []}
        by_kind: dict[str, list[float]] = {}
        hits = 0
        for kind, text, typing in mix:
            for viewer in (world["customer"], world["staff"]):
                t0 = time.perf_counter()
                hits += len(await search(viewer, parse(text, typing=typing), Filters()))
                t1 = time.perf_counter()
                await like_baseline(viewer, text)
                t2 = time.perf_counter()
                timings["search"].append(t1 - t0)
                timings["like"].append(t2 - t1)
                by_kind.setdefault(kind, []).append(t1 - t0)
        result = {
            "messages": count, "fill_seconds": world["fill_seconds"],
            "queries": len(timings["search"]),
            "hits": hits, "search": summary(timings["search"]), "like": summary(timings["like"]),
            "by_kind": {k: summary(v) for k, v in by_kind.items()},
        }  # fmt: skip
        result["p99_ratio_to_like"] = round(
            result["search"]["p99_ms"] / max(result["like"]["p99_ms"], 0.001), 3
        )
        return result
    finally:
        await close_database()


async def postgres_database(url: str) -> str:
    import asyncpg

    name = f"bench_search_{new_id().lower().replace('-', '_')}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.rsplit("/", 1)[0] + "/" + name


async def drop_postgres(url: str, database: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", default="/tmp/dreiklang-bench-search.json")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dk-search-") as tmp:
        for db in args.databases.split(","):
            if db == "sqlite":
                url = f"sqlite://{tmp}/search.sqlite3"
            else:
                try:
                    url = await postgres_database(args.postgres_url)
                except OSError as err:
                    print(f"SKIP postgres: {err}")
                    continue
            settings = Settings(data_dir=Path(tmp), database_url=url)
            # tortoise caches SQL by connection name, not dialect: forget SQLite's "?"s.
            from tortoise.backends.base.executor import EXECUTOR_CACHE

            EXECUTOR_CACHE.clear()
            try:
                results[db] = await measure(settings, args.messages, args.seed)
            finally:
                if db != "sqlite" and args.keep:
                    print(f"kept {url}")
                elif db != "sqlite":
                    await drop_postgres(args.postgres_url, url.rsplit("/", 1)[1])
            r = results[db]
            print(
                f"INFO {db}: {r['messages']:,} messages (written in {r['fill_seconds']} s), "
                f"{r['queries']} queries: search p50 {r['search']['p50_ms']} ms, "
                f"p99 {r['search']['p99_ms']} ms; LIKE scan p50 {r['like']['p50_ms']} ms, "
                f"p99 {r['like']['p99_ms']} ms; search p99 / LIKE p99 = {r['p99_ratio_to_like']}"
            )
            for kind, s in r["by_kind"].items():
                print(f"     {kind:<12} p50 {s['p50_ms']:>7} ms  p99 {s['p99_ms']:>7} ms")
    return report(results, Path(args.out))


def report(results: dict[str, Any], out: Path) -> int:
    """Write every figure as JSON and say whether SQLite met the target."""
    out.write_text(json.dumps(results, indent=2))
    sqlite = results.get("sqlite", {}).get("search", {}).get("p99_ms")
    ok = sqlite is None or sqlite <= 50
    if sqlite is not None:
        print(("PASS" if ok else "MISS") + f" sqlite p99 ≤ 50 ms: {sqlite} ms")
    print(f"results written to {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
