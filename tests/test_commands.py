"""Chat commands (bot.commands) against the real App, real SQLite and a real feed server.

Every change a command makes must be stored, take effect on the next poll
without a restart, and survive a restart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import App
from bot.commands import PAGE_SIZE, Caller, CommandError, Commands, Reply
from bot.config import Settings, load_config
from bot.matching.watchlists import load_watchlists
from tests.clock import Clock
from tests.feedserver import FeedServer, item

ROOT = Path(__file__).resolve().parent.parent

MANAGER = Caller("u-manager", can_manage=True, name="Ana")
VIEWER = Caller("u-viewer", can_manage=False, name="Bo")

# A Tajik group not in the test watchlist, unlike any alias there.
NEW_TERM = "Jamaat Ansarullah"


@asynccontextmanager
async def opened(settings: Settings, clock: Clock) -> AsyncIterator[tuple[App, Commands]]:
    async with App.open(settings, clock=clock) as app:
        yield app, Commands(app.control)


def alerts(tmp_path: Path) -> list[dict]:
    path = tmp_path / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def alerted(tmp_path: Path) -> list[tuple[str, list[str]]]:
    return [(a["title"], a["entities"]) for a in alerts(tmp_path) if "alert_id" in a]


def entity(app: App, entity_id: str):
    (e,) = [e for e in app.matcher.entities if e.id == entity_id]
    return e


def ids(app: App) -> list[str]:
    return [e.id for e in app.matcher.entities]


# -- permissions ----------------------------------------------------------------------

MANAGING: dict[str, Callable[[Commands, Caller], Awaitable[Reply]]] = {
    "watch_add": lambda c, who: c.watch_add(who, NEW_TERM),
    "watch_remove": lambda c, who: c.watch_remove(who, "Tadzhikistan"),
    "watch_mute": lambda c, who: c.watch_mute(who, "iskp"),
    "watch_unmute": lambda c, who: c.watch_unmute(who, "iskp"),
    "feeds_add": lambda c, who: c.feeds_add(who, "https://example.org/feed.xml"),
    "feeds_remove": lambda c, who: c.feeds_remove(who, "https://example.org/feed.xml"),
}


@pytest.mark.parametrize("command", sorted(MANAGING))
async def test_managing_commands_need_permission(make_settings, command: str) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        before = (ids(app), entity(app, "tajikistan").aliases)
        with pytest.raises(CommandError, match="permission"):
            await MANAGING[command](commands, VIEWER)
        assert (ids(app), entity(app, "tajikistan").aliases) == before
        assert await app.storage.chat_terms() == []
        assert await app.storage.removed_terms() == []
        assert await app.storage.mutes() == {}
        assert await app.storage.added_feeds() == []


async def test_reading_commands_are_open_to_everyone(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        listed = await commands.watch_list(VIEWER)
        assert listed.title == "Watching 3 entities"
        tested = await commands.watch_test(VIEWER, "ISKP")
        assert "would have matched 0 of 0 items" in tested.title
        assert (await commands.feeds_list(VIEWER)).title == "Polling 0 feeds"
        assert (await commands.feeds_status(VIEWER)).title == "Status of 0 feeds"
        assert commands.entity_ids() == ["iskp", "tajikistan", "ajit-doval"]


# -- /watch add -----------------------------------------------------------------------


async def test_add_makes_a_new_topic_entity_named_by_the_term(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        reply = await commands.watch_add(MANAGER, f"  {NEW_TERM}  ")
        assert reply.title == (
            f"Now watching `{NEW_TERM}` as new topic `jamaat-ansarullah`. "
            "It applies from the next poll."
        )
        assert reply.lines == []
        e = entity(app, "jamaat-ansarullah")
        assert (e.name, e.kind, e.aliases, e.source) == (NEW_TERM, "topic", (), "chat")
        (stored,) = await app.storage.chat_terms()
        assert (stored.entity_id, stored.term, stored.kind) == (
            "jamaat-ansarullah",
            NEW_TERM,
            "topic",
        )


async def test_add_with_a_kind_and_an_explicit_new_id(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        reply = await commands.watch_add(MANAGER, NEW_TERM, entity_id="JA_group", kind="group")
        assert "new group `ja_group`" in reply.title
        assert entity(app, "ja_group").kind == "group"


async def test_add_an_alias_to_an_existing_entity(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        reply = await commands.watch_add(MANAGER, "Tojikiston", entity_id="tajikistan")
        assert reply.title.startswith("Now watching `Tojikiston` as alias of `tajikistan`")
        e = entity(app, "tajikistan")
        assert e.aliases == ("Tadzhikistan", "Tadjikistan", "Tojikiston")
        assert (e.kind, e.severity) == ("region", "low")
        assert ids(app) == ["iskp", "tajikistan", "ajit-doval"]
        # the same kind may be given; the alias keeps the entity's kind
        await commands.watch_add(MANAGER, "Tajik republic", entity_id="tajikistan", kind="region")
        assert [(t.term, t.kind) for t in await app.storage.chat_terms()] == [
            ("Tojikiston", "region"),
            ("Tajik republic", "region"),
        ]


async def test_add_refuses_a_kind_that_does_not_fit(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError, match="`tajikistan` is a region, not a person"):
            await commands.watch_add(MANAGER, "Tojikiston", entity_id="tajikistan", kind="person")
        with pytest.raises(CommandError, match="Kind must be one of: group, region"):
            await commands.watch_add(MANAGER, NEW_TERM, kind="organisation")
        assert await app.storage.chat_terms() == []


@pytest.mark.parametrize("bad_id", ["Bad Id", "iskp!", "ключ", "x" * 65, ""])
async def test_add_refuses_a_bad_entity_id(make_settings, bad_id: str) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError, match="lower-case letters, digits"):
            await commands.watch_add(MANAGER, NEW_TERM, entity_id=bad_id)
        assert await app.storage.chat_terms() == []


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("", "Give a term"),
        ("   \t ", "Give a term"),
        ("x" * 101, "at most 100 characters"),
        ("<b>ISKP</b>", "markup"),
        ("@everyone", "markup"),
        ("Wilayat `Khurasan`", "markup"),
        ("ISKP | Taliban", "markup"),
        ("tab\x00null", "markup"),
        ("!!! ...", "letters or digits"),
    ],
)
async def test_add_refuses_bad_terms(make_settings, term: str, message: str) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError, match=message):
            await commands.watch_add(MANAGER, term)
        assert await app.storage.chat_terms() == []


async def test_a_term_of_exactly_the_limit_is_accepted(make_settings) -> None:
    term = ("Khurasan " * 12)[:100].strip()
    async with opened(make_settings([]), Clock()) as (app, commands):
        await commands.watch_add(MANAGER, term)
        (stored,) = await app.storage.chat_terms()
        assert stored.term == term and len(stored.entity_id) <= 64


async def test_adding_the_same_term_twice_is_a_no_op(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        await commands.watch_add(MANAGER, NEW_TERM)
        again = await commands.watch_add(MANAGER, NEW_TERM.upper().replace(" ", "  "))
        assert "already watched" in again.title and "jamaat-ansarullah" in again.title
        also = await commands.watch_add(MANAGER, NEW_TERM, entity_id="jamaat-ansarullah")
        assert "already watched" in also.title
        assert len(await app.storage.chat_terms()) == 1
        assert ids(app).count("jamaat-ansarullah") == 1


async def test_a_term_already_watched_elsewhere_is_not_added_twice(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        # lower-case variant of the file alias "Islamic State Khorasan" (iskp)
        reply = await commands.watch_add(MANAGER, "islamic state khorasan")
        assert reply.title == (
            "`islamic state khorasan` is already watched as `Islamic State Khorasan` (iskp)."
        )
        # as an alias of another entity it would fire both: refused
        with pytest.raises(CommandError, match="already an alias of `iskp`"):
            await commands.watch_add(MANAGER, "islamic state khorasan", entity_id="tajikistan")
        with pytest.raises(CommandError, match="already an alias of `tajikistan`"):
            await commands.watch_add(MANAGER, "TADZHIKISTAN", entity_id="new-one")
        # the entity's name counts too
        with pytest.raises(CommandError, match="already an alias of `ajit-doval`"):
            await commands.watch_add(MANAGER, "ajit doval", entity_id="iskp")
        assert await app.storage.chat_terms() == []
        assert ids(app) == ["iskp", "tajikistan", "ajit-doval"]


async def test_a_new_term_whose_slug_is_taken_gets_a_numbered_id(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        # lower-case "iskp" is a different strict alias from "ISKP", but its slug is taken
        reply = await commands.watch_add(MANAGER, "iskp")
        assert "new topic `iskp-2`" in reply.title
        reply = await commands.watch_add(MANAGER, "Iskp")
        assert "new topic `iskp-3`" in reply.title
        assert ids(app)[-2:] == ["iskp-2", "iskp-3"]
        assert entity(app, "iskp").aliases == ("ISKP", "IS-KP", "ISIS-K", "Islamic State Khorasan")


async def test_two_long_terms_with_the_same_slug_prefix(make_settings) -> None:
    # slug() cuts at 64 characters; the "-2" suffix is added after the cut, so the second
    # id has 66 characters and clean_entity_id refuses it with an entity-id message
    # although the user gave no id.
    long = "Word " + "b" * 70
    async with opened(make_settings([]), Clock()) as (app, commands):
        await commands.watch_add(MANAGER, f"{long} alpha")
        await commands.watch_add(MANAGER, f"{long} gamma")
        assert len(await app.storage.chat_terms()) == 2


async def test_numbers_with_doubled_digits_are_different_terms(make_settings) -> None:
    # alias_keys("Operation Falcon 11") == alias_keys("Operation Falcon 1"), and the
    # matcher finds alias "Operation Falcon 1" in "Operation Falcon 11" with score 100.
    async with opened(make_settings([]), Clock()) as (app, commands):
        await commands.watch_add(MANAGER, "Operation Falcon 1")
        reply = await commands.watch_add(MANAGER, "Operation Falcon 11")
        assert reply.title.startswith("Now watching"), reply.title
        assert app.matcher.match_text("Operation Falcon 111 begins") == []


async def test_an_alias_equal_to_an_exclusion_is_refused(make_settings) -> None:
    # The watchlist loader refuses this in a file ("the entity could never match");
    # from chat it is accepted and the new alias can never fire.
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError):
            await commands.watch_add(MANAGER, "ISKCON", entity_id="iskp")
        assert await app.storage.chat_terms() == []


async def test_a_risky_term_is_added_with_a_warning(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        reply = await commands.watch_add(MANAGER, "the attack")
        assert reply.lines and reply.lines[0].startswith("Warning: ")
        assert "common words" in reply.lines[0]


async def test_an_added_term_alerts_from_the_next_poll_and_after_restart(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    clock = Clock()
    path = "/news.xml"
    first = item(1, f"{NEW_TERM} claims a border raid")
    settings = make_settings([{"url": feed_server.feed(path, [first])}])
    async with opened(settings, clock) as (app, commands):
        assert (await app.run_once()).alerts == 0  # not watched yet
        await commands.watch_add(MANAGER, NEW_TERM)
        second = item(2, f"Leader of {NEW_TERM} arrested in Dushanbe")
        feed_server.feed(path, [second, first])
        clock.advance(600)
        report = await app.run_once()
        assert report.alerts == 1
        assert alerted(tmp_path) == [(second["title"], ["jamaat-ansarullah"])]
    async with opened(settings, clock) as (app, _):
        assert [m.entity_id for m in app.matcher.match_text(f"{NEW_TERM} again")] == [
            "jamaat-ansarullah"
        ]
        third = item(3, f"Court jails {NEW_TERM} recruiters")
        feed_server.feed(path, [third, second, first])
        clock.advance(600)
        assert (await app.run_once()).alerts == 1
    assert [t for t, _ in alerted(tmp_path)] == [second["title"], third["title"]]


async def test_an_alias_added_to_a_file_entity_uses_its_severity(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    clock = Clock()
    url = feed_server.feed("/a.xml", [item(10, "Floods hit Tojikiston")])
    async with opened(make_settings([{"url": url}]), clock) as (app, commands):
        await commands.watch_add(MANAGER, "Tojikiston", entity_id="tajikistan")
        assert (await app.run_once()).alerts == 1
    (alert,) = alerts(tmp_path)
    assert (alert["entities"], alert["severity"]) == (["tajikistan"], "low")


# -- /watch remove ----------------------------------------------------------------------


async def test_remove_a_chat_term(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        await commands.watch_add(MANAGER, "Tojikiston", entity_id="tajikistan")
        await commands.watch_add(MANAGER, NEW_TERM)
        reply = await commands.watch_remove(MANAGER, "tojikiston")
        assert reply.title == "Stopped watching `Tojikiston` (tajikistan)."
        assert entity(app, "tajikistan").aliases == ("Tadzhikistan", "Tadjikistan")
        reply = await commands.watch_remove(MANAGER, NEW_TERM)
        assert reply.title == f"Stopped watching `{NEW_TERM}` (jamaat-ansarullah)."
        assert ids(app) == ["iskp", "tajikistan", "ajit-doval"]
        assert await app.storage.chat_terms() == []
        assert await app.storage.removed_terms() == []
        # The removed alias is gone; the Tajik spelling still meets the name
        # itself as a vowel variant (a rule, not a listed term).
        assert [(m.alias, m.how) for m in app.matcher.match_text(f"{NEW_TERM} in Tojikiston")] == [
            ("Tajikistan", "variant")
        ]


async def test_remove_a_file_alias_stops_it_matching_and_survives_restart(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    clock = Clock()
    path = "/a.xml"
    url = feed_server.feed(path, [item(1, "NSA Doval in Moscow")])
    settings = make_settings([{"url": url, "first_poll": "skip"}])
    async with opened(settings, clock) as (app, commands):
        await app.run_once()  # first poll: marks seen
        reply = await commands.watch_remove(MANAGER, "nsa doval")
        assert reply.title.startswith("Stopped watching `NSA Doval` (ajit-doval).")
        assert "watchlists export" in reply.title
        assert await app.storage.removed_terms() == [("ajit-doval", "NSA Doval")]
        assert entity(app, "ajit-doval").aliases == ("Ajit Kumar Doval",)
        feed_server.feed(
            path,
            [item(2, "NSA Doval meets envoys"), item(3, "Ajit Doval meets envoys in Delhi")],
        )
        clock.advance(600)
        assert (await app.run_once()).alerts == 1
        assert alerted(tmp_path) == [("Ajit Doval meets envoys in Delhi", ["ajit-doval"])]
        # removing it again: it is no longer watched
        with pytest.raises(CommandError, match="`NSA Doval` is not watched"):
            await commands.watch_remove(MANAGER, "NSA Doval")
    async with opened(settings, clock) as (app, _):
        assert entity(app, "ajit-doval").aliases == ("Ajit Kumar Doval",)
        assert app.matcher.match_text("NSA Doval in Beijing") == []
        # the name and the other alias still match
        hits = app.matcher.match_text("Ajit Kumar Doval in Beijing")
        assert [m.entity_id for m in hits] == ["ajit-doval"]


async def test_an_entity_name_cannot_be_removed(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError, match="is the name of `ajit-doval`: mute the entity"):
            await commands.watch_remove(MANAGER, "ajit doval")
        with pytest.raises(CommandError, match="is the name of `iskp`"):
            await commands.watch_remove(MANAGER, "Islamic State Khorasan Province")
        await commands.watch_add(MANAGER, NEW_TERM)
        await commands.watch_add(MANAGER, "Ansarullah", entity_id="jamaat-ansarullah")
        # a chat-made entity's name is a chat term: removing it renames the entity
        await commands.watch_remove(MANAGER, NEW_TERM)
        assert entity(app, "jamaat-ansarullah").name == "Ansarullah"
        assert await app.storage.removed_terms() == []
        assert ids(app) == ["iskp", "tajikistan", "ajit-doval", "jamaat-ansarullah"]


async def test_removing_a_name_never_removes_another_alias(make_settings) -> None:
    # "Tajikistan" (the name) and the file alias "Tadzhikistan" share a matcher key:
    # watch_remove("Tajikistan") removes "Tadzhikistan" instead of refusing, and
    # "Tadzhikistan" still matches through the name.
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError, match="is the name of `tajikistan`"):
            await commands.watch_remove(MANAGER, "Tajikistan")
        assert await app.storage.removed_terms() == []


async def test_removing_an_unknown_term_is_refused(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        with pytest.raises(CommandError, match="`Hizb ut-Tahrir` is not watched"):
            await commands.watch_remove(MANAGER, "Hizb ut-Tahrir")
        with pytest.raises(CommandError, match="Give a term"):
            await commands.watch_remove(MANAGER, " ")
        # "ISKCON" is an exclusion, not an alias
        with pytest.raises(CommandError, match="is not watched"):
            await commands.watch_remove(MANAGER, "ISKCON")


# -- /watch list ------------------------------------------------------------------------


async def test_list_pages_through_many_entities(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        numbers = list(range(1, 26))
        for n in numbers:
            reply = await commands.watch_add(MANAGER, f"Operation Falcon {n}")
            assert reply.title.startswith("Now watching"), reply.title
        first = await commands.watch_list(VIEWER)
        assert (first.page, first.pages) == (1, 2)
        assert first.title == "Watching 28 entities (page 1/2)"
        assert len(first.text) < 2000  # one chat message
        assert len(first.lines) == PAGE_SIZE == 15
        assert first.lines[0] == (
            "iskp · group · Islamic State Khorasan Province — "
            "ISKP, IS-KP, ISIS-K, Islamic State Khorasan"
        )
        second = await commands.watch_list(VIEWER, page=2)
        assert second.title == "Watching 28 entities (page 2/2)"
        assert second.lines == [
            f"operation-falcon-{n} · topic · Operation Falcon {n}" for n in numbers[12:25]
        ]
        for page in (0, 3, -1):
            with pytest.raises(CommandError, match=f"Page {page} does not exist; there are 2"):
                await commands.watch_list(VIEWER, page=page)


async def test_list_by_kind(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        people = await commands.watch_list(VIEWER, kind="person")
        assert people.title == "Watching 1 person"
        assert people.lines == ["ajit-doval · person · Ajit Doval — NSA Doval, Ajit Kumar Doval"]
        topics = await commands.watch_list(VIEWER, kind="topic")
        assert (topics.title, topics.lines, topics.pages) == ("Watching 0 topic", [], 1)
        await commands.watch_add(MANAGER, NEW_TERM)
        topics = await commands.watch_list(VIEWER, kind="topic")
        assert topics.lines == [f"jamaat-ansarullah · topic · {NEW_TERM}"]
        with pytest.raises(CommandError, match="No entities of kind `organisation`"):
            await commands.watch_list(VIEWER, kind="organisation")


async def test_list_shows_muted_entities(make_settings) -> None:
    clock = Clock()
    async with opened(make_settings([]), clock) as (_, commands):
        await commands.watch_mute(MANAGER, "tajikistan", "1h")
        lines = (await commands.watch_list(VIEWER)).lines
        assert lines[1] == "tajikistan · region · Tajikistan (muted) — Tadzhikistan, Tadjikistan"
        assert "(muted)" not in lines[0] + lines[2]
        clock.advance(3601)
        assert not any("(muted)" in line for line in (await commands.watch_list(VIEWER)).lines)


# -- /watch test ------------------------------------------------------------------------


async def test_watch_test_backtests_stored_items(feed_server: FeedServer, make_settings) -> None:
    clock = Clock()
    url = feed_server.feed(
        "/a.xml",
        [
            item(1, f"{NEW_TERM} claims a border raid"),
            item(2, "Rain in Dushanbe"),
            item(3, "Arrests", f"Police say {NEW_TERM} recruited online"),
        ],
    )
    settings = make_settings([{"url": url, "name": "Wire"}])
    async with opened(settings, clock) as (app, commands):
        await app.run_once()
        reply = await commands.watch_test(VIEWER, NEW_TERM)
        assert reply.title == f'"{NEW_TERM}" would have matched 2 of 3 items from the last 7 days'
        assert f"- {NEW_TERM} claims a border raid (Wire, 2026-11-24)" in reply.lines
        assert "- Arrests (Wire, 2026-11-24)" in reply.lines
        # nothing was added by testing
        assert await app.storage.chat_terms() == []
        clock.advance(3 * 86400)
        short = await commands.watch_test(VIEWER, NEW_TERM, days=2)
        assert "matched 0 of 0 items from the last 2 days" in short.title
        long = await commands.watch_test(VIEWER, NEW_TERM, days=90)
        assert "matched 2 of 3 items from the last 90 days" in long.title


@pytest.mark.parametrize("days", [0, -1, 91, 1000])
async def test_watch_test_refuses_bad_days(make_settings, days: float) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        with pytest.raises(CommandError, match="Days must be between 1 and 90"):
            await commands.watch_test(VIEWER, NEW_TERM, days=days)


async def test_watch_test_refuses_a_bad_term(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        with pytest.raises(CommandError, match="markup"):
            await commands.watch_test(VIEWER, "<script>")


# -- /watch mute, unmute ----------------------------------------------------------------


async def test_a_muted_entity_does_not_alert_but_others_do(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    clock = Clock()
    path = "/a.xml"
    url = feed_server.feed(path, [item(1, "ISKP claims Kabul attack")], etag=False)
    settings = make_settings([{"url": url}])
    async with opened(settings, clock) as (app, commands):
        reply = await commands.watch_mute(MANAGER, "ISKP")
        assert reply.title == "Muted `iskp` until unmuted: its matches no longer alert."
        assert app.active_mutes(clock()) == {"iskp"}
        feed_server.feed(
            path,
            [item(2, "Floods in Tajikistan"), item(1, "ISKP claims Kabul attack")],
        )
        report = await app.run_once()
        assert report.alerts == 1
        assert alerted(tmp_path) == [("Floods in Tajikistan", ["tajikistan"])]
    # the mute is stored
    async with opened(settings, clock) as (app, commands):
        assert app.active_mutes(clock()) == {"iskp"}
        feed_server.feed(path, [item(3, "ISIS-K leader killed in Kunar")])
        clock.advance(600)
        assert (await app.run_once()).alerts == 0
        assert (await commands.watch_unmute(MANAGER, "iskp")).title == "Unmuted `iskp`."
        assert app.active_mutes(clock()) == frozenset()
        feed_server.feed(path, [item(4, "IS-KP recruits in Tajik border towns")])
        clock.advance(600)
        assert (await app.run_once()).alerts == 1
        assert (await commands.watch_unmute(MANAGER, "iskp")).title == "`iskp` was not muted."
    assert [t for t, _ in alerted(tmp_path)] == [
        "Floods in Tajikistan",
        "IS-KP recruits in Tajik border towns",
    ]


async def test_a_timed_mute_expires(feed_server: FeedServer, make_settings, tmp_path: Path) -> None:
    clock = Clock()
    path = "/a.xml"
    url = feed_server.feed(path, [item(1, "ISKP claims Kabul attack")])
    async with opened(make_settings([{"url": url}]), clock) as (app, commands):
        reply = await commands.watch_mute(MANAGER, "iskp", "2h")
        assert reply.title == "Muted `iskp` for 2h: its matches no longer alert."
        assert await app.storage.mutes() == {"iskp": clock() + timedelta(hours=2)}
        assert (await app.run_once()).alerts == 0
        clock.advance(2 * 3600 - 1)
        feed_server.feed(path, [item(2, "ISIS-K leader killed in Kunar")])
        assert (await app.run_once()).alerts == 0
        clock.advance(1)  # now exactly at the end of the mute
        feed_server.feed(path, [item(3, "IS-KP recruits in Tajik border towns")])
        assert (await app.run_once()).alerts == 1
    assert alerted(tmp_path) == [("IS-KP recruits in Tajik border towns", ["iskp"])]


async def test_muting_again_replaces_the_duration(make_settings) -> None:
    clock = Clock()
    async with opened(make_settings([]), clock) as (app, commands):
        await commands.watch_mute(MANAGER, "iskp", "1h")
        await commands.watch_mute(MANAGER, "iskp")
        assert await app.storage.mutes() == {"iskp": None}
        clock.advance(86400)
        assert app.active_mutes(clock()) == {"iskp"}
        await commands.watch_mute(MANAGER, "iskp", "30m")
        assert app.active_mutes(clock()) == {"iskp"}
        clock.advance(1800)
        assert app.active_mutes(clock()) == frozenset()


async def test_mute_refuses_unknown_entities_and_bad_durations(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError, match="No entity `taliban`"):
            await commands.watch_mute(MANAGER, "taliban")
        with pytest.raises(CommandError, match="No entity `taliban`"):
            await commands.watch_unmute(MANAGER, "taliban")
        with pytest.raises(CommandError, match="lower-case letters"):
            await commands.watch_mute(MANAGER, "is kp")
        for bad in ("soon", "5 parsecs", "1h-", "m"):
            with pytest.raises(CommandError, match=f"`{bad}` is not a duration"):
                await commands.watch_mute(MANAGER, "iskp", bad)
        with pytest.raises(CommandError, match="must be positive"):
            await commands.watch_mute(MANAGER, "iskp", "0m")
        for huge in ("366d", "99999999999d"):
            with pytest.raises(CommandError, match="longer than a year"):
                await commands.watch_mute(MANAGER, "iskp", huge)
        assert await app.storage.mutes() == {}


# -- /feeds add -------------------------------------------------------------------------


async def test_add_a_feed_polls_it_for_new_items_only_and_keeps_it(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    clock = Clock()
    path = "/chat.xml"
    old = item(21, "ISKP claims an old attack")
    url = feed_server.feed(path, [old])
    settings = make_settings([], allow_private_feeds=True)
    async with opened(settings, clock) as (app, commands):
        reply = await commands.feeds_add(MANAGER, url)
        assert reply.title == "Added Test feed (1 items now; only new ones will alert)."
        assert await app.storage.added_feeds() == [(url, "Test feed")]
        assert list(app.feeds) == [url]
        assert (await app.run_once()).alerts == 0  # first poll: existing items are skipped
        new = item(22, "ISIS-K leader killed in Kunar")
        feed_server.feed(path, [new, old])
        clock.advance(600)
        assert (await app.run_once()).alerts == 1
        assert alerted(tmp_path) == [(new["title"], ["iskp"])]
        listed = await commands.feeds_list(VIEWER)
        assert listed.lines == [f"Test feed — {url} (added from chat)"]
    async with opened(settings, clock) as (app, commands):
        assert list(app.feeds) == [url]
        assert app.feeds[url].name == "Test feed"
        assert app.states[url].first_polled
        latest = item(23, "IS-KP recruits in Tajik border towns")
        feed_server.feed(path, [latest, new, old])
        clock.advance(600)
        assert (await app.run_once()).alerts == 1
    assert [t for t, _ in alerted(tmp_path)] == [new["title"], latest["title"]]


async def test_add_a_feed_with_a_name(feed_server: FeedServer, make_settings) -> None:
    url = feed_server.feed("/named.xml", [])
    settings = make_settings([], allow_private_feeds=True)
    async with opened(settings, Clock()) as (app, commands):
        reply = await commands.feeds_add(MANAGER, f"  {url} ", name="  Asia   desk ")
        assert reply.title.startswith("Added Asia desk (0 items now")
        assert await app.storage.added_feeds() == [(url, "Asia desk")]


async def test_add_refuses_what_is_not_a_feed(feed_server: FeedServer, make_settings) -> None:
    page = feed_server.set(
        "/page.html",
        body=b"<!doctype html><html><head><title>Hi</title></head><body>hello</body></html>",
        headers={"Content-Type": "text/html"},
    )
    missing = feed_server.url("/missing.xml")
    settings = make_settings([], allow_private_feeds=True)
    async with opened(settings, Clock()) as (app, commands):
        with pytest.raises(CommandError, match=r"Could not read that feed: not an? .*feed") as e:
            await commands.feeds_add(MANAGER, page)
        assert "Traceback" not in str(e.value)
        with pytest.raises(CommandError, match="Could not read that feed: HTTP 404"):
            await commands.feeds_add(MANAGER, missing)
        assert await app.storage.added_feeds() == []
        assert app.feeds == {}


async def test_adding_a_feed_twice_is_harmless(feed_server: FeedServer, make_settings) -> None:
    configured = feed_server.feed("/configured.xml", [item(31, "Rain in Dushanbe")])
    url = feed_server.feed("/chat.xml", [item(32, "Snow in Khorog")])
    settings = make_settings([{"url": configured}], allow_private_feeds=True)
    async with opened(settings, Clock()) as (app, commands):
        await commands.feeds_add(MANAGER, url)
        again = await commands.feeds_add(MANAGER, url)
        assert again.title == f"Already polling {url}."
        configured_again = await commands.feeds_add(MANAGER, configured)
        assert configured_again.title == f"Already polling {configured}."
        assert await app.storage.added_feeds() == [(url, "Test feed")]
        assert list(app.feeds) == [configured, url]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/a.xml", "127.0.0.1 is a loopback address"),
        ("http://localhost:{port}/a.xml", "localhost resolves to "),
        ("http://10.1.2.3/feed.xml", "10.1.2.3 is a private address"),
        ("http://192.168.0.1/feed.xml", "192.168.0.1 is a private address"),
        ("http://[::1]:{port}/a.xml", "::1 is a loopback address"),
        ("http://2130706433:{port}/a.xml", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
    ],
)
async def test_add_refuses_private_addresses(
    feed_server: FeedServer, make_settings, url: str, reason: str
) -> None:
    feed_server.feed("/a.xml", [item(41, "ISKP claims Kabul attack")])
    url = url.format(port=feed_server.port)
    async with opened(make_settings([]), Clock()) as (app, commands):
        with pytest.raises(CommandError) as e:
            await commands.feeds_add(MANAGER, url)
        message = str(e.value)
        assert reason in message
        assert "public internet addresses" in message
        assert await app.storage.added_feeds() == []
        assert app.feeds == {}
    assert feed_server.requests.get("/a.xml", 0) == 0


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/etc/passwd", "no scheme"),
        ("file:///etc/passwd", "only http:// and https://"),
        ("ftp://example.org/feed.xml", "only http:// and https://"),
        ("http://user:pw@example.org/feed.xml", "user name or password"),
        ("not a url", "space"),
        ("", "no scheme"),
    ],
)
async def test_add_refuses_urls_that_are_not_http(make_settings, url: str, reason: str) -> None:
    # allow_private_feeds must not open local files: the fetcher reads plain paths
    settings = make_settings([], allow_private_feeds=True)
    async with opened(settings, Clock()) as (app, commands):
        with pytest.raises(CommandError, match=reason):
            await commands.feeds_add(MANAGER, url)
        assert await app.storage.added_feeds() == []


# -- /feeds remove, list, status ----------------------------------------------------------


async def test_remove_a_chat_feed_stops_polling_it(feed_server: FeedServer, make_settings) -> None:
    clock = Clock()
    url = feed_server.feed("/chat.xml", [item(51, "Rain in Dushanbe")])
    settings = make_settings([], allow_private_feeds=True)
    async with opened(settings, clock) as (app, commands):
        await commands.feeds_add(MANAGER, url)
        await app.run_once()
        assert feed_server.requests["/chat.xml"] == 2  # the check, then one poll
        reply = await commands.feeds_remove(MANAGER, f" {url} ")
        assert reply.title == f"Stopped polling {url}."
        assert app.feeds == {}
        assert await app.storage.added_feeds() == []
        clock.advance(600)
        report = await app.run_once()
        assert report.outcomes == []
        assert feed_server.requests["/chat.xml"] == 2
        with pytest.raises(CommandError, match="No such feed"):
            await commands.feeds_remove(MANAGER, url)
    async with opened(settings, clock) as (app, _):
        assert app.feeds == {}
        await app.run_once()
    assert feed_server.requests["/chat.xml"] == 2


async def test_remove_a_feed_by_the_url_as_it_was_typed(
    feed_server: FeedServer, make_settings
) -> None:
    # feeds_add stores check_url_syntax's form ("…:port/"); feeds_remove compares raw text
    typed = feed_server.feed("/", [item(52, "Rain in Dushanbe")]).rstrip("/")
    settings = make_settings([], allow_private_feeds=True)
    async with opened(settings, Clock()) as (app, commands):
        await commands.feeds_add(MANAGER, typed)
        await commands.feeds_remove(MANAGER, typed)
        assert app.feeds == {}


async def test_a_re_added_feed_skips_its_existing_items_again(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    # After remove + add in one process the old state (first_polled) is reused, so the
    # items present when the feed is added again do alert, unlike after a restart.
    path = "/chat.xml"
    url = feed_server.feed(path, [item(53, "ISKP claims Kabul attack")])
    settings = make_settings([], allow_private_feeds=True)
    async with opened(settings, Clock()) as (app, commands):
        await commands.feeds_add(MANAGER, url)
        await app.run_once()
        await commands.feeds_remove(MANAGER, url)
        feed_server.feed(path, [item(54, "ISIS-K leader killed"), item(53, "ISKP claims")])
        reply = await commands.feeds_add(MANAGER, url)
        assert "only new ones will alert" in reply.title
        assert (await app.run_once()).alerts == 0


async def test_a_configured_feed_cannot_be_removed_from_chat(
    feed_server: FeedServer, make_settings
) -> None:
    url = feed_server.feed("/configured.xml", [])
    async with opened(make_settings([{"url": url}]), Clock()) as (app, commands):
        with pytest.raises(CommandError, match=r"listed in bot\.toml"):
            await commands.feeds_remove(MANAGER, url)
        with pytest.raises(CommandError, match="No such feed"):
            await commands.feeds_remove(MANAGER, "https://example.org/other.xml")
        assert list(app.feeds) == [url]


async def test_feeds_list_and_status(feed_server: FeedServer, make_settings) -> None:
    clock = Clock()
    good = feed_server.feed("/good.xml", [item(61, "Rain in Dushanbe"), item(62, "Snow in Khorog")])
    broken = feed_server.set("/broken.xml", status=500, body=b"oops")
    settings = make_settings(
        [{"url": good, "name": "Good wire"}, {"url": broken, "name": "Broken wire"}]
    )
    async with opened(settings, clock) as (app, commands):
        listed = await commands.feeds_list(VIEWER)
        assert listed.title == "Polling 2 feeds"
        assert listed.lines == [f"Good wire — {good}", f"Broken wire — {broken}"]
        before = await commands.feeds_status(VIEWER)
        assert before.lines == [
            "Good wire: ok · last success never · 0 items seen",
            "Broken wire: ok · last success never · 0 items seen",
        ]
        await app.run_once()
        clock.advance(120)
        status = await commands.feeds_status(VIEWER)
        assert status.title == "Status of 2 feeds"
        good_line, broken_line = status.lines
        assert good_line == "Good wire: ok · last success 2m ago · 2 items seen"
        assert broken_line.startswith("Broken wire: 1 errors, retry in ")
        assert "HTTP 500" in broken_line
        assert broken_line.endswith("· last success never · 0 items seen")
        assert "FAILING" not in broken_line
        # after failing_after (24h by default) of failures it is flagged
        clock.advance(25 * 3600)
        await app.run_once()
        broken_line = (await commands.feeds_status(VIEWER)).lines[1]
        assert broken_line.startswith("Broken wire: FAILING · 2 errors, retry ")


async def test_feeds_status_reports_deliveries_given_up_on(make_settings) -> None:
    clock = Clock()
    async with opened(make_settings([]), clock) as (app, commands):
        assert (await commands.feeds_status(VIEWER)).lines == []
        channel = app.settings.channels[0]
        await app.storage.set_channel_broken(
            channel.platform, channel.id, "Slack channel C1: channel_not_found", clock.now
        )
        clock.advance(180)
        status = await commands.feeds_status(VIEWER)
    assert status.lines == [
        "Delivery problems:",
        f"{channel.key}: channel refused, alerts queued: Slack channel C1: channel_not_found "
        "(3m ago)",
    ]


# -- autocomplete -----------------------------------------------------------------------


async def test_entity_ids_put_prefix_matches_first(make_settings) -> None:
    async with opened(make_settings([]), Clock()) as (_, commands):
        await commands.watch_add(MANAGER, "Doval visit")
        await commands.watch_add(MANAGER, "Kabul airport")
        assert commands.entity_ids() == [
            "iskp",
            "tajikistan",
            "ajit-doval",
            "doval-visit",
            "kabul-airport",
        ]
        assert commands.entity_ids("DOV") == ["doval-visit", "ajit-doval"]
        assert commands.entity_ids(" a ") == [
            "ajit-doval",
            "tajikistan",
            "doval-visit",
            "kabul-airport",
        ]
        assert commands.entity_ids("a", limit=2) == ["ajit-doval", "tajikistan"]
        assert commands.entity_ids("zzz") == []


# -- export -----------------------------------------------------------------------------


def write_config(tmp_path: Path, watchlist_dir: Path) -> Path:
    config = tmp_path / "bot.toml"
    config.write_text(
        "[bot]\n"
        f"database = {json.dumps(str(tmp_path / 'bot.sqlite3'))}\n"
        f"watchlists = {json.dumps(str(watchlist_dir))}\n"
        "[[channels]]\n"
        'platform = "jsonl"\n'
        f"id = {json.dumps(str(tmp_path / 'alerts.jsonl'))}\n",
        encoding="utf-8",
    )
    return config


def run_bot(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "PYTHONUTF8": "1"}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        timeout=60,
    )


async def test_export_writes_chat_terms_as_toml(tmp_path: Path, watchlist_dir: Path) -> None:
    config = write_config(tmp_path, watchlist_dir)
    async with opened(load_config(config), Clock()) as (_, commands):
        await commands.watch_add(MANAGER, NEW_TERM, kind="group")
        await commands.watch_add(MANAGER, 'Ansarullah "JA"', entity_id="jamaat-ansarullah")
        await commands.watch_add(MANAGER, "Tojikiston", entity_id="tajikistan")
        await commands.watch_remove(MANAGER, "Islamic State Khorasan")
    out = tmp_path / "export"
    done = run_bot("watchlists", "export", "--config", str(config), "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["chat.toml", "test.toml"]
    assert f"wrote {out / 'test.toml'}" in done.stdout
    for p in out.iterdir():
        tomllib.loads(p.read_text(encoding="utf-8"))
    exported = {e.id: e for e in load_watchlists(out)}
    # chat.toml sorts first
    assert list(exported) == ["jamaat-ansarullah", "iskp", "tajikistan", "ajit-doval"]
    ja = exported["jamaat-ansarullah"]
    assert (ja.name, ja.kind, ja.aliases) == (NEW_TERM, "group", ('Ansarullah "JA"',))
    assert exported["tajikistan"].aliases == ("Tadzhikistan", "Tadjikistan", "Tojikiston")
    iskp = exported["iskp"]
    assert iskp.aliases == ("ISKP", "IS-KP", "ISIS-K")
    assert (iskp.exclude, iskp.severity) == (("ISKCON",), "high")
    # the original file is not touched
    assert "Tojikiston" not in (watchlist_dir / "test.toml").read_text()

    printed = run_bot("watchlists", "export", "--config", str(config))
    assert printed.returncode == 0, printed.stderr
    assert "# ---- test.toml" in printed.stdout and "# ---- chat.toml" in printed.stdout
    assert f'name = "{NEW_TERM}"' in printed.stdout
    assert '"Ansarullah \\"JA\\""' in printed.stdout
    assert not (tmp_path / "export2").exists()


async def test_digest_now_posts_in_the_channel_it_was_typed_in(
    feed_server: FeedServer, make_settings, tmp_path: Path
) -> None:
    url = feed_server.feed("/a.xml", [item(1, "ISKP claims attack on Kunduz mosque")])
    settings = make_settings([{"url": url}])
    channel = settings.channels[0]
    async with opened(settings, Clock()) as (app, commands):
        await app.run_once()
        here = Caller("u-viewer", can_manage=False, channel=channel.key)
        reply = await commands.digest_now(here)
        assert reply.title == "Posted the digest of the last 24 hours (1 entity)."
        elsewhere = Caller("u-viewer", can_manage=False, channel="jsonl:/elsewhere.jsonl")
        with pytest.raises(CommandError, match="does not get the bot's messages"):
            await commands.digest_now(elsewhere)
    (digest,) = [r for r in alerts(tmp_path) if "digest_key" in r]
    assert [c["entity_id"] for c in digest["digest"]["counts"]] == ["iskp"]
