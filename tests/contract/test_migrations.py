"""Contract: a database of every earlier schema version migrates and keeps its data."""

from __future__ import annotations

import pytest

from bot.models import ChatTerm, Item
from tests.contract.conftest import ENGINES, FEED, NOW, Engine, ingest, item

#: Each engine with each of its own schema versions before its newest (engines number
#: their migrations apart: PostgreSQL starts at SQLite's newest shape), so no case is
#: generated, then skipped, for a version an engine never had.
EARLIER_VERSIONS = [
    pytest.param(name, version, id=f"{name}-v{version}")
    for name, engine in sorted(ENGINES.items())
    for version in range(1, engine.schema_versions)
]


@pytest.mark.parametrize(
    ("storage_engine", "version"), EARLIER_VERSIONS, indirect=["storage_engine"]
)
async def test_an_earlier_schema_migrates_with_its_data(
    storage_engine: Engine, request: pytest.FixtureRequest, version: int
) -> None:
    location = request.getfixturevalue("database")
    storage_engine.build_at_version(location, version)
    # PostgreSQL's migration 1 is SQLite's schema at version 11: compare in SQLite's numbers.
    shape = version if storage_engine.name == "sqlite" else version + 10
    async with storage_engine.open(location) as store:
        states = await store.feed_states()
        assert states[FEED].etag == "etag-1" and states[FEED].items_seen == 1
        assert states[FEED].entry_digests == ""  # none stored yet: the next poll reads all
        (old,) = await store.items_since(NOW)
        assert old.title == "An old story kept across upgrades"
        alert = await store.next_alert("jsonl", "alerts")
        assert alert is not None and alert.item == old
        assert await store.chat_terms() == [ChatTerm("iskp", "Wilayat Khurasan", "group")]
        # Migration 4 derived the first sightings from the stored items' matches.
        assert await store.entity_first_seen() == ({"iskp": NOW} if shape < 4 else {})
        # The old item's keys still dedup it.
        again = Item(FEED, "old-guid", "https://news.example/old", "Other words entirely")
        assert await ingest(store, [again]) == (0, 1, 0)
        assert await ingest(store, [item(1)]) == (1, 0, 0)
        if shape >= 2:
            assert await store.added_feeds() == [("https://added.example/rss", "Added")]
            assert await store.mutes() == {"ttp": None}
    async with storage_engine.open(location) as store:  # migrated once: opens as it is
        assert len(await store.items_since(NOW)) == 2
