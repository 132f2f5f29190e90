"""Polls that skip unchanged entries store and alert exactly what full parses do.

Why: a changed feed reads only its changed entries (bot/feeds/fastparse.py);
the rest are treated like the items of an unchanged body. Here the same
sequence of feed versions (grow, edit an item, an item moving between feeds,
reorder, remove, an old item returning) runs through two bots on their own
databases, one skipping and one forced to read every entry, and the new items
and alerts must be the same. Also: the digests are stored with the feed (they
survive a restart), and an ingest that fails leaves them as they were.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.app import App
from bot.config import Settings, settings_from_dict
from bot.feeds.parse import ParsedFeed, ParserPool
from tests.feedserver import FeedServer, item

A, B = "/a.xml", "/b.xml"

I1 = item(1, "ISKP claims attack near Kabul", "Details from Kabul")
I2 = item(2, "Weather in Paris is mild today")
I3 = item(3, "Tajikistan closes border crossing")
I4 = item(4, "Local bakery wins prize", "Nothing to see")
I5 = item(5, "Talks in Dushanbe resume", "Tajikistan hosts the talks")
I6 = item(6, "Markets are calm")
I7 = item(7, "TTP statement on the border")
I8 = item(8, "A quiet day in the capital")
EDITED_4 = {**I4, "title": "Local bakery wins prize, ISKP says nothing"}  # same guid
AGAIN_1 = {**item(9, "ISKP claims attack near Kabul"), "description": "copied"}  # title repeat

# Each step: the items of A and of B.
VERSIONS: list[tuple[list[dict[str, str]], list[dict[str, str]]]] = [
    ([I1, I2, I3, I4], [I6]),
    ([I5, I1, I2, I3, I4], [I6]),  # grow
    ([I5, I1, I2, I3, EDITED_4], [I7, I6]),  # edit an item; B grows
    ([AGAIN_1, I5, I1, I2, I3, EDITED_4], [I7, I6]),  # same title, other guid
    ([EDITED_4, I3, I2, I1, I5, AGAIN_1], [I7, I6]),  # reorder
    ([I3, I2, I5], [I1, I7, I6]),  # remove; an item moves to B
    ([I8, I4, I3, I2, I5], [I7, I6]),  # an old item (its first version) returns
]


def _settings(tmp: Path, watchlist_dir: Path, server: FeedServer) -> Settings:
    data: dict[str, Any] = {
        "bot": {
            "database": str(tmp / "bot.sqlite3"),
            "watchlists": str(watchlist_dir),
            "timeout": "2s",
            "connect_timeout": "1s",
            "parser_workers": 1,
        },
        "feeds": [
            {"url": server.url(A), "name": "A", "interval": "5m", "first_poll": "all"},
            {"url": server.url(B), "name": "B", "interval": "5m", "first_poll": "all"},
        ],
        "channels": [{"platform": "jsonl", "id": str(tmp / "alerts.jsonl")}],
    }
    return settings_from_dict(data, tmp / "bot.toml")


def _record(app: App, skip: bool, seen: list[ParsedFeed]) -> None:
    """Wrap this app's parser pool: note what each parse returned; without `skip`,
    every entry is read (no known digests), which is the code before skipping."""
    pool: ParserPool = app.poller.parsers
    parse = pool.parse

    async def recorded(
        body: bytes, feed_url: str, feed_name: str, base_url: str = "", known: str = ""
    ) -> ParsedFeed:
        parsed = await parse(body, feed_url, feed_name, base_url, known if skip else "")
        seen.append(parsed)
        return parsed

    pool.parse = recorded  # type: ignore[method-assign]


def _alerts(tmp: Path) -> list[tuple[str, str, list[str]]]:
    path = tmp / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(a["feed"], a["title"], a["entities"]) for a in map(json.loads, lines)]


async def _run(
    tmp: Path, watchlist_dir: Path, server: FeedServer, skip: bool
) -> tuple[list[list[tuple[str, int, int]]], list[ParsedFeed]]:
    tmp.mkdir()
    seen: list[ParsedFeed] = []
    cycles = []
    settings = _settings(tmp, watchlist_dir, server)
    async with AsyncExitStack() as stack:
        for n, (a, b) in enumerate(VERSIONS):
            server.feed(A, a)
            server.feed(B, b)
            if n in (0, 4):  # a restart now and then: the digests come from the database
                await stack.aclose()
                app = await stack.enter_async_context(App.open(settings))
                _record(app, skip, seen)
            report = await app.run_once()
            cycles.append(sorted((o.feed_url[-5:], o.new_items, o.alerts) for o in report.outcomes))
    return cycles, seen


async def test_skipping_stores_and_alerts_what_full_parses_do(
    feed_server: FeedServer, watchlist_dir: Path, tmp_path: Path
) -> None:
    full_cycles, full_parses = await _run(tmp_path / "full", watchlist_dir, feed_server, False)
    skip_cycles, skip_parses = await _run(tmp_path / "skip", watchlist_dir, feed_server, True)
    assert skip_cycles == full_cycles
    assert _alerts(tmp_path / "skip") == _alerts(tmp_path / "full")
    assert len(_alerts(tmp_path / "full")) >= 3
    assert sum(p.skipped for p in full_parses) == 0
    assert sum(p.skipped for p in skip_parses) >= 10  # it did skip, across the restart too
    for a, b in zip(full_parses, skip_parses, strict=True):  # the same documents
        assert a.digests == b.digests
        assert len(a.items) == len(b.items) + b.skipped


async def test_digests_are_stored_and_a_failed_ingest_keeps_the_old_ones(
    feed_server: FeedServer, watchlist_dir: Path, tmp_path: Path
) -> None:
    settings = _settings(tmp_path, watchlist_dir, feed_server)
    feed_server.feed(A, [I1, I2])
    feed_server.feed(B, [I6])
    seen: list[ParsedFeed] = []
    async with App.open(settings) as app:
        _record(app, True, seen)
        await app.run_once()
        stored = (await app.storage.feed_states())[feed_server.url(A)].entry_digests
        assert stored == app.states[feed_server.url(A)].entry_digests
        assert len(stored) == 2 * 16

    # The database refuses the next items: the poll fails, the digests stay.
    db = sqlite3.connect(tmp_path / "bot.sqlite3")
    db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON items "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
    )
    db.commit()
    feed_server.feed(A, [I3, I1, I2])
    async with App.open(settings) as app:
        seen.clear()
        _record(app, True, seen)
        assert app.states[feed_server.url(A)].entry_digests == stored  # read back at start
        report = await app.run_once()
        (outcome,) = [o for o in report.outcomes if o.feed_url == feed_server.url(A)]
        assert outcome.status == "error" and outcome.error and "storage" in outcome.error
        assert seen[0].skipped == 2  # I1 and I2 were known
        assert app.states[feed_server.url(A)].entry_digests == stored
        assert (await app.storage.feed_states())[feed_server.url(A)].entry_digests == stored
        db.execute("DROP TRIGGER refuse")
        db.commit()
        db.close()
        report = await app.run_once()
        (outcome,) = [o for o in report.outcomes if o.feed_url == feed_server.url(A)]
        assert (outcome.status, outcome.new_items, outcome.items) == ("new", 1, 3)
        after = (await app.storage.feed_states())[feed_server.url(A)].entry_digests
        assert len(after) == 3 * 16 and stored in after


@pytest.mark.parametrize("moved", [False, True])
async def test_a_feed_that_moved_reads_every_entry_again(
    feed_server: FeedServer, watchlist_dir: Path, tmp_path: Path, moved: bool
) -> None:
    """The address relative links resolve against is part of each entry's context."""
    settings = _settings(tmp_path, watchlist_dir, feed_server)
    feed_server.feed(A, [I1, I2])
    feed_server.feed(B, [I6])
    seen: list[ParsedFeed] = []
    async with App.open(settings) as app:
        _record(app, True, seen)
        await app.run_once()
        url = feed_server.url(A)
        if moved:  # as after a permanent redirect: the state polls the new address
            feed_server.feed("/new-a.xml", [I3, I1, I2])
            app.states[url] = replace(app.states[url], fetch_url=feed_server.url("/new-a.xml"))
        else:
            feed_server.feed(A, [I3, I1, I2])
        seen.clear()
        await app.run_once()
        (parsed,) = [p for p in seen if p.items and p.items[0].feed_url == url]
        assert parsed.skipped == (0 if moved else 2)
