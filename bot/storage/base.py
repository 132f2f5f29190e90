"""The storage interface the pipeline talks to.

Everything the bot remembers goes through these methods, so a second backend
(PostgreSQL for several instances) is a new class, not a rewrite. Times are
timezone-aware datetimes here; each backend picks its own representation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from bot.digest.model import DigestJob, StoryRecord
from bot.matching.watchlists import ChatTerm
from bot.models import (
    Alert,
    DeliveryProblem,
    FeedState,
    FloodSummary,
    Item,
    Match,
    StoryUpdate,
)


@dataclass(frozen=True, slots=True)
class AddedFeed:
    """A feed added outside bot.toml: from chat, or imported by the operator.

    `source` is "chat" (untrusted: fetched through the address guard) or
    "operator" (`feeds import` on the bot's own machine: trusted like bot.toml,
    so loopback and private addresses work). `first_poll` is written as in
    bot.toml ("skip", "all" or an age such as "24h").
    """

    url: str
    name: str
    added_by: str
    source: str = "chat"
    first_poll: str = "skip"
    html_url: str | None = None

    @property
    def trusted(self) -> bool:
        return self.source == "operator"


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
    story: str | None = None  # the story it continues (or starts: then its own key)


@dataclass(frozen=True, slots=True)
class IngestResult:
    new_items: int = 0
    duplicates: int = 0
    alerts: int = 0
    stored: tuple[IngestPlan, ...] = ()  # the plans that were recorded


@dataclass(frozen=True, slots=True)
class StoryMember:
    """A stored item that belongs to a story."""

    item: Item
    fetched_at: datetime
    story: str
    entity_ids: frozenset[str]


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

    async def claim_alert(self, alert_id: int, now: datetime) -> None:
        """Commit that a try is about to leave, before the request (see Alert.claimed)."""
        ...

    async def mark_sent(
        self, alert_id: int, message_id: str, now: datetime, reply_to: str | None = None
    ) -> None:
        """Record a delivery; a top-level alert of a story becomes the story's parent in its
        channel, a reply (`reply_to` set) makes the story one source bigger there."""
        ...

    async def mark_retry(
        self, alert_id: int, error: str, next_attempt_at: datetime, now: datetime
    ) -> None: ...

    async def mark_dead(self, alert_id: int, error: str, now: datetime) -> None: ...

    async def pending_count(self) -> int: ...

    async def outbox_backlog(self) -> tuple[int, datetime | None]:
        """Pending alerts and when the oldest was queued (for metrics)."""
        ...

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

    # flood control ------------------------------------------------------------
    async def flood_window(self, platform: str, channel_id: str) -> tuple[datetime | None, int]:
        """When the channel's flood window started, and its top-level posts since then."""
        ...

    async def set_flood_window(
        self, platform: str, channel_id: str, start: datetime | None
    ) -> None: ...

    async def hold_alert(self, alert_id: int, now: datetime) -> None: ...

    async def held_count(self, platform: str, channel_id: str) -> int: ...

    async def create_summary(
        self,
        platform: str,
        channel_id: str,
        window_start: datetime,
        window_end: datetime,
        now: datetime,
    ) -> int | None:
        """Collect held alerts into one summary and close the window; None if none held."""
        ...

    async def next_summary(
        self, platform: str, channel_id: str
    ) -> tuple[FloodSummary, int, datetime] | None:
        """The oldest undelivered summary: (summary, attempts so far, when it is due)."""
        ...

    async def mark_summary(
        self,
        summary_id: int,
        status: str,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...

    # stories --------------------------------------------------------------------
    async def stale_story_posts(self, platform: str, channel_id: str) -> list[StoryUpdate]:
        """Story parents whose message shows fewer sources than the story has."""
        ...

    async def mark_story_shown(
        self, story: str, platform: str, channel_id: str, shown: int
    ) -> None: ...

    async def story_members_since(self, since: datetime) -> list[StoryMember]: ...

    # digests ---------------------------------------------------------------------
    async def mentions_since(self, since: datetime) -> list[tuple[str, datetime]]: ...

    async def stories_since(self, since: datetime) -> list[StoryRecord]: ...

    async def entity_first_seen(self) -> dict[str, datetime]: ...

    async def first_item_at(self) -> datetime | None: ...

    async def feed_activity(self) -> dict[str, tuple[datetime | None, float | None]]: ...

    async def digest_status(self, channel: str, day: date) -> str | None: ...

    async def last_digest_day(self, channel: str) -> date | None: ...

    async def queue_digest(
        self, channel: str, day: date, period_end: datetime, timezone: str, now: datetime
    ) -> None:
        """Queue a day's digest for the channel's outbox worker; a day queued stays queued."""
        ...

    async def next_digest_job(self, channel: str) -> DigestJob | None:
        """The channel's oldest queued digest (due or not)."""
        ...

    async def claim_digest(self, channel: str, day: date, now: datetime) -> None: ...

    async def mark_digest(
        self,
        channel: str,
        day: date,
        status: str,
        now: datetime,
        *,
        message_id: str | None = None,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
    ) -> None: ...

    async def delivery_problems(self, since: datetime) -> list[DeliveryProblem]:
        """Broken channels, and digests and alerts given up on since `since`."""
        ...

    async def record_digest(
        self, channel: str, day: date, status: str, now: datetime, message_id: str | None = None
    ) -> None: ...

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

    async def import_feed(self, feed: AddedFeed, now: datetime) -> bool:
        """Store an operator-imported feed; False when the URL is already stored."""
        ...

    async def added_feed_records(self) -> list[AddedFeed]: ...

    # mutes ------------------------------------------------------------------------
    async def set_mute(
        self, entity_id: str, until: datetime | None, muted_by: str, now: datetime
    ) -> None: ...

    async def clear_mute(self, entity_id: str) -> bool: ...

    async def mutes(self) -> dict[str, datetime | None]: ...

    # housekeeping --------------------------------------------------------------
    async def prune(self, now: datetime, retention_seconds: float) -> int: ...
