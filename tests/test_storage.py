"""SQLite storage: schema versioning, refusing foreign files, pruning."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.errors import StorageError
from bot.matching.watchlists import ChatTerm
from bot.models import FeedState, Item
from bot.storage.base import IngestPlan
from bot.storage.sqlite import APPLICATION_ID, MIGRATIONS, open_storage

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


async def test_new_database_gets_latest_schema(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with open_storage(path):
        pass
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert con.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    async with open_storage(path):  # reopening migrates nothing and works
        pass


async def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE notes (x)")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="another program"):
        async with open_storage(path):
            pass


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with open_storage(path):
        pass
    con = sqlite3.connect(path)
    con.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    con.close()
    with pytest.raises(StorageError, match="newer than this bot"):
        async with open_storage(path):
            pass


async def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.sqlite3"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="not a usable SQLite database"):
        async with open_storage(path):
            pass


def _item(n: int, title: str | None = None) -> Item:
    return Item(
        "feed", f"g{n}", f"https://example.org/{n}", title or f"Story number {n} here today"
    )


async def test_ingest_dedups_and_title_window(tmp_path: Path) -> None:
    state = FeedState("feed", "feed")
    keep = lambda items: [IngestPlan(i) for i in items]  # noqa: E731
    async with open_storage(tmp_path / "db.sqlite3") as s:
        r = await s.ingest(state, [_item(1), _item(2), _item(1)], NOW, keep)
        assert (r.new_items, r.duplicates) == (2, 1)
        r = await s.ingest(state, [_item(1), _item(2)], NOW, keep)
        assert (r.new_items, r.duplicates) == (0, 2)
        # Same title, new guid and URL: a repeat inside the window...
        same_title = Item("feed", "g9", "https://example.org/9", "Story number 1 here today")
        r = await s.ingest(state, [same_title], NOW + timedelta(hours=1), keep, dedup_window=7200)
        assert r.new_items == 0
        # ...but new once the window has passed since it was last seen.
        again = Item("feed", "g10", "https://example.org/10", "Story number 1 here today")
        r = await s.ingest(state, [again], NOW + timedelta(hours=5), keep, dedup_window=7200)
        assert r.new_items == 1
        saved = (await s.feed_states())["feed"]
        assert saved.items_seen == 3


async def test_failed_plan_rolls_back_everything(tmp_path: Path) -> None:
    state = FeedState("feed", "feed", etag='"v1"')

    def boom(items: list[Item]) -> list[IngestPlan]:
        raise RuntimeError("crash inside the transaction")

    async with open_storage(tmp_path / "db.sqlite3") as s:
        with pytest.raises(RuntimeError):
            await s.ingest(state, [_item(1)], NOW, boom)
        assert await s.feed_states() == {}  # the ETag was not saved either
        r = await s.ingest(state, [_item(1)], NOW, lambda items: [IngestPlan(i) for i in items])
        assert r.new_items == 1


async def test_prune_forgets_old_keys(tmp_path: Path) -> None:
    state = FeedState("feed", "feed")
    keep = lambda items: [IngestPlan(i) for i in items]  # noqa: E731
    async with open_storage(tmp_path / "db.sqlite3") as s:
        await s.ingest(state, [_item(1)], NOW, keep)
        assert await s.prune(NOW + timedelta(days=1), retention_seconds=30 * 86400) == 0
        assert await s.prune(NOW + timedelta(days=31), retention_seconds=30 * 86400) > 0
        r = await s.ingest(state, [_item(1)], NOW + timedelta(days=31), keep)
        assert r.new_items == 1


async def test_chat_terms_persist(tmp_path: Path) -> None:
    async with open_storage(tmp_path / "db.sqlite3") as s:
        assert await s.add_chat_term(ChatTerm("iskp", "Wilayat Khurasan", "group"), "u1", NOW)
        assert not await s.add_chat_term(ChatTerm("iskp", "Wilayat Khurasan", "group"), "u1", NOW)
    async with open_storage(tmp_path / "db.sqlite3") as s:
        assert await s.chat_terms() == [ChatTerm("iskp", "Wilayat Khurasan", "group")]


async def test_migration_5_queues_a_digest_left_sending_by_version_4(tmp_path: Path) -> None:
    """A crash mid-digest under the old scheme becomes a queued outbox job that looks first."""
    path = tmp_path / "db.sqlite3"
    con = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:4], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version = {number}")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(
        "INSERT INTO digests (channel, day, status, at) VALUES "
        "('slack:C1', '2026-11-24', 'sent', ?), ('slack:C1', '2026-11-25', 'sending', ?)",
        (NOW.timestamp() - 86400, NOW.timestamp()),
    )
    con.commit()
    con.close()
    async with open_storage(path) as storage:
        job = await storage.next_digest_job("slack:C1")
        assert job is not None and job.day.isoformat() == "2026-11-25"
        assert job.claimed and job.period_end == NOW and job.due_at == NOW
        assert await storage.digest_status("slack:C1", job.day - timedelta(days=1)) == "sent"


async def test_migration_8_keeps_chat_feeds_untrusted_and_stores_imported_ones(
    tmp_path: Path,
) -> None:
    """Feeds added from chat before `feeds import` existed stay behind the address guard."""
    from bot.storage.base import AddedFeed

    path = tmp_path / "db.sqlite3"
    con = sqlite3.connect(path)
    for number, script in enumerate(MIGRATIONS[:6], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version = {number}")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(
        "INSERT INTO added_feeds (url, name, added_by, added_at) "
        "VALUES ('https://chat.example/feed', 'Chat', 'U1', 0)"
    )
    con.commit()
    con.close()
    async with open_storage(path) as s:
        imported = AddedFeed(
            "http://127.0.0.1:8080/f", "Lab", "operator:me", "operator", "24h", "http://lab/"
        )
        assert await s.import_feed(imported, NOW)
        assert not await s.import_feed(imported, NOW)  # a URL is stored once
        records = await s.added_feed_records()
    assert records == [
        AddedFeed("https://chat.example/feed", "Chat", "U1", "chat", "skip", None),
        imported,
    ]
    assert [r.trusted for r in records] == [False, True]
