"""Contract: items — dedup by stored keys, idempotent ingest, concurrent writers, retention."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from bot.models import FeedState, Item
from bot.storage.base import IngestPlan
from bot.storage.items import ItemStore
from tests.contract.conftest import FEED, NOW, Engine, alert_to, ingest, item


async def test_the_same_ingest_twice_stores_once(store: ItemStore) -> None:
    batch = [item(1), item(2), item(3)]
    assert await ingest(store, batch, plan=alert_to()) == (3, 0, 3)
    assert await ingest(store, batch, plan=alert_to()) == (0, 3, 0)
    assert [i.guid for i in await store.items_since(NOW)] == [f"{FEED}#g{n}" for n in (3, 2, 1)]


async def test_one_story_twice_in_a_batch_counts_once(store: ItemStore) -> None:
    same_url = Item(FEED, "other-guid", "https://news.example/1?utm_source=x", "Unrelated words")
    assert await ingest(store, [item(1), same_url, item(1)]) == (1, 2, 0)


async def test_a_title_repeats_only_within_the_window(store: ItemStore) -> None:
    title = "The same headline on another wire"
    await ingest(store, [item(1, title=title)])
    state = FeedState(FEED, FEED)
    inside = await store.ingest(
        state, [item(2, title=title)], NOW + timedelta(hours=1), lambda i: [], dedup_window=7200
    )
    # Seen again inside the window: the window slides from this sighting...
    later = await store.ingest(
        state,
        [item(3, title=title)],
        NOW + timedelta(hours=2, minutes=30),
        lambda items: [IngestPlan(i) for i in items],
        dedup_window=7200,
    )
    # ...and only once it has passed since the last sighting is the title new.
    after = await store.ingest(
        state,
        [item(4, title=title)],
        NOW + timedelta(hours=5),
        lambda items: [IngestPlan(i) for i in items],
        dedup_window=7200,
    )
    assert (inside.new_items, later.new_items, after.new_items) == (0, 0, 1)


async def test_a_repeat_remembers_its_new_keys_and_keeps_the_stored_ones(store: ItemStore) -> None:
    """A repeat (same guid) under a new URL teaches that URL; the keys already stored
    keep their first sighting, so retention still counts from it."""
    await ingest(store, [item(1)])
    moved = Item(
        FEED, f"{FEED}#g1", "https://news.example/moved", "Story number 1 reported here today"
    )
    assert await ingest(store, [moved], NOW + timedelta(days=1)) == (0, 1, 0)
    elsewhere = Item("https://other.example/feed", "x", "https://news.example/moved", "Other words")
    assert await ingest(
        store, [elsewhere], NOW + timedelta(days=1), feed="https://other.example/feed"
    ) == (0, 1, 0)
    day = 86400.0
    # The guid and first URL keys are from NOW: pruned at NOW + 30.5 days, the moved URL not.
    assert await store.prune(NOW + timedelta(days=30, hours=12), retention_seconds=30 * day) > 0
    later = NOW + timedelta(days=30, hours=12)
    assert await ingest(store, [item(1)], later) == (1, 0, 0)
    assert await ingest(store, [elsewhere], later, feed="https://other.example/feed") == (0, 1, 0)


async def test_items_since_is_newest_first(store: ItemStore) -> None:
    await ingest(store, [item(1)])
    await ingest(store, [item(2)], NOW + timedelta(minutes=1))
    await ingest(store, [item(3), item(4)], NOW + timedelta(minutes=2))
    got = [i.guid.rsplit("#", 1)[1] for i in await store.items_since(NOW)]
    assert got == ["g4", "g3", "g2", "g1"]
    assert [i.guid[-2:] for i in await store.items_since(NOW + timedelta(minutes=1))] == [
        "g4",
        "g3",
        "g2",
    ]
    assert await store.first_item_at() == NOW


async def test_a_failed_plan_stores_nothing(store: ItemStore) -> None:
    def boom(items: list[Item]) -> list[IngestPlan]:
        raise RuntimeError("planner failed")

    with pytest.raises(RuntimeError):
        await store.ingest(FeedState(FEED, FEED), [item(1)], NOW, boom)
    assert await store.items_since(NOW) == []
    assert await ingest(store, [item(1)]) == (1, 0, 0)


async def test_retention_forgets_old_items_but_keeps_undelivered_ones(store: ItemStore) -> None:
    await ingest(store, [item(1)])  # no alert
    await ingest(store, [item(2)], plan=alert_to())  # a pending alert
    day = 86400.0
    assert await store.prune(NOW + timedelta(days=1), retention_seconds=30 * day) == 0
    assert await store.prune(NOW + timedelta(days=31), retention_seconds=30 * day) > 0
    assert [i.guid[-2:] for i in await store.items_since(NOW)] == ["g2"]
    # The pruned item's keys are forgotten: it is new again.
    assert await ingest(store, [item(1)], NOW + timedelta(days=31)) == (1, 0, 0)
    assert await store.prune(NOW + timedelta(days=31), retention_seconds=30 * day) == 0


async def test_concurrent_writers_on_one_database_store_each_item_once(
    storage_engine: Engine, database: Path | str
) -> None:
    """Two storages (two processes' connections) ingest the same items at once: every
    item is stored exactly once, and neither writer fails on the other's lock."""
    batches = [[item(n) for n in range(k, k + 20)] for k in range(0, 100, 20)]
    async with storage_engine.open(database) as a, storage_engine.open(database) as b:

        async def writer(store: ItemStore, feed: str) -> int:
            stored = 0
            for batch in batches:
                r = await store.ingest(FeedState(feed, feed), batch, NOW, alert_to())
                stored += r.new_items
            return stored

        first, second = await asyncio.gather(writer(a, FEED), writer(b, "https://b.example/"))
        assert first + second == 100
        assert len(await a.items_since(NOW)) == 100
        assert len(await b.items_since(NOW)) == 100
        assert await a.pending_count() == 100
