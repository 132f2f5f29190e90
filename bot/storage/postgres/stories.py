"""Stories on PostgreSQL: their thread posts per channel and their members.

The same behaviour as bot/storage/sqlite/stories.py (the contract suite runs both).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.models import StoryRecord, StoryUpdate
from bot.storage.models import StoryMember
from bot.storage.postgres.connection import PostgresConnection
from bot.storage.rows import (
    ALERT_COLUMNS,
    alert_from_row,
    bare_before,
    dt,
    matches_from,
    story_member_from_row,
    story_members_sql,
)


class StoryRepository(PostgresConnection):
    """Stories and their thread posts (bot/storage/stories.py)."""

    async def stale_story_posts(
        self, platform: str, channel_id: str, limit: int
    ) -> list[StoryUpdate]:
        """Story parents in a channel whose message is behind the story's growth there.

        Each carries the feeds of the story's items delivered in the channel;
        bot/stories/rules.py counts the sources from them.
        """
        sql = f"""
            SELECT {ALERT_COLUMNS}, sp.message_id AS parent_message, sp.sources AS revision,
                sp.last_update, (
                    SELECT array_agg(DISTINCT mi.feed_url) FROM outbox mo
                    JOIN items mi ON mi.id = mo.item_id
                    WHERE mi.story = sp.story AND mo.platform = sp.platform
                        AND mo.channel_id = sp.channel_id AND mo.status = 'sent'
                ) AS feeds
            FROM story_posts sp JOIN outbox o ON o.id = sp.outbox_id
            JOIN items i ON i.id = o.item_id
            WHERE sp.platform = $1 AND sp.channel_id = $2 AND sp.shown < sp.sources
            ORDER BY sp.last_update, sp.outbox_id LIMIT $3
        """
        rows = await self._fetch(sql, platform, channel_id, limit)
        return [
            StoryUpdate(
                parent=alert_from_row(r),
                message_id=r["parent_message"],
                sources=0,  # decided by bot/stories/rules.py from delivered_feeds
                last_update=dt(r["last_update"]) or datetime.now(UTC),
                revision=r["revision"],
                delivered_feeds=frozenset(r["feeds"] or ()),
            )
            for r in rows
        ]

    async def mark_story_shown(
        self, story: str, platform: str, channel_id: str, shown: int
    ) -> None:
        """Never lowers `shown`: an older edit finishing late cannot undo a newer one."""
        await self._execute(
            "UPDATE story_posts SET shown = greatest(shown, $1) WHERE story = $2 "
            "AND platform = $3 AND channel_id = $4",
            shown,
            story,
            platform,
            channel_id,
        )

    async def story_members_since(
        self, since: datetime, dated_before: datetime | None = None
    ) -> list[StoryMember]:
        """Items that belong to stories, fetched at or after `since`, oldest first, with
        their stored story features: for rebuilding the story index at start-up. Those
        dated before `dated_before` may come back bare, or not at all (`story_members_sql`)."""
        rows = await self._fetch(
            story_members_sql("$2", "$1", may_be_bare=dated_before is not None),
            bare_before(dated_before),
            since.timestamp(),
        )
        return [story_member_from_row(r, since) for r in rows]

    async def stories_since(self, since: datetime) -> list[StoryRecord]:
        """Stories with items fetched since `since`, with those items' feeds and entities."""
        rows = await self._fetch(
            "SELECT s.key, s.title, s.url, s.first_seen, i.feed_url, i.matches FROM items i "
            "JOIN stories s ON s.key = i.story WHERE i.story IS NOT NULL AND i.fetched_at >= $1 "
            "ORDER BY i.id",
            since.timestamp(),
        )
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
