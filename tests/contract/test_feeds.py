"""Contract: feeds — poll state, feeds added from chat or imported, feed activity."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.models import FeedState
from bot.storage.base import Storage
from bot.storage.feeds import FeedStore
from bot.storage.models import AddedFeed
from bot.storage_health import STORAGE_FAILURES
from tests.contract.conftest import FEED, NOW, Engine, ingest, item, keep_all
from tests.postgres import run_coroutine


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


# -- leases: which instance polls which feed ------------------------------------------

LEASE = timedelta(seconds=20)


def due(url: str, at: timedelta | None, **kw: object) -> FeedState:
    """A feed due at NOW + `at` (None: never polled)."""
    return FeedState(url, url, next_poll_at=None if at is None else NOW + at, **kw)  # type: ignore[arg-type]


async def claim(
    store: FeedStore, owner: str, at: timedelta = timedelta(), limit: int = 10
) -> list[str]:
    now = NOW + at
    return [s.feed_url for s in await store.claim_due_feeds(owner, now, now + LEASE, limit)]


async def test_due_feeds_are_claimed_never_polled_first_then_longest_due(
    store: FeedStore,
) -> None:
    await store.ensure_feeds(
        [
            due("https://a.example/rss", timedelta(minutes=-10)),
            due("https://b.example/rss", None),
            due("https://c.example/rss", timedelta(minutes=-1)),
            due("https://d.example/rss", timedelta(minutes=5)),  # not due yet
        ]
    )
    assert await claim(store, "one", limit=2) == ["https://b.example/rss", "https://a.example/rss"]
    # The leased ones are not claimed again, by anyone; the one not due never is.
    assert await claim(store, "two") == ["https://c.example/rss"]
    assert await claim(store, "one") == []
    # Five minutes on, every lease has run out (nobody saved): all four are due, in order.
    assert await claim(store, "two", timedelta(minutes=5)) == [
        "https://b.example/rss",
        "https://a.example/rss",
        "https://c.example/rss",
        "https://d.example/rss",
    ]


async def test_a_claim_returns_the_stored_state(store: FeedStore) -> None:
    stored = replace(due(FEED, timedelta(minutes=-1)), etag='"v2"', first_polled=True, items_seen=4)
    await store.save_feed_state(stored)
    (claimed,) = await store.claim_due_feeds("one", NOW, NOW + LEASE, 5)
    assert claimed == stored


async def test_an_expired_lease_is_claimed_by_another_owner(store: FeedStore) -> None:
    await store.ensure_feeds([due(FEED, None)])
    assert await claim(store, "one") == [FEED]
    assert await claim(store, "two", LEASE - timedelta(seconds=1)) == []
    # Its holder died: once the lease ran out, another instance polls it.
    assert await claim(store, "two", LEASE + timedelta(seconds=1)) == [FEED]


async def test_renewing_keeps_the_lease_and_only_the_owner_can(store: FeedStore) -> None:
    await store.ensure_feeds([due(FEED, None)])
    assert await claim(store, "one") == [FEED]
    await store.renew_feed_leases("two", [FEED], NOW + 10 * LEASE)  # not its lease: no effect
    await store.renew_feed_leases("one", [FEED], NOW + 2 * LEASE)
    await store.renew_feed_leases("one", [], NOW + 3 * LEASE)  # nothing to renew
    assert await claim(store, "two", LEASE + timedelta(seconds=1)) == []
    assert await claim(store, "two", 2 * LEASE + timedelta(seconds=1)) == [FEED]


async def test_a_released_feed_is_claimable_at_once_but_only_its_owner_releases(
    store: FeedStore,
) -> None:
    await store.ensure_feeds([due(FEED, None)])
    assert await claim(store, "one") == [FEED]
    await store.release_feed("two", FEED)
    assert await claim(store, "two") == []
    await store.release_feed("one", FEED)
    assert await claim(store, "two") == [FEED]


async def test_saving_the_state_releases_the_lease(store: Storage) -> None:
    await store.ensure_feeds([due(FEED, None), due("https://b.example/rss", None)])
    assert set(await claim(store, "one")) == {FEED, "https://b.example/rss"}
    # The poll failed before fetching anything useful: the state says "due again now".
    await store.save_feed_state(due(FEED, timedelta(), error_count=1))
    # The poll brought items: ingest saves the state too, due in five minutes.
    later = replace(due("https://b.example/rss", timedelta(minutes=5)), first_polled=True)
    await store.ingest(later, [item(1, feed="https://b.example/rss")], NOW, keep_all)
    assert await claim(store, "two") == [FEED]
    await store.release_feed("two", FEED)
    assert await claim(store, "two", timedelta(minutes=5)) == [FEED, "https://b.example/rss"]


async def test_ensure_feeds_keeps_a_stored_state(store: FeedStore) -> None:
    stored = replace(due(FEED, timedelta(minutes=5)), etag='"v1"', first_polled=True)
    await store.save_feed_state(stored)
    await store.ensure_feeds([due(FEED, None), due("https://b.example/rss", None)])
    await store.ensure_feeds([due("https://b.example/rss", None)])  # twice: still one
    states = await store.feed_states()
    assert states[FEED] == stored
    assert states["https://b.example/rss"] == due("https://b.example/rss", None)
    assert await claim(store, "one") == ["https://b.example/rss"]


async def test_a_disabled_feed_is_never_claimed(store: FeedStore) -> None:
    await store.ensure_feeds(
        [due(FEED, None, disabled_reason="HTTP 410 Gone"), due("https://b.example/rss", None)]
    )
    assert await claim(store, "one") == ["https://b.example/rss"]
    await store.release_feed("one", "https://b.example/rss")
    assert await claim(store, "two", timedelta(days=30)) == ["https://b.example/rss"]


# -- entry digests (bot/feeds/fastparse.py): stored with the poll's items -----------------

DIGESTS = "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB"


def _refuse_items(engine: Engine, database: Path | str) -> Callable[[], None]:
    """Make the database refuse new items (a real failure inside the ingest's
    transaction, after the feed row's upsert was prepared); returns how to undo it."""
    if engine.name == "sqlite":

        def sqlite(sql: str) -> None:
            con = sqlite3.connect(database)
            con.execute(sql)
            con.commit()
            con.close()

        sqlite(
            "CREATE TRIGGER refuse BEFORE INSERT ON items "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        return lambda: sqlite("DROP TRIGGER refuse")

    def postgres(sql: str) -> None:
        async def run() -> None:
            con = await asyncpg.connect(str(database))
            try:
                await con.execute(sql)
            finally:
                await con.close()

        run_coroutine(run())

    postgres(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$; "
        "CREATE TRIGGER refuse BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION refuse()"
    )
    return lambda: postgres("DROP TRIGGER refuse ON items; DROP FUNCTION refuse()")


async def test_entry_digests_are_saved_with_the_state_and_with_the_items(
    store: Storage,
) -> None:
    state = FeedState(FEED, FEED, first_polled=True, entry_digests=DIGESTS)
    await store.save_feed_state(state)
    assert (await store.feed_states())[FEED].entry_digests == DIGESTS
    after = replace(state, entry_digests=DIGESTS[:16])
    result = await store.ingest(after, [item(1)], NOW, keep_all)
    assert result.new_items == 1
    assert (await store.feed_states())[FEED].entry_digests == DIGESTS[:16]
    await store.save_feed_state(replace(after, entry_digests=""))  # feedparser read it
    assert (await store.feed_states())[FEED].entry_digests == ""


async def test_a_failed_ingest_keeps_the_old_entry_digests(
    store: Storage, storage_engine: Engine, database: Path | str
) -> None:
    state = FeedState(FEED, FEED, first_polled=True, entry_digests=DIGESTS)
    await store.save_feed_state(state)
    undo = _refuse_items(storage_engine, database)
    with pytest.raises(STORAGE_FAILURES):
        await store.ingest(replace(state, entry_digests=DIGESTS[16:]), [item(1)], NOW, keep_all)
    assert (await store.feed_states())[FEED].entry_digests == DIGESTS
    undo()
    await store.ingest(replace(state, entry_digests=DIGESTS[16:]), [item(1)], NOW, keep_all)
    assert (await store.feed_states())[FEED].entry_digests == DIGESTS[16:]
