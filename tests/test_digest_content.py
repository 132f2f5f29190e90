"""bot.digest.content and bot.digest.text: the digest built from hand-made input, and its text."""

from __future__ import annotations

import io
import unicodedata
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from bot.digest.content import (
    build_digest,
    daily_counts,
    digest_title,
    feed_problems,
    humanize_duration,
    local_days,
)
from bot.digest.model import DigestInput, EntityCount, FeedHealth, StoryRecord
from bot.digest.text import change_marker, render_text
from bot.models import Entity

NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # a Wednesday
H = timedelta(hours=1)
ENTITIES = {
    e.id: e
    for e in (
        Entity("iskp", "ISKP", "group"),
        Entity("ttp", "Tehrik-i-Taliban", "group"),
        Entity("tajikistan", "Tajikistan", "region"),
        Entity("kabul", "Kabul", "region"),
        Entity("jane", "Jane Doe", "person"),
        Entity("herat", "Herat", "region"),
    )
}


def mentions(entity_id: str, *hours_ago: float) -> list[tuple[str, datetime]]:
    return [(entity_id, NOW - timedelta(hours=h)) for h in hours_ago]


def make_input(**kw) -> DigestInput:
    base: dict = {
        "now": NOW,
        "timezone": "Europe/London",
        "entities": ENTITIES,
        "mentions": (),
        "stories": (),
        "first_seen": {},
    }
    return DigestInput(**{**base, **kw})


def story(key: str, feeds: int, items: int, first_seen_hours_ago: float, **kw) -> StoryRecord:
    values: dict = {
        "key": key,
        "title": f"Story {key}",
        "url": f"https://news.example/{key}",
        "first_seen": NOW - timedelta(hours=first_seen_hours_ago),
        "feeds": frozenset(f"https://feed{n}.example/rss" for n in range(feeds)),
        "items": items,
        "entity_ids": frozenset({"iskp"}),
    }
    return StoryRecord(**{**values, **kw})


def rows(counts: tuple[EntityCount, ...]) -> list[tuple[str, str, int, int]]:
    return [(c.entity_id, c.kind, c.mentions, c.previous) for c in counts]


# -- counts -------------------------------------------------------------------------------


def test_counts_with_changes_grouped_by_kind() -> None:
    data = make_input(
        mentions=[
            *mentions("tajikistan", 1, 2, 3, 25, 26, 27),  # same as yesterday
            *mentions("iskp", 1, 5, 23, 30),  # up
            *mentions("ttp", 30, 40),  # dropped to zero: still listed
            *mentions("jane", 2),  # new
            *mentions("kabul", 49, 100),  # older than 48 h: not listed
            *mentions("herat", 4, 5, 6),  # ties with ISKP's 3 in its kind: by name
            *mentions("gone", 3, 4),  # removed from the watchlists since
        ]
    )
    digest = build_digest(data, chart=False)
    assert rows(digest.counts) == [
        ("iskp", "group", 3, 1),
        ("ttp", "group", 0, 2),
        ("herat", "region", 3, 0),
        ("tajikistan", "region", 3, 3),
        ("jane", "person", 1, 0),
        ("gone", "other", 2, 0),
    ]
    assert digest.counts[-1].name == "gone"
    assert [c.change for c in digest.counts] == [2, -2, 3, 0, 1, 2]
    assert not digest.empty


def test_period_boundaries() -> None:
    """(now − 24 h, now] is today, (now − 48 h, now − 24 h] yesterday; the future is neither."""
    data = make_input(mentions=[*mentions("iskp", 0, 24, 48, -1), *mentions("iskp", 23.99)])
    (count,) = build_digest(data, chart=False).counts
    assert (count.mentions, count.previous) == (2, 1)


def test_digest_covers_the_24_hours_to_now() -> None:
    digest = build_digest(make_input(), chart=False)
    assert (digest.start, digest.end, digest.timezone) == (NOW - 24 * H, NOW, "Europe/London")


def test_a_kind_named_other_in_the_watchlists_takes_unknown_ids_too() -> None:
    entities = {**ENTITIES, "misc": Entity("misc", "Misc", "other")}
    data = make_input(entities=entities, mentions=[*mentions("gone", 1), *mentions("iskp", 1)])
    assert rows(build_digest(data, chart=False).counts) == [
        ("iskp", "group", 1, 0),
        ("gone", "other", 1, 0),
    ]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        build_digest(make_input(now=datetime(2026, 11, 25, 8)))


# -- top stories --------------------------------------------------------------------------


def test_top_stories_ranked_by_sources_then_items_then_first_seen() -> None:
    data = make_input(
        mentions=mentions("iskp", 1),
        stories=[
            story("a", feeds=3, items=3, first_seen_hours_ago=5),
            story("b", feeds=3, items=5, first_seen_hours_ago=2),
            story("c", feeds=1, items=9, first_seen_hours_ago=20),
            story("d", feeds=3, items=5, first_seen_hours_ago=4),
            story("e", feeds=4, items=4, first_seen_hours_ago=1),
        ],
        top_stories=3,
    )
    top = build_digest(data, chart=False).top_stories
    assert [(s.title, s.sources, s.items) for s in top] == [
        ("Story e", 4, 4),
        ("Story d", 3, 5),
        ("Story b", 3, 5),
    ]
    assert top[0].url == "https://news.example/e"
    assert top[0].first_seen == NOW - H


def test_top_story_entities_are_names_sorted() -> None:
    data = make_input(
        stories=[story("a", 2, 2, 1, entity_ids=frozenset({"tajikistan", "iskp", "gone"}))]
    )
    (top,) = build_digest(data, chart=False).top_stories
    assert top.entities == ("gone", "ISKP", "Tajikistan")


def test_top_stories_limit_zero() -> None:
    data = make_input(stories=[story("a", 2, 2, 1)], top_stories=0)
    assert build_digest(data, chart=False).top_stories == ()


# -- first seen ---------------------------------------------------------------------------


def test_entities_seen_for_the_first_time_in_the_period() -> None:
    data = make_input(
        mentions=[*mentions("jane", 2, 3), *mentions("herat", 20), *mentions("iskp", 1)],
        first_seen={
            "jane": NOW - 3 * H,
            "herat": NOW - 20 * H,
            "iskp": NOW - timedelta(days=30),
            "kabul": NOW - 24 * H,  # exactly at the start: the day before
        },
    )
    new = build_digest(data, chart=False).new_entities
    assert [(c.entity_id, c.name, c.kind, c.mentions) for c in new] == [
        ("herat", "Herat", "region", 1),
        ("jane", "Jane Doe", "person", 2),
    ]


# -- blind spots --------------------------------------------------------------------------


def test_feed_problems() -> None:
    feeds = [
        FeedHealth(
            "Healthy",
            "https://ok.example/rss",
            last_success_at=NOW - H,
            last_new_at=NOW - 2 * H,
            mean_gap=4 * 3600,
        ),
        FeedHealth(
            "Quiet but normal",
            "https://q.example/rss",
            last_success_at=NOW,
            last_new_at=NOW - 11 * H,
            mean_gap=4 * 3600,
        ),
        FeedHealth(
            "Silent",
            "https://s.example/rss",
            last_success_at=NOW,
            last_new_at=NOW - timedelta(days=3),
            mean_gap=4 * 3600,
        ),
        FeedHealth(
            "Gap unknown",
            "https://u.example/rss",
            last_success_at=NOW,
            last_new_at=NOW - timedelta(days=30),
        ),
        FeedHealth(
            "Failing",
            "https://f.example/rss",
            last_success_at=NOW - 6 * H,
            failing_since=NOW - 6 * H,
            last_error="HTTP 503",
            last_new_at=NOW - timedelta(days=3),
            mean_gap=3600,
        ),
        FeedHealth(
            "Errored once",
            "https://e.example/rss",
            last_success_at=NOW - 2 * H,
            last_error="timeout",
        ),
        FeedHealth(
            "Errors, no success for two days",
            "https://n.example/rss",
            last_success_at=NOW - timedelta(days=2),
            last_error="DNS failure",
        ),
        FeedHealth("Never worked", "https://never.example/rss", last_error="HTTP 404"),
        FeedHealth(
            "Off",
            "https://off.example/rss",
            disabled_reason="410 Gone",
            failing_since=NOW - 48 * H,
            last_error="HTTP 410",
        ),
    ]
    problems = feed_problems(feeds, NOW)
    assert [(p.name, p.problem) for p in problems] == [
        ("Off", "disabled: 410 Gone"),
        ("Errors, no success for two days", "failing for 2d: DNS failure"),
        ("Failing", "failing for 6h: HTTP 503"),
        ("Never worked", "failing: HTTP 404"),
        ("Silent", "silent for 3d (usually a new item every 4h)"),
    ]
    assert problems[0].url == "https://off.example/rss"
    assert build_digest(make_input(feeds=feeds), chart=False).feed_problems == problems


def test_feed_problem_text_is_one_line_and_bounded() -> None:
    since = NOW - timedelta(minutes=40)
    error = "bad\r\nthing\x1b[2J" + "x" * 500
    feed = FeedHealth("F", "https://f.example/rss", failing_since=since, last_error=error)
    (problem,) = feed_problems([feed], NOW)
    assert problem.problem.startswith("failing for 40m: bad thing [2J")
    assert "\n" not in problem.problem and "\x1b" not in problem.problem
    assert len(problem.problem) < 230


def test_failing_without_an_error_text() -> None:
    feed = FeedHealth("F", "https://f.example/rss", failing_since=NOW - 5 * H)
    assert feed_problems([feed], NOW)[0].problem == "failing for 5h"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "0s"),
        (0, "0s"),
        (45, "45s"),
        (60, "1m"),
        (40 * 60, "40m"),
        (89 * 60, "89m"),
        (90 * 60, "2h"),
        (5 * 3600, "5h"),
        (5.5 * 3600, "6h"),
        (35 * 3600, "35h"),
        (36 * 3600, "2d"),
        (3 * 86400 + 3600, "3d"),
        (400 * 86400, "400d"),
    ],
)
def test_humanize_duration(seconds: float, text: str) -> None:
    assert humanize_duration(seconds) == text


# -- title, days and the chart ------------------------------------------------------------


def test_title_is_the_local_date_of_the_end() -> None:
    assert build_digest(make_input(), chart=False).title == "Daily digest · Wed 25 Nov 2026"
    late = datetime(2026, 11, 25, 23, 30, tzinfo=UTC)
    assert digest_title(late, ZoneInfo("Asia/Kolkata")) == "Daily digest · Thu 26 Nov 2026"
    assert digest_title(late, ZoneInfo("America/New_York")) == "Daily digest · Wed 25 Nov 2026"


def test_local_days_are_calendar_days_across_dst() -> None:
    london = ZoneInfo("Europe/London")
    end = datetime(2026, 3, 31, 12, tzinfo=UTC)
    days = local_days(end, london)
    assert days == tuple(date(2026, 3, 25) + timedelta(n) for n in range(7))
    # 23:30 UTC is the same day in GMT, the next day in BST (from 29 Mar).
    counts = daily_counts(
        [
            ("iskp", datetime(2026, 3, 28, 23, 30, tzinfo=UTC)),  # Sat 28, 23:30 GMT
            ("iskp", datetime(2026, 3, 29, 23, 30, tzinfo=UTC)),  # Mon 30, 00:30 BST
            ("iskp", datetime(2026, 3, 24, 23, 59, tzinfo=UTC)),  # before the first day
            ("tajikistan", datetime(2026, 3, 31, 11, tzinfo=UTC)),
        ],
        days,
        london,
    )
    assert counts == {"iskp": [0, 0, 0, 1, 0, 1, 0], "tajikistan": [0, 0, 0, 0, 0, 0, 1]}


def test_chart_is_attached_when_something_was_mentioned_this_week() -> None:
    data = make_input(mentions=[*mentions("iskp", 1, 30, 100), *mentions("herat", 50)])
    png = build_digest(data).chart_png
    assert png is not None
    image = Image.open(io.BytesIO(png))
    assert (image.format, image.size) == ("PNG", (800, 400))
    assert build_digest(data).chart_png == png
    assert build_digest(data, chart=False).chart_png is None


def test_no_chart_for_a_silent_week() -> None:
    data = make_input(mentions=mentions("iskp", 24 * 8, -2))  # 8 days ago, and in the future
    assert build_digest(data).chart_png is None


# -- text ---------------------------------------------------------------------------------


def full_input() -> DigestInput:
    return make_input(
        mentions=[
            *mentions("iskp", 1, 2, 3, 25),
            *mentions("ttp", 30, 31),
            *mentions("tajikistan", 4, 26),
            *mentions("jane", 5),
        ],
        stories=[
            story("a", 3, 4, 2, title="ISKP claims\nattack in Kabul"),
            story("b", 1, 1, 3, url=""),
        ],
        first_seen={"jane": NOW - 5 * H},
        feeds=[
            FeedHealth(
                "Wire", "https://wire.example/rss", failing_since=NOW - 6 * H, last_error="HTTP 503"
            )
        ],
    )


def test_render_text() -> None:
    assert render_text(build_digest(full_input(), chart=False)) == "\n".join(
        [
            "Daily digest · Wed 25 Nov 2026",
            "24 hours to Wed 25 Nov 2026 08:00 (Europe/London)",
            "",
            "Mentions (vs previous day)",
            "Group",
            "  ISKP 3 (+2)",
            "  Tehrik-i-Taliban 0 (−2)",
            "Region",
            "  Tajikistan 1 (=)",
            "Person",
            "  Jane Doe 1 (new)",
            "",
            "Top stories",
            "  3 sources · ISKP claims attack in Kabul · https://news.example/a",
            "  1 source · Story b",
            "",
            "First seen",
            "  Jane Doe (person), 1 mention",
            "",
            "Blind spots",
            "  Wire: failing for 6h: HTTP 503",
        ]
    )


def test_render_text_without_title_and_with_healthy_feeds() -> None:
    text = render_text(build_digest(replace(full_input(), feeds=()), chart=False), title=False)
    assert text.startswith("24 hours to Wed 25 Nov 2026 08:00 (Europe/London)\n")
    assert text.endswith("\nBlind spots: none.")


def test_period_line_in_local_time() -> None:
    data = replace(full_input(), timezone="America/New_York")
    assert "24 hours to Wed 25 Nov 2026 03:00 (America/New_York)" in render_text(
        build_digest(data, chart=False)
    )


@pytest.mark.parametrize(
    ("mentions", "previous", "marker"),
    [(3, 1, "+2"), (1, 3, "−2"), (2, 2, "="), (2, 0, "new"), (0, 4, "−4")],
)
def test_change_marker(mentions: int, previous: int, marker: str) -> None:
    assert change_marker(EntityCount("x", "X", "group", mentions, previous)) == marker


def test_an_empty_day_is_one_line() -> None:
    digest = build_digest(make_input(mentions=mentions("iskp", 30, 200)))
    assert digest.empty
    assert digest.chart_png is not None  # the week still had news
    assert render_text(digest) == (
        "Daily digest · Wed 25 Nov 2026: no watched entity was mentioned in the last 24 hours."
    )
    assert render_text(digest, title=False) == (
        "No watched entity was mentioned in the last 24 hours."
    )


def test_an_empty_day_still_shows_its_blind_spots() -> None:
    feeds = [
        FeedHealth(
            "Wire", "https://wire.example/rss", failing_since=NOW - 6 * H, last_error="HTTP 503"
        ),
        FeedHealth("", "https://anon.example/rss", disabled_reason="410 Gone"),
    ]
    digest = build_digest(make_input(feeds=feeds))
    assert digest.empty and digest.chart_png is None
    assert render_text(digest).splitlines() == [
        "Daily digest · Wed 25 Nov 2026: no watched entity was mentioned in the last 24 hours.",
        "Blind spots (news from these feeds may be missing):",
        "  https://anon.example/rss: disabled: 410 Gone",
        "  Wire: failing for 6h: HTTP 503",
    ]


def test_untrusted_text_stays_on_its_line() -> None:
    entities = {"x": Entity("x", "Evil\nName\x07\u202e", "gro\rup")}
    data = make_input(
        entities=entities,
        mentions=mentions("x", 1),
        stories=[story("a", 1, 1, 1, title="T\x1b]0;owned\x07\n\nFake section", url="u\nv")],
        feeds=[FeedHealth("F\nG", "https://f.example", disabled_reason="why\n\x00not")],
    )
    text = render_text(build_digest(data, chart=False))
    lines = text.split("\n")
    assert "  Evil Name \u202e 1 (new)" in lines  # bidi marks are text: sinks decide
    assert "  1 source · T ]0;owned Fake section · u v" in lines
    assert "  F G: disabled: why not" in lines
    assert not any(unicodedata.category(c) == "Cc" for c in text.replace("\n", ""))
