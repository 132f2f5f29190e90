"""The digest as data: built by bot/digest/content.py, rendered by each sink.

Plain frozen dataclasses, so the content is decided (and tested) once and
every platform only chooses how it looks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from bot.models import DeliveryProblem, Entity

# Re-exported: they live in bot.models because storage loads them and must not import upward.
from bot.models import DigestJob as DigestJob
from bot.models import StoryRecord as StoryRecord


@dataclass(frozen=True, slots=True)
class EntityCount:
    """Mentions of one entity in the digest's 24 hours, and in the 24 hours before."""

    entity_id: str
    name: str
    kind: str
    mentions: int
    previous: int

    @property
    def change(self) -> int:
        return self.mentions - self.previous


@dataclass(frozen=True, slots=True)
class TopStory:
    """One story of the day, ranked by how many distinct feeds carried it."""

    title: str
    url: str  # the first item's link (http/https only are linked by sinks)
    sources: int  # distinct feeds
    items: int
    entities: tuple[str, ...]  # entity names
    first_seen: datetime


@dataclass(frozen=True, slots=True)
class FeedProblem:
    """A blind spot: a feed that failed or went quiet, so "no news" is not assumed."""

    name: str
    url: str
    problem: str  # one line: "failing for 6h: HTTP 503", "silent for 3d (usually every 4h)"


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything one channel's daily digest says."""

    title: str  # "Daily digest · Wed 25 Nov 2026"
    start: datetime  # aware; the 24 hours covered
    end: datetime
    timezone: str
    counts: tuple[EntityCount, ...]  # grouped by kind (kind order, then mentions desc)
    top_stories: tuple[TopStory, ...]
    new_entities: tuple[EntityCount, ...]  # mentioned for the first time ever
    feed_problems: tuple[FeedProblem, ...]
    chart_png: bytes | None = None  # mentions per day, 7 days, top entities

    @property
    def empty(self) -> bool:
        """No mentions at all in the 24 hours: the digest says so in one line.

        `counts` also lists entities mentioned only the day before (to show a
        drop to zero), so an empty day is "no count above zero", not "no counts".
        """
        return not any(c.mentions for c in self.counts)


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """What the digest needs to know about one feed (from storage and config)."""

    name: str
    url: str
    last_success_at: datetime | None = None
    failing_since: datetime | None = None
    last_error: str | None = None
    disabled_reason: str | None = None
    last_new_at: datetime | None = None  # when the feed last had a new item
    mean_gap: float | None = None  # usual seconds between new items (None: not known yet)


@dataclass(frozen=True, slots=True)
class DigestInput:
    """All a digest is computed from; gathering it is I/O, using it is pure."""

    now: datetime  # aware: the end of the 24 hours
    timezone: str  # IANA name: day boundaries of the chart and the title's date
    entities: Mapping[str, Entity]  # the watchlists in force, by id
    mentions: Sequence[tuple[str, datetime]]  # (entity id, when fetched), last 8 days
    stories: Sequence[StoryRecord]  # stories with items in the last 24 hours
    first_seen: Mapping[str, datetime]  # entity id → its first mention ever
    feeds: Sequence[FeedHealth] = field(default_factory=tuple)
    top_stories: int = 5
    delivery_problems: Sequence[DeliveryProblem] = ()  # given up on since the last digest
