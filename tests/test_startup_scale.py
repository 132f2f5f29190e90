"""Start-up with a long history (issue 13): what it no longer does twice, or before polling.

- The watchlists preflight loaded (and checked) are the ones `run` matches with, unless
  a file or a chat term changed in between: then they are loaded again.
- The story index is rebuilt after start-up, a slice at a time, and a poll waits for it
  before grouping: items join the same stories as with the index rebuilt beforehand.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path

import pytest

from bot import app_warmup, app_watchlists
from bot.app import App
from bot.matching.watchlists import ChatTerm, load_watchlists, read_watchlists
from bot.models import Item
from bot.preflight import LoadedWatchlists, watchlist_snapshot
from bot.stories import StoryTracker
from bot.stories.tracker import draining
from tests.clock import Clock
from tests.feedserver import FeedServer
from tests.story_items import DUSHANBE, KUNDUZ_A, KUNDUZ_B, KUNDUZ_FOLLOW_UP
from tests.test_story_features import _candidate, _members

NEW_ENTITY = """
[[entity]]
id = "nangarhar"
name = "Nangarhar"
kind = "region"
aliases = ["Ningrahar"]
severity = "high"
"""


def _preflight_load(directory: Path) -> LoadedWatchlists:
    """What preflight keeps for `run`: the snapshot taken before the files are read."""
    snapshot = watchlist_snapshot(directory)
    return LoadedWatchlists(tuple(load_watchlists(directory)), (), frozenset(), snapshot)


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The App's own watchlist loads, counted."""
    calls: list[Path] = []

    def counted(directory: Path) -> object:
        calls.append(directory)
        return read_watchlists(directory)

    monkeypatch.setattr(app_watchlists, "read_watchlists", counted)
    return calls


async def test_run_matches_with_the_watchlists_preflight_loaded(
    make_settings, watchlist_dir: Path, loads: list[Path]
) -> None:
    loaded = _preflight_load(watchlist_dir)
    async with App.open(make_settings([]), watchlists=loaded) as app:
        assert loads == []  # not read again
        assert app.matcher.entities == list(loaded.entities)
        # A later edit is picked up as always.
        with (watchlist_dir / "test.toml").open("a", encoding="utf-8") as f:
            f.write(NEW_ENTITY)
        assert await app.refresh_watchlists() is True
        assert loads == [watchlist_dir]


async def test_a_file_changed_after_preflight_is_loaded_again(
    make_settings, watchlist_dir: Path, loads: list[Path]
) -> None:
    loaded = _preflight_load(watchlist_dir)
    with (watchlist_dir / "test.toml").open("a", encoding="utf-8") as f:
        f.write(NEW_ENTITY)
    async with App.open(make_settings([]), watchlists=loaded) as app:
        assert loads == [watchlist_dir]
        assert [m.entity_id for m in app.matcher.match_text("Clashes in Ningrahar")] == [
            "nangarhar"
        ]


async def test_a_chat_term_added_after_preflight_is_loaded_again(
    make_settings, watchlist_dir: Path, loads: list[Path]
) -> None:
    loaded = _preflight_load(watchlist_dir)
    settings = make_settings([])
    async with App.open(settings) as app:  # a term added from chat meanwhile
        await app.control.add_chat_term(ChatTerm("iskp", "Daesh-K", "group"), "tester")
    loads.clear()
    async with App.open(settings, watchlists=loaded) as app:
        assert loads == [watchlist_dir]
        assert [m.entity_id for m in app.matcher.match_text("Daesh-K attack")] == ["iskp"]


def test_rebuilding_a_slice_at_a_time_gives_the_same_index() -> None:
    members = _members(True)
    now = max(m.fetched_at for m in members)
    whole = StoryTracker(10 * 24 * 3600)
    whole.load(members, now)
    for step in (1, 7):
        sliced = StoryTracker(10 * 24 * 3600)
        rows = list(members)
        counts = list(sliced.loading(draining(rows), now, step))
        assert rows == []  # let go of as they were added
        assert counts[-1] == len(members) and len(counts) == -(-len(members) // step)
        assert len(sliced.index) == len(whole.index)
        for m in members:
            key = _candidate(m.item, sorted(m.entity_ids), m.fetched_at).key
            assert sliced.index.story_of(key) == whole.index.story_of(key)
            probe = Item(
                m.item.feed_url,
                m.item.guid + "-again",
                m.item.url + "?again",
                m.item.title,
                m.item.summary,
                m.item.published,
            )
            later = m.fetched_at + timedelta(hours=1)
            candidate = _candidate(probe, sorted(m.entity_ids), later)
            assert sliced.index.find(candidate) == whole.index.find(candidate)


async def test_a_poll_during_the_rebuild_waits_for_it_and_joins_the_thread(
    feed_server: FeedServer,
    make_settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A, DUSHANBE])
    b = feed_server.feed("/b.xml", [KUNDUZ_B])
    c = feed_server.feed("/c.xml", [])
    settings = make_settings([{"url": a}, {"url": b}, {"url": c}])
    clock = Clock()
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
    clock.advance(6 * 3600)
    gate = asyncio.Event()  # holds the rebuild after its first slice (of one member)

    async def held() -> None:
        await gate.wait()

    monkeypatch.setattr(app_warmup, "SLICE", 1)
    monkeypatch.setattr(app_warmup, "_between_slices", held)
    async with App.open(settings, clock=clock) as app:
        entered = asyncio.Event()
        ready = app.poller.ready
        assert ready is not None

        async def noted() -> None:
            entered.set()
            await ready()

        app.poller.ready = noted
        feed_server.feed("/c.xml", [KUNDUZ_FOLLOW_UP])
        poll = asyncio.create_task(app.poll_feed(app.feeds[c]))
        waiting = asyncio.create_task(entered.wait())
        done, _ = await asyncio.wait({poll, waiting}, return_when=asyncio.FIRST_COMPLETED)
        assert waiting in done  # fetched and parsed: now it waits for the index
        assert len(app.stories.index) < 3 and not poll.done()
        gate.set()
        await poll
        await app.outbox.drain()
        assert len(app.stories.index) == 4
    alerts = [
        json.loads(x)
        for x in (tmp_path / "alerts.jsonl").read_text().splitlines()
        if "alert_id" in json.loads(x)
    ]
    by_title = {r["title"]: r for r in alerts}
    parent = by_title[KUNDUZ_A["title"]]
    assert by_title[KUNDUZ_FOLLOW_UP["title"]]["story"] == parent["story"]
    assert by_title[DUSHANBE["title"]]["story"] != parent["story"]


async def test_closing_during_the_rebuild_stops_it(
    feed_server: FeedServer, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A, KUNDUZ_B, DUSHANBE])
    settings = make_settings([{"url": a}])
    clock = Clock()
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
    never = asyncio.Event()

    async def held() -> None:
        await never.wait()

    monkeypatch.setattr(app_warmup, "SLICE", 1)
    monkeypatch.setattr(app_warmup, "_between_slices", held)
    async with App.open(settings, clock=clock) as app:
        task = app.warm_up._task
        assert task is not None and not task.done()
    assert task.cancelled()


async def test_a_cycle_holds_at_most_twice_max_concurrency_polls_at_once(
    feed_server: FeedServer, make_settings
) -> None:
    """Every feed is due in a first cycle: polls past their start are bounded, so fetched
    bodies and parsed items cannot pile up for all of them (bot/app_warmup.py)."""
    urls = [feed_server.feed(f"/f{n}.xml", [KUNDUZ_A, DUSHANBE]) for n in range(12)]
    settings = make_settings([{"url": u} for u in urls], max_concurrency=2)
    bound = app_warmup.POLLS_PER_FETCH_SLOT * 2
    async with App.open(settings, clock=Clock()) as app:
        poll = app.poller.poll
        gate, full = asyncio.Event(), asyncio.Event()
        now = most = 0

        async def counted(feed, state):  # type: ignore[no-untyped-def]
            nonlocal now, most
            now += 1
            most = max(most, now)
            if now == bound:
                full.set()
            await gate.wait()
            try:
                return await poll(feed, state)
            finally:
                now -= 1

        app.poller.poll = counted  # type: ignore[method-assign]
        cycle = asyncio.create_task(app.run_once())
        await full.wait()
        assert app.polls.locked()  # the others wait before fetching anything
        gate.set()
        report = await cycle
    assert most == bound
    assert [o.status for o in report.outcomes] == ["new"] * 12
