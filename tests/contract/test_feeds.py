"""Contract: feeds — poll state, feeds added from chat or imported, feed activity."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.models import FeedState
from bot.storage.base import Storage
from bot.storage.feeds import FeedStore
from bot.storage.models import AddedFeed
from tests.contract.conftest import FEED, NOW, ingest, item


async def test_feed_state_round_trips_and_saving_twice_is_one_feed(store: FeedStore) -> None:
    state = FeedState(
        FEED,
        "https://moved.example/feed.xml",
        etag='"abc"',
        last_modified="Tue, 24 Nov 2026 10:00:00 GMT",
        next_poll_at=NOW + timedelta(minutes=5),
        last_success_at=NOW,
        error_count=0,
        first_polled=True,
    )
    await store.save_feed_state(state)
    await store.save_feed_state(state)
    assert await store.feed_states() == {FEED: state}
    failing = replace(state, last_error="HTTP 503", last_error_at=NOW, error_count=2)
    await store.save_feed_state(failing)
    assert (await store.feed_states())[FEED] == failing


async def test_items_seen_is_counted_by_the_store(store: Storage) -> None:
    await ingest(store, [item(1), item(2)])
    await ingest(store, [item(2), item(3)])
    # A stale in-memory state (items_seen 0) never lowers the stored count.
    await store.save_feed_state(FeedState(FEED, FEED))
    assert (await store.feed_states())[FEED].items_seen == 3


async def test_added_feeds_keep_their_order_and_are_added_once(store: FeedStore) -> None:
    assert await store.add_feed("https://a.example/rss", "A", "ana", NOW)
    assert await store.add_feed("https://b.example/rss", "B", "bo", NOW + timedelta(seconds=1))
    assert not await store.add_feed("https://a.example/rss", "A again", "bo", NOW)
    imported = AddedFeed("https://c.example/rss", "C", "operator", "operator", "all", "https://c")
    assert await store.import_feed(imported, NOW + timedelta(seconds=2))
    assert not await store.import_feed(imported, NOW + timedelta(seconds=3))
    assert await store.added_feeds() == [
        ("https://a.example/rss", "A"),
        ("https://b.example/rss", "B"),
        ("https://c.example/rss", "C"),
    ]
    records = await store.added_feed_records()
    assert records[0] == AddedFeed("https://a.example/rss", "A", "ana")
    assert records[2] == imported and records[2].trusted
    assert await store.remove_feed("https://a.example/rss")
    assert not await store.remove_feed("https://a.example/rss")
    assert [url for url, _ in await store.added_feeds()] == [
        "https://b.example/rss",
        "https://c.example/rss",
    ]


async def test_feed_activity_follows_the_polls_that_brought_news(store: Storage) -> None:
    await ingest(store, [item(1)])
    assert (await store.feed_activity())[FEED] == (NOW, None)  # no gap yet
    await ingest(store, [item(2)], NOW + timedelta(hours=1))
    await ingest(store, [item(2)], NOW + timedelta(hours=2))  # nothing new: no change
    assert (await store.feed_activity())[FEED] == (NOW + timedelta(hours=1), 3600.0)
    await ingest(store, [item(3)], NOW + timedelta(hours=3))
    last, gap = (await store.feed_activity())[FEED]
    assert last == NOW + timedelta(hours=3)
    assert gap is not None and abs(gap - (0.7 * 3600 + 0.3 * 7200)) < 1e-6


async def test_the_heartbeat_can_be_started_advanced_and_stopped(store: FeedStore) -> None:
    await store.start_heartbeat(1234, "host", NOW, 300.0)
    await store.beat(NOW + timedelta(minutes=5))
    await store.stop_heartbeat(NOW + timedelta(minutes=6))
    await store.start_heartbeat(5678, "host", NOW + timedelta(minutes=7), 300.0)  # a new run
