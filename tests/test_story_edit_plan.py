"""The story-edit query starts from the story's items, not from every sent alert.

`stale_story_posts` counts the feeds of a story's delivered alerts per story post.
Driven from the channel's sent alerts it cost O(sent alerts) per post: at 10,000
feeds the first poll's drain edited about 7 story messages a second. The plan
SQLite picks is asserted here (no timings): the subquery must use items_story.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from bot.storage.open import open_storage


async def test_stale_story_posts_reads_a_storys_items_by_index(tmp_path: Path) -> None:
    database = tmp_path / "bot.sqlite3"
    seen: list[str] = []
    async with open_storage(database) as storage:
        db = storage._db  # type: ignore[attr-defined]
        await db.set_trace_callback(seen.append)
        assert await storage.stale_story_posts("jsonl", "alerts", 50) == []
        await db.set_trace_callback(None)
    query = next(sql for sql in seen if "FROM story_posts" in sql)
    plan = sqlite3.connect(database).execute(f"EXPLAIN QUERY PLAN {query}").fetchall()
    details = [row[-1] for row in plan]
    assert any("items_story" in d for d in details), details
    assert not any("outbox_channel_pending" in d for d in details), details
