"""Queue alerts straight into a real SQLite outbox, for delivery tests that skip the feeds."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from bot.chat.jsonl import JsonlSink
from bot.config import ChannelSettings
from bot.dedup import guid_key
from bot.errors import DeliveryError
from bot.models import Alert, FeedState, FloodSummary, Item, Match, StoryUpdate
from bot.storage.base import Delivery, IngestPlan
from bot.storage.sqlite import SQLiteStorage

FEED = "https://news.example/feed.xml"


def match(entity: str = "iskp", name: str = "ISKP", severity: str = "medium") -> Match:
    return Match(entity, name, "group", severity, name, name, 100.0)


async def queue(
    storage: SQLiteStorage,
    channel: ChannelSettings,
    now: datetime,
    titles: list[str],
    *,
    story: str | None = None,
    matches: tuple[Match, ...] = (),
    feed: str = FEED,
) -> list[str]:
    """Store one item per title with an alert for `channel`; return the items' keys.

    With `story`, every item joins that story (the first one's key when
    story == "first"); without, each item is its own story.
    """
    items = [
        Item(feed, f"{feed}#{title}", f"https://news.example/{quote(title)}", title, "", now)
        for title in titles
    ]
    keys = [guid_key(i) for i in items]
    plans = []
    for it, key in zip(items, keys, strict=True):
        ms = matches or (match(),)
        own = keys[0] if story == "first" else (story or key)
        plans.append(IngestPlan(it, ms, (Delivery(channel.platform, channel.id, ms),), own))
    state = FeedState(feed, feed)
    await storage.ingest(state, items, now, lambda fresh: [p for p in plans if p.item in fresh])
    return keys


class RecordingJsonlSink(JsonlSink):
    """The real JSONL sink, with the calls recorded and failures injected at the port."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered: list[Alert] = []
        self.summaries: list[FloodSummary] = []
        self.updates: list[StoryUpdate] = []
        self.fail_deliver: list[DeliveryError] = []
        self.fail_summary: list[DeliveryError] = []
        self.fail_update: list[DeliveryError] = []

    async def deliver(self, alert: Alert) -> str:
        self.delivered.append(alert)
        if self.fail_deliver:
            raise self.fail_deliver.pop(0)
        return await super().deliver(alert)

    async def deliver_summary(self, summary: FloodSummary) -> str:
        self.summaries.append(summary)
        if self.fail_summary:
            raise self.fail_summary.pop(0)
        return await super().deliver_summary(summary)

    async def update_story(self, update: StoryUpdate) -> None:
        self.updates.append(update)
        if self.fail_update:
            raise self.fail_update.pop(0)
        await super().update_story(update)


def records(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)
