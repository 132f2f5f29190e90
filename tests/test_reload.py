"""Watchlist edits while the bot runs: App.refresh_watchlists picks them up, or keeps the old."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from bot.app import App
from tests.feedserver import FeedServer, item

NEW_ENTITY = """
[[entity]]
id = "nangarhar"
name = "Nangarhar"
kind = "region"
aliases = ["Ningrahar"]
severity = "high"
"""


def alerts(tmp_path: Path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


async def test_refresh_without_changes_keeps_the_matcher(make_settings) -> None:
    async with App.open(make_settings([])) as app:
        matcher = app.matcher
        assert {e.id for e in matcher.entities} == {"iskp", "tajikistan", "ajit-doval"}
        assert await app.refresh_watchlists() is False
        assert await app.refresh_watchlists() is False
        assert app.matcher is matcher


async def test_refresh_picks_up_a_new_entity(make_settings, watchlist_dir: Path) -> None:
    async with App.open(make_settings([])) as app:
        old = app.matcher
        assert old.match_text("Clashes in Nangarhar") == []
        append(watchlist_dir / "test.toml", NEW_ENTITY)
        assert await app.refresh_watchlists() is True
        assert app.matcher is not old
        (hit,) = app.matcher.match_text("Clashes in Ningrahar")
        assert (hit.entity_id, hit.severity, hit.text) == ("nangarhar", "high", "Ningrahar")
        # the existing entities are still there
        assert [m.entity_id for m in app.matcher.match_text("ISKP in Tadzhikistan")] == [
            "iskp",
            "tajikistan",
        ]
        # and a second refresh has nothing new to do
        assert await app.refresh_watchlists() is False


async def test_new_watchlist_file_is_picked_up(make_settings, watchlist_dir: Path) -> None:
    async with App.open(make_settings([])) as app:
        (watchlist_dir / "zz-new.toml").write_text(NEW_ENTITY, encoding="utf-8")
        assert await app.refresh_watchlists() is True
        assert [m.entity_id for m in app.matcher.match_text("Nangarhar")] == ["nangarhar"]


async def test_broken_edit_keeps_the_old_matcher(
    make_settings, watchlist_dir: Path, caplog
) -> None:
    path = watchlist_dir / "test.toml"
    good = path.read_text(encoding="utf-8")
    async with App.open(make_settings([])) as app:
        old = app.matcher
        append(path, '\n[[entity]]\nid = "broken\n')  # unterminated string
        with caplog.at_level(logging.ERROR, logger="bot.app"):
            assert await app.refresh_watchlists() is False
        assert app.matcher is old
        assert [m.entity_id for m in app.matcher.match_text("ISKP claims")] == ["iskp"]
        errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        message = errors[0].getMessage()
        assert "keeping the old ones" in message
        assert str(path) in message and "invalid TOML" in message

        # The broken version is reported once, not on every check.
        caplog.clear()
        assert await app.refresh_watchlists() is False
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []

        # Fixed: the new entity arrives.
        path.write_text(good + NEW_ENTITY, encoding="utf-8")
        assert await app.refresh_watchlists() is True
        assert [m.entity_id for m in app.matcher.match_text("Nangarhar")] == ["nangarhar"]


async def test_invalid_watchlist_keeps_the_old_matcher(
    make_settings, watchlist_dir: Path, caplog
) -> None:
    # Valid TOML, invalid watchlist: an exclusion equal to the entity's own name.
    async with App.open(make_settings([])) as app:
        old = app.matcher
        append(
            watchlist_dir / "test.toml",
            '\n[[entity]]\nid = "tj"\nname = "Tadzhikistan"\nkind = "region"\n'
            'exclude = ["Tadzhikistan"]\n',
        )
        with caplog.at_level(logging.ERROR, logger="bot.app"):
            assert await app.refresh_watchlists() is False
        assert app.matcher is old
        assert any("equals its alias 'Tadzhikistan'" in r.getMessage() for r in caplog.records)


async def test_new_entity_alerts_after_refresh(
    feed_server: FeedServer, make_settings, watchlist_dir: Path, tmp_path: Path
) -> None:
    url = feed_server.feed(
        "/a.xml",
        [item(1, "Floods in Ningrahar province"), item(2, "Weather in Paris is mild")],
    )
    async with App.open(make_settings([{"url": url, "name": "A"}])) as app:
        append(watchlist_dir / "test.toml", NEW_ENTITY)
        assert await app.refresh_watchlists() is True
        report = await app.run_once()
        assert report.alerts == 1
    (alert,) = alerts(tmp_path)
    assert alert["title"] == "Floods in Ningrahar province"
    assert alert["entities"] == ["nangarhar"]
    assert alert["severity"] == "high"
