"""SQLite reads a time window of items through its fetched_at index, not all history.

Why: without table statistics SQLite's planner reads "fetched_at >= ? ... ORDER BY
id" as a scan of every item in id order, which spares it a sort. A restart's story
rebuild and a digest's stories then read every item ever stored: at a million items
0.84 s and 0.33 s instead of 0.09 and 0.04 (bench/startup.py's database). The plans
of the statements the storage really runs are checked here, on a real database.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from bot.storage.sqlite import open_storage
from tests.contract.conftest import NOW, alert_to, ingest, item


def plan(db: Path, sql: str) -> list[str]:
    with sqlite3.connect(db) as con:
        return [row[3] for row in con.execute(f"EXPLAIN QUERY PLAN {sql}")]


async def test_story_members_and_stories_of_a_window_use_the_fetched_at_index(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.sqlite3"
    statements: list[str] = []
    async with open_storage(db) as store:
        await ingest(store, [item(n) for n in range(30)], plan=alert_to(story=lambda i: "s1"))
        await store._db.set_trace_callback(statements.append)
        members = await store.story_members_since(NOW - timedelta(hours=1), NOW)
        stories = await store.stories_since(NOW - timedelta(hours=1))
        await store._db.set_trace_callback(None)
    assert len(members) == 30 and [s.key for s in stories] == ["s1"]
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "items" in s]
    assert len(reads) == 2
    for sql in reads:
        steps = plan(db, sql)
        assert any("USING INDEX items_fetched_at" in step for step in steps), steps
        assert not any(step.startswith("SCAN") for step in steps), steps
