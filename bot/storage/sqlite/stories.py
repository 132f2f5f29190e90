"""Stories: their thread posts per channel and their members."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.models import (
    StoryRecord,
    StoryUpdate,
)
from bot.storage.models import StoryMember
from bot.storage.rows import bare_before, story_member_from_row, story_members_sql
from bot.storage.sqlite.connection import SQLiteConnection
from bot.storage.sqlite.rows import (
    ALERT_COLUMNS,
    alert_from_row,
    dt,
    matches_from,
)

# The story members of a time window, by the index of only the items in a story
# (migration 13). Without table statistics, SQLite's planner reads "fetched_at >= ?
# ... ORDER BY id" as a scan of every item in id order (no sort): at a million items
# the story members of a restart took 0.84 s instead of 0.09, and a digest's stories
# 0.33 s instead of 0.04, reading all history. Through items_fetched_at it read every
# item of the window to keep the 1 in 20 in a story: at 1,000 feeds 11,500 pages and
# 16-18 ms for a start-up's story members, 6.4 ms by this index (bench/pipeline.py's
# database after its first two cycles). tests/test_sqlite_window_plans.py checks the
# plans; the statements must say "story IS NOT NULL" for SQLite to use the index.
BY_STORY_FETCHED_AT = "INDEXED BY items_story_fetched_at"


class StoryRepository(SQLiteConnection):
    """Stories and their thread posts (bot/storage/stories.py)."""

    # -- story threads -------------------------------------------------------------

    async def stale_story_posts(
        self, platform: str, channel_id: str, limit: int
    ) -> list[StoryUpdate]:
        """Story parents in a channel whose message is behind the story's growth there.

        Each carries the feeds of the story's items delivered in the channel;
        bot/stories/rules.py counts the sources from them. The CROSS JOIN makes
        SQLite start from the story's items (index items_story), not from every
        sent alert of the channel: 32 ms a story post with 25,000 sent alerts
        before, 0.02 ms after, so a first poll of 10,000 feeds no longer spends
        minutes editing story messages.
        """
        sql = f"""
            SELECT {ALERT_COLUMNS}, sp.message_id AS parent_message, sp.sources AS revision,
                sp.last_update, (
                    SELECT json_group_array(DISTINCT mi.feed_url) FROM items mi
                    CROSS JOIN outbox mo ON mo.item_id = mi.id
                    WHERE mi.story = sp.story AND mo.platform = sp.platform
                        AND mo.channel_id = sp.channel_id AND mo.status = 'sent'
                ) AS feeds
            FROM story_posts sp JOIN outbox o ON o.id = sp.outbox_id
            JOIN items i ON i.id = o.item_id
            WHERE sp.platform = ? AND sp.channel_id = ? AND sp.shown < sp.sources
            ORDER BY sp.last_update LIMIT ?
        """
        rows = await self._rows(sql, (platform, channel_id, limit))
        return [
            StoryUpdate(
                parent=alert_from_row(r),
                message_id=r["parent_message"],
                sources=0,  # decided by bot/stories/rules.py from delivered_feeds
                last_update=dt(r["last_update"]) or datetime.now(UTC),
                revision=r["revision"],
                delivered_feeds=frozenset(json.loads(r["feeds"])),
            )
            for r in rows
        ]

    async def mark_story_shown(
        self, story: str, platform: str, channel_id: str, shown: int
    ) -> None:
        async with self._transaction() as db:
            await db.execute(
                "UPDATE story_posts SET shown = max(shown, ?) WHERE story = ? AND platform = ? "
                "AND channel_id = ?",
                (shown, story, platform, channel_id),
            )

    async def story_members_since(
        self, since: datetime, dated_before: datetime | None = None
    ) -> list[StoryMember]:
        """Items that belong to stories, fetched at or after `since`, oldest first, with
        their stored story features: for rebuilding the story index at start-up. Those
        dated before `dated_before` may come back bare, or not at all (`story_members_sql`)."""
        sql = story_members_sql(
            "?2", "?1", f"items {BY_STORY_FETCHED_AT}", dated_before is not None
        )
        rows = await self._rows(sql, (bare_before(dated_before), since.timestamp()))
        return [story_member_from_row(r, since) for r in rows]

    async def stories_since(self, since: datetime) -> list[StoryRecord]:
        """Stories with items fetched since `since`, with those items' feeds and entities."""
        sql = (
            "SELECT s.key, s.title, s.url, s.first_seen, i.feed_url, i.matches "
            f"FROM items AS i {BY_STORY_FETCHED_AT} JOIN stories s ON s.key = i.story "
            "WHERE i.story IS NOT NULL AND i.fetched_at >= ? ORDER BY i.id"
        )
        rows = await self._rows(sql, (since.timestamp(),))
        grouped: dict[str, tuple[Any, set[str], list[int], set[str]]] = {}
        for r in rows:
            _, feeds, count, entities = grouped.setdefault(r[0], (r, set(), [0], set()))
            feeds.add(r[4])
            count[0] += 1
            entities.update(m.entity_id for m in matches_from(r[5]))
        return [
            StoryRecord(
                key=key,
                title=first[1],
                url=first[2],
                first_seen=dt(first[3]) or since,
                feeds=frozenset(feeds),
                items=count[0],
                entity_ids=frozenset(entities),
            )
            for key, (first, feeds, count, entities) in grouped.items()
        ]
