"""SQLite reads a time window's story members through the index of the items in a
story by fetch time (migration 13), not all history nor every item of the window.

Why: without table statistics SQLite's planner reads "fetched_at >= ? ... ORDER BY
id" as a scan of every item in id order, which spares it a sort. A restart's story
rebuild and a digest's stories then read every item ever stored: at a million items
0.84 s and 0.33 s instead of 0.09 and 0.04 (bench/startup.py's database); through the
plain fetched_at index they read every item of the window, ~20 times the members.
The plans of the statements the storage really runs are checked here, on a real
database.
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


async def test_story_members_and_stories_of_a_window_use_the_story_members_index(
    tmp_path: Path,
) -> None:
    db = tmp_path / "bot.sqlite3"
    statements: list[str] = []
    async with open_storage(db) as store:
        # Every other item in a story: the others must not come back as members.
        story = alert_to(story=lambda i: "s1" if int(i.guid.rsplit("g", 1)[1]) % 2 else None)
        await ingest(store, [item(n) for n in range(60)], plan=story)
        await store._db.set_trace_callback(statements.append)
        members = await store.story_members_since(NOW - timedelta(hours=1), NOW)
        stories = await store.stories_since(NOW - timedelta(hours=1))
        await store._db.set_trace_callback(None)
    assert len(members) == 30 and {m.story for m in members} == {"s1"}
    assert [(s.key, s.items) for s in stories] == [("s1", 30)]
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "items" in s]
    assert len(reads) == 2
    for sql in reads:
        steps = plan(db, sql)
        assert any("USING INDEX items_story_fetched_at" in step for step in steps), steps
        assert not any(step.startswith("SCAN") for step in steps), steps
