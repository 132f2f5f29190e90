"""Feeds: each feed's poll state, the feeds added from chat or imported, and the heartbeat of `run`.

One aggregate of the storage interface (bot/storage/base.py joins them): written
against by the pipeline and by tests/contract/, implemented once per engine.
"""

from __future__ import annotations

from collections.abc import Sequence
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

    # -- leases: which instance polls which feed (several instances on one database) ----

    async def ensure_feeds(self, states: Sequence[FeedState]) -> None:
        """Store a row for each feed not stored yet (so it can be claimed); a stored
        feed keeps its state."""
        ...

    async def claim_due_feeds(
        self, owner: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[FeedState]:
        """Lease up to `limit` due feeds to `owner` until `lease_until`, longest-due first.

        Due: enabled, `next_poll_at` NULL or not after `now`, and not leased, or leased
        until before `now` (its holder died). Concurrent callers never get the same
        feed (PostgreSQL: `FOR UPDATE SKIP LOCKED`). Returns the stored states.
        """
        ...

    async def renew_feed_leases(
        self, owner: str, urls: Sequence[str], lease_until: datetime
    ) -> None:
        """Extend `owner`'s leases on `urls` (polls still running); a lease another
        instance took over meanwhile is left alone."""
        ...

    async def release_feed(self, owner: str, url: str) -> None:
        """Drop `owner`'s lease without saving a state (the poll could not record
        anything): the feed is claimable again at once. Saving a feed's state
        (`save_feed_state`, `ingest`) releases its lease too."""
        ...

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
