"""The storage contract: every engine passes the same tests, written against the protocols.

An engine is one `Engine` below; the tests only see `storage_engine` (and the
`store` it opens) typed as the protocols in bot/storage/. Everything is real: a
real database file per test on SQLite, a fresh database on a real server per
test on PostgreSQL (tests/postgres.py; skipped with the reason when there is no
server, except in CI), real migrations, real concurrent connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from bot.dedup import guid_key
from bot.models import FeedState, Item, Match
from bot.storage.base import Delivery, IngestPlan, Storage
from bot.storage.postgres import MIGRATIONS as PG_MIGRATIONS
from bot.storage.postgres import open_postgres
from bot.storage.postgres.migrations import APPLICATION
from bot.storage.sqlite import APPLICATION_ID, MIGRATIONS, open_storage
from bot.storage.sqlite.migrations import statements
from tests.postgres import run_coroutine

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
FEED = "https://news.example/feed.xml"


@dataclass(frozen=True)
class Engine:
    """How the contract suite opens, and builds old versions of, one engine's database."""

    name: str
    open: Callable[[Any], AbstractAsyncContextManager[Storage]]
    schema_versions: int  # the newest schema version this code migrates to
    # Build a database at schema version N (1 <= N < schema_versions) as a bot of that
    # version left it, filled with rows of every aggregate that version had.
    build_at_version: Callable[[Any, int], None]
    # Where a test's database lives: a file path (SQLite) or a URL (PostgreSQL).
    location: Callable[[pytest.FixtureRequest], Path | str]


def _sqlite_build_at_version(path: Path, version: int) -> None:
    """A SQLite file as a bot of schema `version` left it: MIGRATIONS[:version], filled."""
    con = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        for statement in statements(script):
            con.execute(statement)
        con.execute(f"PRAGMA user_version = {number}")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    ts = NOW.timestamp()
    # Rows every version since 1 has: a feed, an item with its seen key and a
    # pending alert, a chat term.
    con.execute(
        "INSERT INTO feeds (url, fetch_url, etag, items_seen) VALUES (?, ?, 'etag-1', 1)",
        (FEED, FEED),
    )
    con.execute(
        "INSERT INTO items (id, feed_url, guid, url, title, summary, published, feed_name, "
        "fetched_at, matches) VALUES (1, ?, 'old-guid', 'https://news.example/old', "
        "'An old story kept across upgrades', '', ?, 'News', ?, ?)",
        (
            FEED,
            ts,
            ts,
            '[{"entity_id": "iskp", "entity_name": "ISKP", "kind": "group", '
            '"severity": "medium", "alias": "ISKP", "text": "ISKP", "score": 100.0}]',
        ),
    )
    old = Item(FEED, "old-guid", "https://news.example/old", "An old story kept across upgrades")
    con.execute("INSERT INTO seen (key, first_seen, item_id) VALUES (?, ?, 1)", (guid_key(old), ts))
    con.execute(
        "INSERT INTO outbox (item_id, platform, channel_id, matches, next_attempt_at, "
        "created_at) VALUES (1, 'jsonl', 'alerts', '[]', ?, ?)",
        (ts, ts),
    )
    con.execute(
        "INSERT INTO watch_terms (entity_id, term, kind, added_by, added_at) "
        "VALUES ('iskp', 'Wilayat Khurasan', 'group', 'ana', ?)",
        (ts,),
    )
    if version >= 2:
        con.execute(
            "INSERT INTO added_feeds (url, name, added_by, added_at) VALUES "
            "('https://added.example/rss', 'Added', 'ana', ?)",
            (ts,),
        )
        con.execute(
            "INSERT INTO mutes (entity_id, until, muted_by, muted_at) VALUES "
            "('ttp', NULL, 'ana', ?)",
            (ts,),
        )
    con.commit()
    con.close()


def _postgres_build_at_version(url: str, version: int) -> None:
    """A PostgreSQL database as a bot of schema `version` left it: PG_MIGRATIONS[:version],
    filled with the same rows as SQLite's (today there is no earlier version)."""

    async def build() -> None:
        con = await asyncpg.connect(url)
        try:
            for number, script in enumerate(PG_MIGRATIONS[:version], start=1):
                await con.execute(script)
                await con.execute(
                    "INSERT INTO schema_version (application, version) VALUES ($1, $2) "
                    "ON CONFLICT (application) DO UPDATE SET version = excluded.version",
                    APPLICATION,
                    number,
                )
            ts = NOW.timestamp()
            await con.execute(
                "INSERT INTO feeds (url, fetch_url, etag, items_seen) VALUES ($1, $1, 'etag-1', 1)",
                FEED,
            )
            await con.execute(
                "INSERT INTO items (id, feed_url, guid, url, title, summary, published, "
                "feed_name, fetched_at, matches) VALUES (1, $1, 'old-guid', "
                "'https://news.example/old', 'An old story kept across upgrades', '', $2, "
                "'News', $2, $3)",
                FEED,
                ts,
                '[{"entity_id": "iskp", "entity_name": "ISKP", "kind": "group", '
                '"severity": "medium", "alias": "ISKP", "text": "ISKP", "score": 100.0}]',
            )
            await con.execute("SELECT setval(pg_get_serial_sequence('items', 'id'), 1)")
            old = Item(
                FEED, "old-guid", "https://news.example/old", "An old story kept across upgrades"
            )
            await con.execute(
                "INSERT INTO seen (key, first_seen, item_id) VALUES ($1, $2, 1)", guid_key(old), ts
            )
            await con.execute(
                "INSERT INTO outbox (item_id, platform, channel_id, matches, next_attempt_at, "
                "created_at) VALUES (1, 'jsonl', 'alerts', '[]', $1, $1)",
                ts,
            )
            await con.execute(
                "INSERT INTO watch_terms (entity_id, term, kind, added_by, added_at) "
                "VALUES ('iskp', 'Wilayat Khurasan', 'group', 'ana', $1)",
                ts,
            )
            await con.execute(
                "INSERT INTO added_feeds (url, name, added_by, added_at) VALUES "
                "('https://added.example/rss', 'Added', 'ana', $1)",
                ts,
            )
            await con.execute(
                "INSERT INTO mutes (entity_id, until, muted_by, muted_at) VALUES "
                "('ttp', NULL, 'ana', $1)",
                ts,
            )
        finally:
            await con.close()

    run_coroutine(build())


ENGINES = {
    "sqlite": Engine(
        name="sqlite",
        open=open_storage,
        schema_versions=len(MIGRATIONS),
        build_at_version=_sqlite_build_at_version,
        location=lambda request: request.getfixturevalue("tmp_path") / "contract.sqlite3",
    ),
    "postgresql": Engine(
        name="postgresql",
        open=open_postgres,
        schema_versions=len(PG_MIGRATIONS),
        build_at_version=_postgres_build_at_version,
        # Asked for only here, so SQLite runs never start a server.
        location=lambda request: request.getfixturevalue("postgres_url"),
    ),
}


@pytest.fixture(params=sorted(ENGINES))
def storage_engine(request: pytest.FixtureRequest) -> Engine:
    """Each contract test runs once per storage engine."""
    return ENGINES[request.param]


@pytest.fixture
def database(storage_engine: Engine, request: pytest.FixtureRequest) -> Path | str:
    """This test's own empty database, on the engine under test."""
    return storage_engine.location(request)


@pytest.fixture
async def store(storage_engine: Engine, database: Path | str) -> AsyncIterator[Storage]:
    async with storage_engine.open(database) as storage:
        yield storage


# -- plain data the contract tests build --------------------------------------------


def match(entity: str = "iskp", name: str = "ISKP", severity: str = "medium") -> Match:
    return Match(entity, name, "group", severity, name, name, 100.0)


def item(n: int, *, feed: str = FEED, title: str | None = None) -> Item:
    return Item(
        feed,
        f"{feed}#g{n}",
        f"https://news.example/{n}",
        title or f"Story number {n} reported here today",
        "",
        NOW,
        "News",
    )


def keep_all(items: list[Item]) -> list[IngestPlan]:
    return [IngestPlan(i) for i in items]


def alert_to(
    platform: str = "jsonl",
    channel_id: str = "alerts",
    *,
    story: Callable[[Item], str | None] = lambda i: None,
    matches: tuple[Match, ...] = (),
) -> Callable[[list[Item]], list[IngestPlan]]:
    """A planner that sends every new item to one channel (and files it under `story`)."""
    ms = matches or (match(),)
    return lambda items: [
        IngestPlan(i, ms, (Delivery(platform, channel_id, ms),), story(i)) for i in items
    ]


async def ingest(
    store: Storage,
    items: list[Item],
    now: datetime = NOW,
    plan: Callable[[list[Item]], list[IngestPlan]] = keep_all,
    feed: str = FEED,
) -> tuple[int, int, int]:
    r = await store.ingest(FeedState(feed, feed), items, now, plan)
    return r.new_items, r.duplicates, r.alerts
