"""The storage contract: every engine passes the same tests, written against the protocols.

An engine is one `Engine` below; the tests only see `storage_engine` (and the
`store` it opens) typed as the protocols in bot/storage/. The PostgreSQL issue
adds a parameter here, not tests. Everything is real: a real database file per
test, real migrations, real concurrent connections.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.dedup import guid_key
from bot.models import FeedState, Item, Match
from bot.storage.base import Delivery, IngestPlan, Storage
from bot.storage.sqlite import APPLICATION_ID, MIGRATIONS, open_storage
from bot.storage.sqlite.migrations import statements

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
FEED = "https://news.example/feed.xml"


@dataclass(frozen=True)
class Engine:
    """How the contract suite opens, and builds old versions of, one engine's database."""

    name: str
    open: Callable[[Path], AbstractAsyncContextManager[Storage]]
    schema_versions: int  # the newest schema version this code migrates to
    # Build a database at schema version N (1 <= N < schema_versions) as a bot of that
    # version left it, filled with rows of every aggregate that version had.
    build_at_version: Callable[[Path, int], None]
    location: Callable[[Path], Path]  # where a test's database lives


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


ENGINES = {
    "sqlite": Engine(
        name="sqlite",
        open=open_storage,
        schema_versions=len(MIGRATIONS),
        build_at_version=_sqlite_build_at_version,
        location=lambda tmp: tmp / "contract.sqlite3",
    ),
}


@pytest.fixture(params=sorted(ENGINES))
def storage_engine(request: pytest.FixtureRequest) -> Engine:
    """Each contract test runs once per storage engine."""
    return ENGINES[request.param]


@pytest.fixture
async def store(storage_engine: Engine, tmp_path: Path) -> AsyncIterator[Storage]:
    async with storage_engine.open(storage_engine.location(tmp_path)) as storage:
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
