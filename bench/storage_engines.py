"""Ingest batches through raw aiosqlite vs SQLAlchemy Core (async): the cost of the layer.

Why: issue 14 asks how a second engine (PostgreSQL) will share schema and
queries with SQLite. SQLAlchemy Core (async, aiosqlite/asyncpg drivers) with
Alembic is the ecosystem's standard; this measures what it costs on our
hottest write path, so the decision in docs/architecture.md rests on numbers.

What runs: a fresh SQLite database with the bot's schema (bot.storage.sqlite's
migrations) in a temporary directory. `--feeds` batches of `--items` items
each (one batch = one feed's poll) are written the way `ingest` writes them:
one write transaction that looks up the batch's seen keys, inserts the items,
upserts their keys, queues an alert for every 20th item and updates the feed.
The same statements run three ways:

* `storage`: the bot's own SQLiteStorage.ingest (raw aiosqlite, plus the
  pure dedup rules and planning), for reference;
* `raw`: the statements alone through aiosqlite, as SQL strings;
* `sqlalchemy`: the same statements as SQLAlchemy Core constructs on an
  AsyncEngine (`sqlite+aiosqlite`), one connection, compiled-statement cache on.

Each is timed with time.perf_counter over all batches (best of `--repeat`
runs, each on a new database). Needs SQLAlchemy 2.0 (`pip install
"sqlalchemy[asyncio]>=2.0,<2.1"`, not a dependency of the bot); without it
only `storage` and `raw` are reported.

With `--database postgresql://USER@HOST:PORT/DB` (a role that may create
databases) it also times `postgres`: PostgresStorage.ingest, the same batches,
on a new database per run (created beside DB and dropped after).

    python bench/storage_engines.py --feeds 200 --items 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiosqlite  # noqa: E402

from bot.dedup import item_keys  # noqa: E402
from bot.models import FeedState, Item  # noqa: E402
from bot.storage.models import IngestPlan  # noqa: E402
from bot.storage.sqlite import open_storage  # noqa: E402

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
Batch = tuple[str, list[Item]]


def batches(feeds: int, items: int) -> list[Batch]:
    out = []
    for f in range(feeds):
        url = f"http://127.0.0.1/feed/{f}.xml"
        out.append(
            (
                url,
                [
                    Item(
                        url,
                        f"{url}#{n}",
                        f"https://news.example/{f}/{n}",
                        f"Headline {f} {n} about the news of the day",
                        "summary " * 40,
                        NOW,
                    )
                    for n in range(items)
                ],
            )
        )
    return out


def rows_of(url: str, batch: list[Item], next_id: int) -> dict[str, list[tuple[Any, ...]]]:
    ts = NOW.timestamp()
    items, seen, outbox = [], [], []
    for item_id, it in enumerate(batch, start=next_id):
        items.append((item_id, url, it.guid, it.url, it.title, it.summary, ts, "F", ts, "[]"))
        seen += [(k, ts, item_id) for k in item_keys(it)]
        if item_id % 20 == 0:
            outbox.append((item_id, "jsonl", "alerts", "[]", ts, ts))
    return {"items": items, "seen": seen, "outbox": outbox}


async def run_storage(path: Path, data: list[Batch]) -> None:
    async with open_storage(path) as store:
        for url, batch in data:
            await store.ingest(
                FeedState(url, url), batch, NOW, lambda b: [IngestPlan(i) for i in b]
            )


async def run_raw(path: Path, data: list[Batch]) -> None:
    async with open_storage(path):
        pass  # the schema
    db = await aiosqlite.connect(path, isolation_level=None)
    await db.execute("PRAGMA journal_mode = WAL")
    await db.execute("PRAGMA synchronous = NORMAL")
    next_id = 1
    for url, batch in data:
        rows = rows_of(url, batch, next_id)
        next_id += len(batch)
        keys = [r[0] for r in rows["seen"]]
        await db.execute("BEGIN IMMEDIATE")
        sql = f"SELECT key, first_seen FROM seen WHERE key IN ({','.join('?' * len(keys))})"
        async with db.execute(sql, keys) as cur:
            await cur.fetchall()
        await db.executemany(
            "INSERT INTO items (id, feed_url, guid, url, title, summary, published, feed_name, "
            "fetched_at, matches) VALUES (?,?,?,?,?,?,?,?,?,?)",
            rows["items"],
        )
        await db.executemany(
            "INSERT INTO seen (key, first_seen, item_id) VALUES (?,?,?) ON CONFLICT (key) "
            "DO UPDATE SET item_id = coalesce(item_id, excluded.item_id)",
            rows["seen"],
        )
        await db.executemany(
            "INSERT OR IGNORE INTO outbox (item_id, platform, channel_id, matches, "
            "next_attempt_at, created_at) VALUES (?,?,?,?,?,?)",
            rows["outbox"],
        )
        await db.execute(
            "INSERT INTO feeds (url, fetch_url, items_seen) VALUES (?,?,?) ON CONFLICT (url) "
            "DO UPDATE SET items_seen = feeds.items_seen + excluded.items_seen",
            (url, url, len(batch)),
        )
        await db.execute("COMMIT")
    await db.close()


async def run_sqlalchemy(path: Path, data: list[Batch]) -> None:
    from sqlalchemy import Column, Float, Integer, MetaData, Table, Text, func, select
    from sqlalchemy.dialects.sqlite import insert
    from sqlalchemy.ext.asyncio import create_async_engine

    async with open_storage(path):
        pass  # the same schema, made by the bot's migrations
    md = MetaData()
    items = Table(
        "items",
        md,
        Column("id", Integer, primary_key=True),
        *(
            Column(c, Text)
            for c in ("feed_url", "guid", "url", "title", "summary", "feed_name", "matches")
        ),
        Column("published", Float),
        Column("fetched_at", Float),
    )
    seen = Table(
        "seen",
        md,
        Column("key", Text, primary_key=True),
        Column("first_seen", Float),
        Column("item_id", Integer),
    )
    outbox = Table(
        "outbox",
        md,
        Column("id", Integer, primary_key=True),
        Column("item_id", Integer),
        Column("platform", Text),
        Column("channel_id", Text),
        Column("matches", Text),
        Column("next_attempt_at", Float),
        Column("created_at", Float),
    )
    feeds = Table(
        "feeds",
        md,
        Column("url", Text, primary_key=True),
        Column("fetch_url", Text),
        Column("items_seen", Integer),
    )
    engine = create_async_engine(f"sqlite+aiosqlite:///{path}")
    seen_upsert = insert(seen)
    seen_upsert = seen_upsert.on_conflict_do_update(
        index_elements=[seen.c.key],
        set_={"item_id": func.coalesce(seen.c.item_id, seen_upsert.excluded.item_id)},
    )
    feed_upsert = insert(feeds)
    feed_upsert = feed_upsert.on_conflict_do_update(
        index_elements=[feeds.c.url],
        set_={"items_seen": feeds.c.items_seen + feed_upsert.excluded.items_seen},
    )
    next_id = 1
    async with engine.connect() as conn:
        for url, batch in data:
            rows = rows_of(url, batch, next_id)
            next_id += len(batch)
            keys = [r[0] for r in rows["seen"]]
            async with conn.begin():
                await conn.execute(
                    select(seen.c.key, seen.c.first_seen).where(seen.c.key.in_(keys))
                )
                await conn.execute(
                    insert(items),
                    [
                        dict(
                            zip(
                                (
                                    "id",
                                    "feed_url",
                                    "guid",
                                    "url",
                                    "title",
                                    "summary",
                                    "published",
                                    "feed_name",
                                    "fetched_at",
                                    "matches",
                                ),
                                r,
                                strict=True,
                            )
                        )
                        for r in rows["items"]
                    ],
                )
                await conn.execute(
                    seen_upsert,
                    [{"key": k, "first_seen": t, "item_id": i} for k, t, i in rows["seen"]],
                )
                if rows["outbox"]:
                    await conn.execute(
                        insert(outbox).prefix_with("OR IGNORE"),
                        [
                            dict(
                                zip(
                                    (
                                        "item_id",
                                        "platform",
                                        "channel_id",
                                        "matches",
                                        "next_attempt_at",
                                        "created_at",
                                    ),
                                    r,
                                    strict=True,
                                )
                            )
                            for r in rows["outbox"]
                        ],
                    )
                await conn.execute(
                    feed_upsert, {"url": url, "fetch_url": url, "items_seen": len(batch)}
                )
    await engine.dispose()


async def best_of(
    run: Callable[[Path, list[Batch]], Awaitable[None]], data: list[Batch], repeat: int
) -> float:
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.sqlite3"
            start = time.perf_counter()
            await run(path, data)
            best = min(best, time.perf_counter() - start)
    return best


async def run_postgres(url: str, data: list[Batch]) -> float:
    """PostgresStorage.ingest over `data` on a new database; the seconds it took."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import asyncpg

    from bot.storage.postgres import open_postgres

    name = f"newswatch_bench_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(url)
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            target = urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))
            async with open_postgres(target) as store:
                start = time.perf_counter()
                for feed, batch in data:
                    await store.ingest(
                        FeedState(feed, feed), batch, NOW, lambda b: [IngestPlan(i) for i in b]
                    )
                return time.perf_counter() - start
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--database", help="also time PostgresStorage on this server (a URL)")
    args = parser.parse_args()
    data = batches(args.feeds, args.items)
    runs: dict[str, Callable[[Path, list[Batch]], Awaitable[None]]] = {
        "storage": run_storage,
        "raw": run_raw,
    }
    try:
        import sqlalchemy

        runs["sqlalchemy"] = run_sqlalchemy
        version = sqlalchemy.__version__
    except ImportError:
        version = None
    results = {name: await best_of(run, data, args.repeat) for name, run in runs.items()}
    if args.database:
        results["postgres"] = min(
            [await run_postgres(args.database, data) for _ in range(args.repeat)]
        )
    total = args.feeds * args.items
    if args.json:
        print(
            json.dumps(
                {
                    "feeds": args.feeds,
                    "items": args.items,
                    "sqlalchemy": version,
                    "seconds": results,
                }
            )
        )
        return
    print(f"{args.feeds} batches x {args.items} items = {total} items, best of {args.repeat}")
    for name, seconds in results.items():
        print(f"  {name:<11} {seconds:7.3f} s  {total / seconds:9.0f} items/s")
    if "sqlalchemy" in results:
        ratio = results["sqlalchemy"] / results["raw"]
        print(f"  sqlalchemy {version}: {ratio:.2f}x the raw aiosqlite time")
    else:
        print("  (sqlalchemy not installed: pip install 'sqlalchemy[asyncio]>=2.0,<2.1')")


if __name__ == "__main__":
    asyncio.run(main())
