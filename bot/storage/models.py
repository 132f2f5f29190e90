"""The plain data the storage interface takes and returns beyond bot/models.py.

Defined at the bottom layer (storage), so the protocols never import from the
stages above them; the pipeline imports these from here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.models import Item, Match


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
    # What bot/stories/features.py made of it, kept so start-up need not read it again.
    story_features: str | None = None


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
    features: str | None = None  # as stored with it (bot/stories/features.py)
    # Read without its text, matches and features (`story_members_since(dated_before=)`):
    # only its key, story and dates, all that a rebuild passing it over needs.
    bare: bool = False


#: Called with the items that look new (outside the write transaction, so
#: matching never blocks other writers); pure.
Planner = Callable[[list[Item]], list[IngestPlan]]
