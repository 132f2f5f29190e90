"""Items: the keys every item is known by (dedup), the stored items, and retention.

One aggregate of the storage interface (bot/storage/base.py joins them): written
against by the pipeline and by tests/contract/, implemented once per engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from bot.models import FeedState, Item
from bot.storage.models import IngestResult, Planner


class ItemStore(Protocol):
    async def ingest(
        self,
        state: FeedState,
        items: Sequence[Item],
        now: datetime,
        plan: Planner,
        dedup_window: float = 48 * 3600.0,
    ) -> IngestResult:
        """Drop items already seen, plan the rest, and atomically record the new
        ones with the outbox rows `plan` asks for and the feed's new state.

        `plan` runs before the write transaction; items that another feed
        recorded meanwhile are re-checked inside it and dropped as repeats.

        A title fingerprint only counts as seen within `dedup_window` seconds.
        Either all of it is stored or none: a crash here re-reads the feed
        (its ETag is not saved either) instead of losing items.
        """
        ...

    async def items_since(self, since: datetime) -> list[Item]:
        """Stored items fetched at or after `since`, newest first (for backtests)."""
        ...

    async def first_item_at(self) -> datetime | None: ...

    async def prune(self, now: datetime, retention_seconds: float) -> int: ...
