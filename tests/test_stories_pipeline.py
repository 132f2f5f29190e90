"""Stories end to end: feeds on a local server → one alert per story, the rest in its thread."""

from __future__ import annotations

import json
from pathlib import Path

from bot.app import App
from tests.clock import Clock
from tests.feedserver import FeedServer
from tests.story_items import DUSHANBE, KUNDUZ_A, KUNDUZ_B, KUNDUZ_FOLLOW_UP


def records(tmp_path: Path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


async def test_same_event_from_two_feeds_is_one_alert_and_one_reply(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A])
    b = feed_server.feed("/b.xml", [DUSHANBE, KUNDUZ_B])
    settings = make_settings([{"url": a}, {"url": b}])
    async with App.open(settings, clock=Clock()) as app:
        await app.poll_feed(app.feeds[a])
        await app.poll_feed(app.feeds[b])
        await app.outbox.drain()
    alerts = [r for r in records(tmp_path) if "alert_id" in r]
    by_title = {r["title"]: r for r in alerts}
    parent = by_title[KUNDUZ_A["title"]]
    assert parent["reply_to"] is None
    assert by_title[KUNDUZ_B["title"]]["reply_to"] == f"jsonl-{parent['alert_id']}"
    assert by_title[KUNDUZ_B["title"]]["story"] == parent["story"]
    assert by_title[DUSHANBE["title"]]["reply_to"] is None  # another event: its own story
    edits = [r for r in records(tmp_path) if "edit" in r]
    assert edits == [
        {
            "edit": f"jsonl-{parent['alert_id']}",
            "sources": 2,
            "last_update": edits[0]["last_update"],
        }
    ]


async def test_a_follow_up_after_a_restart_still_joins_the_thread(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A])
    c = feed_server.feed("/c.xml", [])
    settings = make_settings([{"url": a}, {"url": c}])
    clock = Clock()
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
    clock.advance(6 * 3600)
    feed_server.feed("/c.xml", [KUNDUZ_FOLLOW_UP])
    async with App.open(settings, clock=clock) as app:  # the story index is rebuilt
        await app.poll_feed(app.feeds[c])
        await app.outbox.drain()
    first, follow_up = (r for r in records(tmp_path) if "alert_id" in r)
    assert follow_up["title"] == KUNDUZ_FOLLOW_UP["title"]
    assert follow_up["reply_to"] == f"jsonl-{first['alert_id']}"


async def test_items_beyond_the_story_window_start_a_new_story(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A])
    c = feed_server.feed("/c.xml", [])
    settings = make_settings([{"url": a}, {"url": c}], story_window="1h")
    clock = Clock()
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
        clock.advance(2 * 3600)
        app.stories.expire(clock.now)
        feed_server.feed("/c.xml", [KUNDUZ_FOLLOW_UP])
        await app.poll_feed(app.feeds[c])
        await app.outbox.drain()
    alerts = [r for r in records(tmp_path) if "alert_id" in r]
    assert [r["reply_to"] for r in alerts] == [None, None]
