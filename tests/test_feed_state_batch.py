"""Feed states saved at the same time are written in one transaction (a group commit).

An unchanged feed (a 304) costs little more than its state write, and a
transaction per feed was most of that (issue 13). Real SQLite; the statements
are observed through sqlite3's trace callback on the storage's own connection.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.models import FeedState
from bot.storage.sqlite import SQLiteStorage, open_storage

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _state(n: int) -> FeedState:
    url = f"https://news{n}.example/feed.xml"
    return FeedState(url, url, etag=f"e{n}", next_poll_at=NOW + timedelta(minutes=n))


async def _trace_commits(store: SQLiteStorage) -> list[str]:
    """The COMMITs the storage's connection runs from now on."""
    commits: list[str] = []
    await store._db.set_trace_callback(
        lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None
    )
    return commits


async def test_fifty_feeds_saved_at_once_are_one_transaction_and_all_stored(
    tmp_path: Path,
) -> None:
    async with open_storage(tmp_path / "bot.sqlite3") as store:
        commits = await _trace_commits(store)
        await asyncio.gather(*(store.save_feed_state(_state(n)) for n in range(50)))
        assert len(commits) == 1
        stored = await store.feed_states()
    assert stored == {s.feed_url: s for s in map(_state, range(50))}


async def test_a_save_waiting_on_a_cancelled_writer_is_still_written(tmp_path: Path) -> None:
    async with open_storage(tmp_path / "bot.sqlite3") as store:
        async with store._lock:  # another write holds the database
            writer = asyncio.create_task(store.save_feed_state(_state(1)))
            waiting = asyncio.create_task(store.save_feed_state(_state(2)))
            for _ in range(3):  # let both start: the second joins the first's batch
                await asyncio.sleep(0)
            writer.cancel()
            for _ in range(3):
                await asyncio.sleep(0)
        await waiting
        assert writer.cancelled()
        assert list(await store.feed_states()) == [_state(2).feed_url]
