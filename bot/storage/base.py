"""The storage interface the pipeline talks to.

Everything the bot remembers goes through these methods, so a second backend
(PostgreSQL for several instances) is a new class, not a rewrite. Times are
timezone-aware datetimes here; each backend picks its own representation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.matching.watchlists import ChatTerm
from bot.models import Alert, FeedState, Item, Match


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox row to create: this item's matches, bound for one channel."""

    platform: str
    channel_id: str
    matches: tuple[Match, ...]


@dataclass(frozen=True, slots=True)
class IngestPlan:
    """What the pipeline decided for one new item: keep it, and where to send it."""

    item: Item
    matches: tuple[Match, ...] = ()
    deliveries: tuple[Delivery, ...] = ()


@dataclass(frozen=True, slots=True)
class IngestResult:
    new_items: int = 0
    duplicates: int = 0
    alerts: int = 0


#: Called with the items that look new (outside the write transaction, so
#: matching never blocks other writers); pure.
Planner = Callable[[list[Item]], list[IngestPlan]]


class Storage(Protocol):
    async def close(self) -> None: ...

    # feeds ------------------------------------------------------------------
    async def feed_states(self) -> dict[str, FeedState]:
        """Every feed the database knows, by configured URL."""
        ...

    async def save_feed_state(self, state: FeedState) -> None: ...

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

    # outbox -----------------------------------------------------------------
    async def next_alert(self, platform: str, channel_id: str) -> Alert | None:
        """The oldest undelivered alert for a channel, due or not (order is kept)."""
        ...

    async def alert_due_at(self, alert_id: int) -> datetime: ...

    async def mark_sent(self, alert_id: int, message_id: str, now: datetime) -> None: ...

    async def mark_retry(
        self, alert_id: int, error: str, next_attempt_at: datetime, now: datetime
    ) -> None: ...

    async def mark_dead(self, alert_id: int, error: str, now: datetime) -> None: ...

    async def pending_count(self) -> int: ...

    async def set_channel_broken(
        self,
        platform: str,
        channel_id: str,
        reason: str | None,
        now: datetime,
        config_hash: str | None = None,
    ) -> None:
        """Mark (reason) or clear (None) a channel whose platform refused it for good."""
        ...

    async def broken_channels(self) -> dict[tuple[str, str], str]: ...

    async def broken_channel_details(
        self,
    ) -> dict[tuple[str, str], tuple[str, str | None]]: ...

    async def items_since(self, since: datetime) -> list[Item]:
        """Stored items fetched at or after `since`, newest first (for backtests)."""
        ...

    # watch terms added from chat -------------------------------------------------
    async def chat_terms(self) -> list[ChatTerm]: ...

    async def add_chat_term(self, term: ChatTerm, added_by: str, now: datetime) -> bool: ...

    async def remove_chat_term(self, entity_id: str, term: str) -> bool: ...

    async def remove_file_term(
        self, entity_id: str, term: str, removed_by: str, now: datetime
    ) -> None:
        """Stop a watchlist-file alias from matching (the file itself is not edited)."""
        ...

    async def removed_terms(self) -> list[tuple[str, str]]: ...

    # feeds added from chat ------------------------------------------------------
    async def add_feed(self, url: str, name: str, added_by: str, now: datetime) -> bool: ...

    async def remove_feed(self, url: str) -> bool: ...

    async def added_feeds(self) -> list[tuple[str, str]]: ...

    # mutes ------------------------------------------------------------------------
    async def set_mute(
        self, entity_id: str, until: datetime | None, muted_by: str, now: datetime
    ) -> None: ...

    async def clear_mute(self, entity_id: str) -> bool: ...

    async def mutes(self) -> dict[str, datetime | None]: ...

    # housekeeping --------------------------------------------------------------
    async def prune(self, now: datetime, retention_seconds: float) -> int: ...
