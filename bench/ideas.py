"""Ideas board benchmark: 10,000 ideas with votes, board pages at the top and deep down.

For each database: a fresh, migrated database; 500 people and 10,000 ideas (a thread, its
Idea row, one to three tags each) written in bulk, then about 150,000 votes with a Zipf-like
skew (a few ideas get most of them), cast over the last 120 days, the counter set from the
rows. Statuses as a real board has them: most new or under review, some planned, in progress,
done or declined.

Then `server.ideas.board` (visibility rules, filters, keyset paging, tags and "voted" included)
answers, as a customer: `top`, `trending` (votes of the last 30 days), `new`, one tag, and a
word of a title being typed, each at page 1 and at page 50 (1,000 ideas down, reached through
the page links as a person would). Baseline, on the same rows in the same run: a plain
`SELECT … FROM ideas ORDER BY votes DESC LIMIT 20` (no join, no filter) and, to show what keyset
paging avoids, the same page 50 by `OFFSET 980`. Report: p50/p99 per query, deep ÷ first page,
and first page ÷ the plain baseline.

    .venv/bin/python bench/ideas.py                        # SQLite, and PostgreSQL if reachable
    .venv/bin/python bench/ideas.py --ideas 2000 --databases sqlite
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.adapters.tortoise import insert_many  # noqa: E402
from server.db import close_database, migrate, open_database  # noqa: E402
from server.ideas import PAGE, Filters, board  # noqa: E402
from server.models import (  # noqa: E402
    Idea,
    IdeaStatus,
    IdeaTag,
    IdeaVote,
    Role,
    Thread,
    ThreadKind,
    User,
    new_id,
)
from server.settings import Settings  # noqa: E402
from server.terms import terms  # noqa: E402
from server.txscript import dialect_sql  # noqa: E402

BATCH = 2000
PEOPLE = 500
VOTES = 150_000
DEEP_PAGE = 50
RUNS = 15  # timings per query (after one warm-up)
DEFAULT_PG = "postgres://postgres:postgres@127.0.0.1:5432/test"
# Title words, German and English as the demo's customers write.
WORDS = (
    "App", "Rechnung", "Zähler", "Ablesung", "Strom", "Tarif", "Ladepunkt", "Hafen", "Ökostrom",
    "Erinnerung", "Foto", "Push", "dark", "mode", "export", "billing", "meter", "charging",
    "outage", "map", "solar", "battery", "invoice", "reminder", "widget", "Abschlag",
    "Kundenportal", "Störung", "Karte", "Netz", "Wärmepumpe", "Vertrag", "Umzug", "Bonus",
)  # fmt: skip
TAGS = ("app", "billing", "meter", "e-mobility", "outage", "portal", "design", "green-energy",
        "contract", "heat-pump", "solar", "notifications")  # fmt: skip
STATUSES = (
    (IdeaStatus.NEW, 55), (IdeaStatus.UNDER_REVIEW, 15), (IdeaStatus.PLANNED, 8),
    (IdeaStatus.IN_PROGRESS, 5), (IdeaStatus.DONE, 9), (IdeaStatus.DECLINED, 8),
)  # fmt: skip


async def write(model_template: Any, rows: list[dict[str, Any]]) -> None:
    from tortoise.connection import get_connection

    conn = get_connection("default")
    for start in range(0, len(rows), BATCH):
        sql, params = insert_many(model_template, rows[start : start + BATCH])
        await conn.execute_many(dialect_sql(conn, sql), params)


async def fill(settings: Settings, count: int, seed: int) -> dict[str, Any]:
    """Write people, ideas, tags and votes in bulk; return who reads and what to look for."""
    await migrate(settings)
    await open_database(settings)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    started = time.perf_counter()
    people = [{"id": new_id(), "email": f"p{i}@example.org", "display_name": f"Person {i}",
               "password_hash": "x", "created_at": now} for i in range(PEOPLE)]  # fmt: skip
    await write(User(role=Role.CUSTOMER), people)
    threads, ideas, tags = [], [], []
    statuses, weights = zip(*STATUSES, strict=True)
    for _ in range(count):
        title = " ".join(rng.choices(WORDS, k=rng.randint(3, 7)))
        at = now - timedelta(days=rng.uniform(0, 365))
        thread_id, idea_id = new_id(), new_id()
        threads.append({
            "id": thread_id, "title": title, "terms": terms(title), "kind": ThreadKind.IDEA,
            "author_id": rng.choice(people)["id"], "created_at": at, "staff_activity_at": at,
            "public_activity_at": at, "staff_messages": 1, "public_messages": 1,
        })  # fmt: skip
        ideas.append({"id": idea_id, "thread_id": thread_id, "created_at": at,
                      "status_changed_at": at,
                      "status": rng.choices(statuses, weights)[0]})  # fmt: skip
        for tag in rng.sample(TAGS, rng.randint(1, 3)):
            tags.append({"idea_id": idea_id, "tag": tag})
    await write(Thread(author_id=people[0]["id"], title="", kind=ThreadKind.IDEA), threads)
    # Zipf-like: idea n gets votes ∝ 1/(n+1)^0.8, each from distinct people, over 120 days.
    order = list(range(count))
    rng.shuffle(order)
    share = [1 / (rank + 1) ** 0.8 for rank in range(count)]
    scale = VOTES / sum(share)
    votes, counter = [], {}
    for rank, n in enumerate(order):
        wanted = min(PEOPLE, round(share[rank] * scale))
        idea_id = ideas[n]["id"]
        counter[idea_id] = wanted
        for person in rng.sample(people, wanted):
            when = now - timedelta(days=rng.uniform(0, 120))
            votes.append({"idea_id": idea_id, "user_id": person["id"], "created_at": when})
    for idea in ideas:
        idea["votes"] = counter[idea["id"]]
    await write(Idea(thread_id=threads[0]["id"]), ideas)
    await write(IdeaTag(idea_id=ideas[0]["id"], tag=""), tags)
    await write(IdeaVote(idea_id=ideas[0]["id"], user_id=people[0]["id"]), votes)
    from tortoise.connection import get_connection

    conn = get_connection("default")
    await conn.execute_script(
        "ANALYZE" if conn.capabilities.dialect == "postgres" else "PRAGMA optimize"
    )
    viewer = await User.get(id=people[1]["id"])
    return {"viewer": viewer, "ideas": count, "votes": len(votes), "tags": len(tags),
            "fill_seconds": round(time.perf_counter() - started, 1)}  # fmt: skip


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered) * 1000, 2), "p99_ms": round(p99 * 1000, 2)}


async def timed(call: Any) -> dict[str, float]:
    await call()  # warm
    found = []
    for _ in range(RUNS):
        t0 = time.perf_counter()
        await call()
        found.append(time.perf_counter() - t0)
    return summary(found)


async def baseline(offset: int) -> None:
    from tortoise.connection import get_connection

    conn = get_connection("default")
    sql = "SELECT id, thread_id, votes, status FROM ideas ORDER BY votes DESC LIMIT 20 OFFSET ?"
    await conn.execute_query_dict(dialect_sql(conn, sql), [offset])


async def offset_page(offset: int) -> None:
    """Page 50 of `top` as OFFSET would find it: every row above it read and thrown away."""
    from tortoise.connection import get_connection

    conn = get_connection("default")
    sql = (
        "SELECT i.id, i.thread_id, i.votes, t.title FROM ideas i JOIN threads t "
        "ON t.id = i.thread_id WHERE t.visibility = 'public' AND t.hidden_at IS NULL "
        "AND i.status IN ('new', 'under_review', 'planned', 'in_progress') "
        "ORDER BY i.votes DESC, i.created_at DESC, i.id DESC LIMIT 20 OFFSET ?"
    )
    await conn.execute_query_dict(dialect_sql(conn, sql), [offset])


async def measure(settings: Settings, count: int, seed: int) -> dict[str, Any]:
    world = await fill(settings, count, seed)
    viewer = world["viewer"]
    try:
        asks = {
            "top": Filters("top"),
            "trending": Filters("trending"),
            "new": Filters("new"),
            "tag": Filters("top", tag="meter"),
            "search": Filters("top", q="zähl"),
        }
        results: dict[str, Any] = {}
        for name, filters in asks.items():
            cursor, pages = None, 1
            while pages < DEEP_PAGE:  # follow the page links down, as a person would
                page = await board(viewer, filters, cursor)
                if page.next is None:
                    break
                cursor, pages = page.next, pages + 1
            first = await timed(lambda f=filters: board(viewer, f))
            deep = await timed(lambda f=filters, c=cursor: board(viewer, f, c))
            ratio = round(deep["p50_ms"] / first["p50_ms"], 2)
            results[name] = {"first": first, "deep": deep, "deep_page": pages,
                             "deep_over_first": ratio}  # fmt: skip
        plain = await timed(lambda: baseline(0))
        offset = await timed(lambda: offset_page((DEEP_PAGE - 1) * PAGE))
        for r in results.values():
            r["first_over_plain"] = round(r["first"]["p50_ms"] / plain["p50_ms"], 1)
        return {**{k: v for k, v in world.items() if k != "viewer"}, "board": results,
                "plain_limit_20": plain, "top_page_50_by_offset": offset}  # fmt: skip
    finally:
        await close_database()


async def postgres_database(url: str) -> str:
    import asyncpg

    name = f"bench_ideas_{new_id().lower().replace('-', '_')}"
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
    parser.add_argument("--ideas", type=int, default=10_000)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_PG)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--out", default="/tmp/dreiklang-bench-ideas.json")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="dk-ideas-") as tmp:
        for db in args.databases.split(","):
            if db == "sqlite":
                url = f"sqlite://{tmp}/ideas.sqlite3"
            else:
                try:
                    url = await postgres_database(args.postgres_url)
                except OSError as err:
                    print(f"SKIP postgres: {err}")
                    continue
            settings = Settings(data_dir=Path(tmp), database_url=url)
            from tortoise.backends.base.executor import EXECUTOR_CACHE

            EXECUTOR_CACHE.clear()  # tortoise caches SQL by connection name, not dialect
            try:
                results[db] = r = await measure(settings, args.ideas, args.seed)
            finally:
                if db != "sqlite":
                    await drop_postgres(args.postgres_url, url.rsplit("/", 1)[1])
            print(f"INFO {db}: {r['ideas']:,} ideas, {r['votes']:,} votes, {r['tags']:,} tags "
                  f"(written in {r['fill_seconds']} s); plain LIMIT 20: "
                  f"p50 {r['plain_limit_20']['p50_ms']} ms; top page {DEEP_PAGE} by OFFSET: "
                  f"p50 {r['top_page_50_by_offset']['p50_ms']} ms")  # fmt: skip
            for name, b in r["board"].items():
                print(f"     {name:<9} page 1 p50 {b['first']['p50_ms']:>6} ms "
                      f"p99 {b['first']['p99_ms']:>6} ms | page {b['deep_page']:>2} p50 "
                      f"{b['deep']['p50_ms']:>6} ms p99 {b['deep']['p99_ms']:>6} ms | "
                      f"deep/first {b['deep_over_first']:>5} | "
                      f"first/plain {b['first_over_plain']:>5}")  # fmt: skip
    Path(args.out).write_text(json.dumps(results, indent=2))  # noqa: ASYNC240 - once, at the end
    print(f"results written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
