"""Feeds: each feed's poll state, the feeds added from chat or imported, and the heartbeat of `run`.

One aggregate of the storage interface (bot/storage/base.py joins them): written
against by the pipeline and by tests/contract/, implemented once per engine.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from bot.models import FeedState
from bot.storage.models import AddedFeed


class FeedStore(Protocol):
    async def feed_states(self) -> dict[str, FeedState]:
        """Every feed the database knows, by configured URL."""
        ...

    async def save_feed_state(self, state: FeedState) -> None: ...

    async def add_feed(self, url: str, name: str, added_by: str, now: datetime) -> bool: ...

    async def remove_feed(self, url: str) -> bool: ...

    async def added_feeds(self) -> list[tuple[str, str]]: ...

    async def import_feed(self, feed: AddedFeed, now: datetime) -> bool:
        """Store an operator-imported feed; False when the URL is already stored."""
        ...

    async def added_feed_records(self) -> list[AddedFeed]: ...

    async def feed_activity(self) -> dict[str, tuple[datetime | None, float | None]]: ...
    async def start_heartbeat(self, pid: int, host: str, now: datetime, interval: float) -> None:
        """A new `run` owns the heartbeat (bot/ops/health.py reads it)."""
        ...

    async def beat(self, now: datetime) -> None:
        """A poll cycle completed."""
        ...

    async def stop_heartbeat(self, now: datetime) -> None:
        """`run` stopped cleanly."""
        ...
