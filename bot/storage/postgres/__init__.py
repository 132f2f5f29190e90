"""PostgreSQL storage via asyncpg: several identical instances on one database.

Mirrors bot/storage/sqlite/: one repository mixin per aggregate over the shared
connections (connection.py: a pool plus one dedicated connection for advisory
locks and LISTEN), numbered migrations (migrations.py), and the same schema
with the same table and column names. Where several instances meet, it uses
PostgreSQL's own tools: `SKIP LOCKED` leases, advisory locks, LISTEN/NOTIFY and
sequences; the contract suite (tests/contract/) holds both engines to the same
behaviour.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.storage.postgres.coordination import CoordinationRepository
from bot.storage.postgres.digests import DigestRepository
from bot.storage.postgres.feeds import FeedRepository
from bot.storage.postgres.items import ItemRepository
from bot.storage.postgres.migrations import MIGRATIONS
from bot.storage.postgres.outbox import OutboxRepository
from bot.storage.postgres.stories import StoryRepository
from bot.storage.postgres.terms import TermRepository

__all__ = ["MIGRATIONS", "PostgresStorage", "open_postgres"]


class PostgresStorage(
    FeedRepository,
    ItemRepository,
    StoryRepository,
    OutboxRepository,
    TermRepository,
    DigestRepository,
    CoordinationRepository,
):
    """Every aggregate over one instance's connections: what the App holds."""


@asynccontextmanager
async def open_postgres(url: str) -> AsyncIterator[PostgresStorage]:
    storage = await PostgresStorage.open(url)
    try:
        yield storage
    finally:
        await storage.close()
