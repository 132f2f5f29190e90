"""Story features are stored with an item and loaded at start-up instead of read again.

Reading every recent story member's text at start-up (`profile`) was most of
the start-up time (issue 13); bot/stories/features.py stores what it read.
These tests check that a stored profile is the one `profile` makes, that
start-up reads none again, and that it decides stories as reading them would.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.app import App
from bot.dedup import guid_key
from bot.models import Item
from bot.storage.models import StoryMember
from bot.stories import StoryItem, StoryTracker, features, profile, story_item
from bot.stories.profile import READS, Profile
from tests.clock import Clock
from tests.feedserver import FeedServer
from tests.story_items import DUSHANBE, KUNDUZ_A, KUNDUZ_B, KUNDUZ_FOLLOW_UP

LABELLED = Path(__file__).parent / "data" / "stories" / "items.jsonl"
NOW = datetime(2026, 11, 20, tzinfo=UTC)


def _what_grouping_uses(p: Profile) -> tuple[object, ...]:
    """Every field, with the derived tuples as sets: their order may differ by process."""
    return (
        p.title,
        p.body,
        p.context,
        p.names,
        p.title_names,
        p.places,
        p.events,
        p.briefing,
        p.unspecified_attack,
        dict(p.surface),
        p.said,
        p.terms,
        dict(p.field_weights),
        p.counts,
        p.families,
        frozenset(p.telling_said),
        frozenset(p.title_words),
        p.specific_places,
        p.specific_title_names,
    )


def _labelled() -> list[dict]:
    return [json.loads(line) for line in LABELLED.read_text().splitlines() if line.strip()]


def test_a_stored_profile_loads_as_the_profile_of_every_labelled_item() -> None:
    for row in _labelled():
        read = profile(row["title"], row["summary"])
        loaded = features.load(features.dump(read))
        assert loaded is not None
        assert _what_grouping_uses(loaded) == _what_grouping_uses(read), row["id"]


@given(st.text(max_size=80), st.text(max_size=200))
def test_any_text_s_profile_survives_storing(title: str, summary: str) -> None:
    read = profile(title, summary)
    loaded = features.load(features.dump(read))
    assert loaded is not None and _what_grouping_uses(loaded) == _what_grouping_uses(read)


def test_missing_damaged_or_older_features_are_read_again() -> None:
    good = json.loads(features.dump(profile("Blast in Kabul", "Seven killed.")))
    older = dict(good, v=features.FORMAT - 1)
    wrong_type = dict(good, title="not a list")
    for text in (None, "", "{", "[]", json.dumps(older), json.dumps(wrong_type), '{"v":1}'):
        assert features.load(text) is None, text


def _members(with_features: bool) -> list[StoryMember]:
    """The labelled items as stored story members, in a story each as a tracker put them."""
    tracker = StoryTracker(10 * 24 * 3600)
    out = []
    for row in _labelled():
        published = datetime.fromisoformat(row["published"].replace("Z", "+00:00"))
        it = Item(row["feed"], row["id"], f"https://x.example/{row['id']}", row["title"])
        it = Item(it.feed_url, it.guid, it.url, it.title, row["summary"], published, row["feed"])
        tracker_item = _candidate(it, row["entities"], published)
        story = tracker.index.find(tracker_item)
        tracker.index.add(tracker_item, story or tracker_item.key)
        stored = features.dump(tracker_item.profile) if with_features else None
        out.append(
            StoryMember(
                it, published, story or tracker_item.key, frozenset(row["entities"]), stored
            )
        )
    return out


def _candidate(it: Item, entities: list[str], when: datetime) -> StoryItem:
    return story_item(guid_key(it), it, entities, when)


def test_loading_stored_features_reads_no_text_and_decides_the_same() -> None:
    with_features, without = _members(True), _members(False)
    now = max(m.fetched_at for m in with_features)
    read_before = READS.items
    loaded = StoryTracker(10 * 24 * 3600)
    loaded.load(with_features, now)
    assert READS.items == read_before  # nothing read again
    reread = StoryTracker(10 * 24 * 3600)
    reread.load(without, now)
    # Each one within the window is read from its text; those before it are passed over.
    within = [m for m in without if m.fetched_at >= now - reread.window]
    assert 0 < len(within) < len(without)
    assert READS.items == read_before + len(within)
    # Every labelled item, as a newcomer, finds the same story in both indexes.
    for m in with_features:
        probe = Item(
            m.item.feed_url,
            m.item.guid + "-again",
            m.item.url + "?again",
            m.item.title,
            m.item.summary,
            m.item.published,
            m.item.feed_name,
        )
        later = m.fetched_at + timedelta(hours=1)
        assert loaded.assign(probe, (), later) is None  # no matches: no story
        a = loaded.index.find(_candidate(probe, sorted(m.entity_ids), later))
        b = reread.index.find(_candidate(probe, sorted(m.entity_ids), later))
        assert a == b, m.item.guid


async def test_a_restart_loads_the_stored_features_and_the_follow_up_joins_the_thread(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A, DUSHANBE])
    b = feed_server.feed("/b.xml", [KUNDUZ_B])
    c = feed_server.feed("/c.xml", [])
    settings = make_settings([{"url": a}, {"url": b}, {"url": c}])
    clock = Clock()
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
    clock.advance(6 * 3600)
    read_before = READS.items
    async with App.open(settings, clock=clock) as app:  # the story index is rebuilt
        await app.warm_up.wait()  # after start-up (bot/app_warmup.py)
        assert READS.items == read_before  # from the stored features: no item read again
        assert len(app.stories.index) == 3
        feed_server.feed("/c.xml", [KUNDUZ_FOLLOW_UP])
        await app.poll_feed(app.feeds[c])
        await app.outbox.drain()
    alerts = [
        json.loads(x)
        for x in (tmp_path / "alerts.jsonl").read_text().splitlines()
        if "alert_id" in json.loads(x)
    ]
    by_title = {r["title"]: r for r in alerts}
    parent = by_title[KUNDUZ_A["title"]]
    assert by_title[KUNDUZ_FOLLOW_UP["title"]]["story"] == parent["story"]
    assert by_title[KUNDUZ_B["title"]]["story"] == parent["story"]
    assert by_title[DUSHANBE["title"]]["story"] != parent["story"]


def test_the_rebuild_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    members = _members(True)[:5]
    tracker = StoryTracker(10 * 24 * 3600)
    tracker.load(members, members[-1].fetched_at)
    assert gc.isenabled() and len(tracker.index) == 5
    gc.disable()
    try:
        tracker.load(members, members[-1].fetched_at)
        assert not gc.isenabled()
    finally:
        gc.enable()
