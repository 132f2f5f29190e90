"""The storage interface the pipeline talks to: the union of one protocol per aggregate.

Everything the bot remembers goes through these methods, so a second backend
(PostgreSQL for several instances) is a new set of classes, not a rewrite, and
tests/contract/ checks every engine against the same tests. Each aggregate has
its own small protocol (feeds.py, items.py, stories.py, outbox.py, terms.py,
digests.py); code that needs only one should ask for only that one. Times are
timezone-aware datetimes here; each backend picks its own representation.
Storage holds data: every decision (dedup windows, new entities, source
counts) is a domain function the backends call or are given.
"""

from __future__ import annotations

from typing import Protocol

from bot.storage.coordination import Coordination
from bot.storage.digests import DigestStore
from bot.storage.feeds import FeedStore
from bot.storage.items import ItemStore
from bot.storage.models import (
    AddedFeed,
    Delivery,
    IngestPlan,
    IngestResult,
    Planner,
    StoryMember,
)
from bot.storage.outbox import OutboxStore
from bot.storage.stories import StoryStore
from bot.storage.terms import TermStore

__all__ = [
    "AddedFeed",
    "Coordination",
    "Delivery",
    "DigestStore",
    "FeedStore",
    "IngestPlan",
    "IngestResult",
    "ItemStore",
    "OutboxStore",
    "Planner",
    "Storage",
    "StoryMember",
    "StoryStore",
    "TermStore",
]


class Storage(
    FeedStore,
    ItemStore,
    StoryStore,
    OutboxStore,
    TermStore,
    DigestStore,
    Coordination,
    Protocol,
):
    """Every aggregate at once: what the App opens and hands to the stages."""

    async def close(self) -> None: ...
