"""The match index is built when first needed (bot/app_watchlists.py, issue 13).

Start-up still reads and validates the watchlists (a broken one stops it with the
same message), but builds their index only once the feed loops run (`begin`) or
when a poll first has new items (`ready`): a cycle where nothing changed never
builds it, and items are matched exactly as by an index built before the first poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from bot.app import App
from bot.errors import ConfigError, ConfigErrors
from bot.matching.normalize import phrase_words
from bot.matching.watchlists import ChatTerm, has_words, load_watchlists
from bot.preflight import preflight
from tests.clock import Clock
from tests.feedserver import FeedServer
from tests.story_items import DUSHANBE, KUNDUZ_A, KUNDUZ_B, KUNDUZ_FOLLOW_UP

RISKY = """
[[entity]]
id = "tiny"
name = "Tiny Group"
kind = "group"
aliases = ["TG"]
"""


def _alerts(path: Path) -> list[str]:
    """Every alert the jsonl sink wrote, whole (matches, spans, …) but for what depends on
    which of the two feeds' polls commits first: its id, its story's key (the first
    member's) and the thread post it replies to. The stories are compared as which
    alerts share one: each alert carries the titles of its story's alerts."""
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records = [r for r in records if r.pop("alert_id", None) is not None]
    stories: dict[str, list[str]] = {}
    for r in records:
        if r.get("story") is not None:
            stories.setdefault(r["story"], []).append(r["title"])
    out = []
    for r in records:
        if r.get("story") is not None:
            r["story"] = sorted(stories[r["story"]])
        r.pop("reply_to", None)
        out.append(json.dumps(r, sort_keys=True))
    return sorted(out)


async def test_a_cycle_of_unchanged_feeds_never_builds_the_index(
    feed_server: FeedServer, make_settings
) -> None:
    a = feed_server.feed("/a.xml", [KUNDUZ_A, DUSHANBE])
    settings = make_settings([{"url": a}])
    clock = Clock()
    async with App.open(settings, clock=clock) as app:
        await app.run_once()
        assert app.watchlists.built  # the first poll had new items
    clock.advance(3600)
    async with App.open(settings, clock=clock) as app:
        assert not app.watchlists.built
        assert {e.id for e in app.watchlists.entities} >= {"iskp", "tajikistan"}
        (outcome,) = (await app.run_once()).outcomes
        assert outcome.status == "not-modified"
        assert not app.watchlists.built


async def test_deferred_and_eager_indexes_give_the_same_alerts(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    """The same feeds polled twice from scratch: once with the index built before the
    first poll (as before), once built by the poll that needs it."""
    a = feed_server.feed("/a.xml", [KUNDUZ_A, DUSHANBE])
    b = feed_server.feed("/b.xml", [KUNDUZ_B, KUNDUZ_FOLLOW_UP])
    results = []
    for eager in (True, False):
        for name in ("bot.sqlite3", "alerts.jsonl"):
            (tmp_path / name).unlink(missing_ok=True)
        settings = make_settings([{"url": a}, {"url": b}])
        async with App.open(settings, clock=Clock()) as app:
            if eager:
                assert app.matcher.alias_count > 0  # built here and now
            assert app.watchlists.built is eager
            await app.run_once()
            assert app.watchlists.built
        results.append(_alerts(tmp_path / "alerts.jsonl"))
    assert results[0] == results[1] and results[0]


async def test_begin_builds_in_the_background_and_ready_waits_for_it(make_settings) -> None:
    async with App.open(make_settings([])) as app:
        assert not app.watchlists.built
        app.watchlists.begin()
        task = app.watchlists._task
        assert task is not None
        app.watchlists.begin()  # once
        assert app.watchlists._task is task
        await app.watchlists.ready()
        assert app.watchlists.built and task.done()
        await app.watchlists.ready()  # at once, after that
        hits = app.matcher.match_text("ISKP claims attack")
        assert [m.entity_id for m in hits] == ["iskp"]


async def test_chat_commands_see_the_entities_without_building_the_index(make_settings) -> None:
    async with App.open(make_settings([])) as app:
        ids = {e.id for e in app.control.entities()}
        assert {"iskp", "tajikistan"} <= ids
        assert not app.watchlists.built


@pytest.mark.parametrize("built_first", [False, True])
async def test_a_chat_term_applies_before_and_after_the_build(
    make_settings, built_first: bool
) -> None:
    async with App.open(make_settings([])) as app:
        if built_first:
            await app.watchlists.ready()
        await app.control.add_chat_term(ChatTerm("iskp", "Daesh-K", "group"), "tester")
        assert app.watchlists.built  # a reload builds before it replaces
        assert [m.entity_id for m in app.matcher.match_text("Daesh-K attack")] == ["iskp"]
        assert "Daesh-K" in next(e for e in app.watchlists.entities if e.id == "iskp").aliases


async def test_a_reload_during_the_deferred_build_wins(make_settings) -> None:
    """The background build of the start-up entities finishes after a chat term was
    added: the newer matcher stays in force."""
    async with App.open(make_settings([])) as app:
        app.watchlists.begin()
        stale = app.watchlists._task
        await app.control.add_chat_term(ChatTerm("iskp", "Daesh-K", "group"), "tester")
        assert stale is not None
        await asyncio.gather(stale, return_exceptions=True)
        await app.watchlists.ready()
        assert [m.entity_id for m in app.matcher.match_text("Daesh-K attack")] == ["iskp"]


async def test_a_broken_watchlist_still_stops_start_up(make_settings, watchlist_dir: Path) -> None:
    (watchlist_dir / "broken.toml").write_text('[[entity]]\nid = "x"\nname = "X"\n')
    with pytest.raises(ConfigError) as eager:
        load_watchlists(watchlist_dir)
    with pytest.raises(ConfigError) as deferred:
        async with App.open(make_settings([])):
            pass
    assert str(deferred.value) == str(eager.value)
    assert "'kind'" in str(deferred.value)


def test_preflight_of_run_reports_the_same_problems(tmp_path: Path, watchlist_dir: Path) -> None:
    """run and once defer only the warnings: the errors are those `check` reports."""
    config = tmp_path / "bot.toml"
    config.write_text(
        f'[bot]\ndatabase = "{tmp_path / "bot.sqlite3"}"\nwatchlists = "{watchlist_dir}"\n'
        f'[[channels]]\nplatform = "jsonl"\nid = "{tmp_path / "a.jsonl"}"\n'
    )
    with (watchlist_dir / "test.toml").open("a", encoding="utf-8") as f:
        f.write('\n[[entity]]\nid = "bad"\nname = "Bad"\nkind = "group"\nexclude = ["Bad"]\n')
    messages = []
    for defer in (False, True):
        with pytest.raises((ConfigError, ConfigErrors)) as failed:
            preflight(config, defer_warnings=defer)
        messages.append(str(failed.value))
    assert messages[0] == messages[1]
    assert "exclude phrase 'Bad' equals its alias 'Bad'" in messages[0]


async def test_warnings_are_logged_once_with_the_build(
    make_settings, watchlist_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (watchlist_dir / "risky.toml").write_text(RISKY)
    settings = make_settings([])
    with caplog.at_level(logging.WARNING):
        async with App.open(settings) as app:
            assert not [r for r in caplog.records if "is risky" in r.getMessage()]
            app.watchlists.begin()
            _ = app.matcher  # a second build meanwhile: still one warning
            await app.watchlists.ready()
    risky = [r for r in caplog.records if "is risky" in r.getMessage()]
    assert len(risky) == 1 and "'TG'" in risky[0].getMessage()


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
@example("&")
@example("'s")
@example("O'Brien's")
@example("`")
@example("_")
def test_has_words_answers_as_the_full_scan(phrase: str) -> None:
    """The validation shortcut for ASCII phrases against the scan it replaced."""
    assert has_words(phrase) == bool(phrase_words(phrase).folded)
    assert has_words(phrase + "é") == bool(phrase_words(phrase + "é").folded)
