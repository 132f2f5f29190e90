"""Dates from another age: clamped once to the fetch time, said so, and never a crash."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.chat.console import format_alert
from bot.chat.discord.render import alert_embed
from bot.chat.jsonl import alert_record
from bot.chat.slack.render import alert_blocks
from bot.config import FirstPoll
from bot.delivery.routing import first_poll_allows
from bot.feeds.dates import settle_date
from bot.feeds.parse import parse_feed_bytes
from bot.models import Alert, Item, Match
from bot.storage.sqlite import APPLICATION_ID, MIGRATIONS, open_storage
from bot.stories import StoryIndex, StoryItem, StoryTracker
from tests.feedserver import FeedServer, item
from tests.run_bot import alert_records, run_once, write_config

FETCHED = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
KABUL = Match("kabul", "Kabul", "region", "medium", "Kabul", "Kabul", 100.0, "title", 0, 5)


def dated(published: datetime | None, note: str = "") -> Item:
    return Item("https://feeds.example/a.rss", "g", "https://news.example/x", "Blast in Kabul",
                published=published, date_note=note)  # fmt: skip


@pytest.mark.parametrize(
    ("published", "note"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), "date 0001-01-01 00:00+00:00 is impossible (before 1990)"),
        (datetime(1989, 12, 31, 23, 59, tzinfo=UTC), "is impossible (before 1990)"),
        (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), "is impossible (more than a day after"),
        (FETCHED + timedelta(days=1, seconds=1), "more than a day after the fetch"),
    ],
)
def test_impossible_dates_become_the_fetch_time_with_a_note(published: datetime, note: str) -> None:
    settled = settle_date(dated(published), FETCHED)
    assert settled.published == FETCHED
    assert note in settled.date_note and settled.date_note.endswith("; using the fetch time")


@pytest.mark.parametrize(
    "published",
    [None, datetime(1990, 1, 1, tzinfo=UTC), FETCHED, FETCHED + timedelta(days=1)],
)
def test_possible_dates_and_undated_items_are_kept(published: datetime | None) -> None:
    assert settle_date(dated(published), FETCHED) == dated(published)


def test_a_date_beyond_the_calendar_is_put_at_the_fetch_time() -> None:
    note = "date '0000-01-01T00:00:00Z' is impossible (beyond the calendar)"
    settled = settle_date(dated(None, note), FETCHED)
    assert settled.published == FETCHED and settled.date_note == f"{note}; using the fetch time"


@pytest.mark.parametrize(
    ("published", "new"),
    [
        (FETCHED - timedelta(hours=1), True),
        (FETCHED + timedelta(minutes=1), False),  # ahead of the fetch: no proof of age
        (datetime(9999, 12, 31, tzinfo=UTC), False),
        (datetime(1, 1, 1, tzinfo=UTC), False),
    ],
)
def test_future_and_impossible_dates_are_not_new_on_a_first_poll(
    published: datetime, new: bool
) -> None:
    """Clamped to the fetch time, a year-9999 item must still not look brand new."""
    policy = FirstPoll("newer", 86400.0)
    assert first_poll_allows(policy, settle_date(dated(published), FETCHED), FETCHED) is new


_ANY_DATE = st.datetimes(timezones=st.just(UTC))


@settings(max_examples=150, deadline=None)
@given(st.lists(_ANY_DATE, min_size=1, max_size=6))
def test_any_parsed_date_never_raises_anywhere_in_the_pipeline(dates: list[datetime]) -> None:
    """Settled, matched into stories, routed and rendered for every platform."""
    tracker = StoryTracker(48 * 3600)
    for n, when in enumerate(dates):
        raw = replace(dated(when), guid=f"g{n}", url=f"https://news.example/{n}")
        it = settle_date(raw, FETCHED)
        assert it.published is not None
        assert datetime(1990, 1, 1, tzinfo=UTC) <= it.published <= FETCHED + timedelta(days=1)
        first_poll_allows(FirstPoll("newer", 86400.0), it, FETCHED)
        tracker.assign(it, (KABUL,), FETCHED)
        alert = Alert(n, "console", "c", it, (KABUL,), FETCHED, story="s")
        format_alert(alert)
        json.dumps(alert_record(alert))
        alert_blocks(alert)
        alert_embed(alert)
    tracker.expire(FETCHED)


@settings(max_examples=100, deadline=None)
@given(
    st.integers(0, 10001),
    st.integers(1, 12),
    st.integers(1, 28),
    st.integers(-14, 14),
    st.sampled_from(["pubDate", "dc:date"]),
)
def test_any_date_a_feed_writes_parses_and_settles(
    year: int, month: int, day: int, offset: int, element: str
) -> None:
    """From the feed's text: never raises, and lands in [1990, fetch + 1 day] or undated."""
    when = f"{year:04d}-{month:02d}-{day:02d}T12:00:00{offset:+03d}:00"
    body = (
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>T</title>'
        f"<item><title>Kabul</title><link>https://e.org/1</link><{element}>{when}</{element}>"
        "</item></channel></rss>"
    ).encode()
    (parsed,) = parse_feed_bytes(body, "u", "n").items
    it = settle_date(parsed, FETCHED)
    if it.published is not None:
        assert datetime(1990, 1, 1, tzinfo=UTC) <= it.published <= FETCHED + timedelta(days=1)
        assert bool(it.date_note) == (it.published == FETCHED)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.none(), _ANY_DATE), min_size=1, max_size=6))
def test_story_grouping_survives_dates_it_was_never_meant_to_see(
    dates: list[datetime | None],
) -> None:
    """StoryIndex is pure and used beyond the poller: even unclamped dates never overflow."""
    index = StoryIndex(timedelta(hours=48))
    for n, when in enumerate(dates):
        member = StoryItem.of(f"k{n}", "Blast in Kabul kills 5", "", when, {"kabul"})
        index.add(member, index.find(member) or member.key)
    index.expire(FETCHED)


async def test_an_item_from_year_one_alerts_and_says_its_date_was_impossible(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    """It used to raise OverflowError in story grouping and fail the whole feed every poll."""
    recent = datetime.now(UTC) - timedelta(hours=2)
    url = feed_server.feed("/a.xml", [item(1, "Blast in Kabul market kills five", when=recent)])
    config = write_config(tmp_path, url)
    status, _, err = await run_once(config)
    assert status == 0, err
    feed_server.feed(
        "/a.xml",
        [
            item(2, "Herat governor opens a new road", when=datetime(1, 1, 1, tzinfo=UTC)),
            item(1, "Blast in Kabul market kills five", when=recent),
        ],
    )
    status, out, err = await run_once(config)
    assert status == 0, err
    assert "OverflowError" not in err and "failed unexpectedly" not in err
    (old,) = [r for r in alert_records(tmp_path) if r["title"].startswith("Herat governor")]
    assert old["date_note"] == (
        "date 0001-01-01 00:00+00:00 is impossible (before 1990); using the fetch time"
    )
    assert datetime.fromisoformat(old["published"]) > recent
    assert f"note: {old['date_note']}" in out


async def test_a_first_poll_age_window_skips_future_dated_items(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    now = datetime.now(UTC)
    url = feed_server.feed(
        "/a.xml",
        [
            item(1, "Kabul: recent report", when=now - timedelta(hours=1)),
            item(2, "Kabul: report from the year 9999", when=datetime(9999, 12, 31, tzinfo=UTC)),
            item(3, "Kabul: report dated next month", when=now + timedelta(days=30)),
        ],
    )
    status, _, err = await run_once(write_config(tmp_path, url, first_poll="24h"))
    assert status == 0, err
    assert [r["title"] for r in alert_records(tmp_path)] == ["Kabul: recent report"]


async def test_migration_puts_stored_impossible_dates_at_their_fetch_time(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    year_one = datetime(1, 1, 1, tzinfo=UTC).timestamp()
    fetched = FETCHED.timestamp()
    con = sqlite3.connect(path)
    # The database as migration 5 left it (later migrations, numbered after 6, stay
    # out of it), with the dates old bots stored.
    for number, script in enumerate(MIGRATIONS[:5], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version = {number}")
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    with con:
        con.executemany(
            "INSERT INTO items (feed_url, guid, url, title, summary, published, feed_name, "
            "fetched_at) VALUES ('f', ?, 'u', 't', '', ?, 'n', ?)",
            [("old", year_one, fetched), ("far", fetched + 400 * 86400, fetched),
             ("fine", fetched - 3600, fetched)],
        )  # fmt: skip
        con.execute("PRAGMA user_version = 5")
    con.close()
    async with open_storage(path) as storage:
        items = {i.guid: i for i in await storage.items_since(FETCHED - timedelta(days=1))}
    assert items["old"].published == FETCHED and items["far"].published == FETCHED
    assert items["old"].date_note == (
        "date 0001-01-01 00:00+00:00 is impossible (before 1990); using the fetch time"
    )
    assert items["far"].date_note.endswith(
        "is impossible (more than a day after the fetch); using the fetch time"
    )
    assert items["fine"].published == FETCHED - timedelta(hours=1)
    assert items["fine"].date_note == ""
