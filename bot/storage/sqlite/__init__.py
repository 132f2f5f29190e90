"""SQLite storage via aiosqlite: WAL, one connection, explicit short transactions.

One class per aggregate (feeds, items, stories, outbox, terms, digests,
coordination), each a mixin over the one shared connection (connection.py);
`SQLiteStorage` is their union, the object the App holds. Schema changes are numbered migrations
(migrations.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.storage.sqlite.coordination import CoordinationRepository
from bot.storage.sqlite.digests import DigestRepository
from bot.storage.sqlite.feeds import FeedRepository
from bot.storage.sqlite.items import ItemRepository
from bot.storage.sqlite.migrations import APPLICATION_ID, MIGRATIONS
from bot.storage.sqlite.outbox import OutboxRepository
from bot.storage.sqlite.stories import StoryRepository
from bot.storage.sqlite.terms import TermRepository

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SQLiteStorage", "open_storage"]


class SQLiteStorage(
    FeedRepository,
    ItemRepository,
    StoryRepository,
    OutboxRepository,
    TermRepository,
    DigestRepository,
    CoordinationRepository,
):
    """Every aggregate over one connection: one owner, one write lock, so a
    transaction of one aggregate never interleaves with another's."""


@asynccontextmanager
async def open_storage(path: Path | str) -> AsyncIterator[SQLiteStorage]:
    storage = await SQLiteStorage.open(path)
    try:
        yield storage
    finally:
        await storage.close()
