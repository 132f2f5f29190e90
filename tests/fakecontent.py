"""Hand-built alerts, flood summaries, story updates and digests for the sinks' tests,
and the checks every platform's tests make of them.

Built directly (no pipeline) so each platform test says exactly what it sends;
`HOSTILE` holds the text a feed or a watchlist could use to ping a channel or
forge markup on any platform.
"""

from __future__ import annotations

import io
import re
from collections.abc import Awaitable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image

from bot.digest.model import Digest, EntityCount, FeedProblem, TopStory
from bot.errors import DeliveryError
from bot.models import Alert, FloodSummary, Item, Match, StoryUpdate

NOW = datetime(2026, 11, 25, 14, 5, tzinfo=UTC)
FEED_URL = "https://example.org/feed.xml"
HOSTILE = "@everyone @here <!channel> <!here> <@U0BOT> <@&123456789012345678> **bold** [x](y)"

ENTITIES = (
    ("iskp", "ISKP", "group", "high"),
    ("tajikistan", "Tajikistan", "region", "medium"),
    ("kabul", "Kabul", "region", "medium"),
)


def png() -> bytes:
    """A tiny valid PNG, as the digest's chart would be."""
    out = io.BytesIO()
    Image.new("RGB", (8, 4), (40, 90, 200)).save(out, format="PNG")
    return out.getvalue()


def match(n: int = 0) -> Match:
    entity_id, name, kind, severity = ENTITIES[n % len(ENTITIES)]
    return Match(entity_id, name, kind, severity, name, name, 100.0, "title", 0, len(name))


def alert(
    n: int,
    platform: str,
    channel_id: str,
    *,
    title: str | None = None,
    feed: str = "Regional Wire",
    entities: tuple[int, ...] = (0,),
    reply_to: str | None = None,
    new_entities: tuple[str, ...] = (),
    attempts: int = 0,
) -> Alert:
    """Alert `n`: its item links to https://example.org/news/<n>."""
    matches = tuple(match(i) for i in entities)
    title = title if title is not None else f"{matches[0].entity_name} report number {n}"
    item = Item(FEED_URL, f"g{n}", f"https://example.org/news/{n}", title, "", NOW, feed_name=feed)
    return Alert(
        n,
        platform,
        channel_id,
        item,
        matches,
        NOW,
        attempts=attempts,
        reply_to=reply_to,
        story="s1",
        new_entities=new_entities,
    )


def flood(platform: str, channel_id: str, count: int, *, title_words: int = 6) -> FloodSummary:
    """`count` held alerts cycling through the entities; titles `title_words` words long."""
    alerts = tuple(
        alert(
            1000 + n,
            platform,
            channel_id,
            title=" ".join([ENTITIES[n % 3][1], "report", str(n)] + ["word"] * title_words),
            entities=(n % 3,),
        )
        for n in range(count)
    )
    return FloodSummary(7, platform, channel_id, alerts, NOW - timedelta(hours=1), NOW)


def story_update(parent: Alert, message_id: str, sources: int = 3) -> StoryUpdate:
    return StoryUpdate(parent, message_id, sources, NOW)


def digest(*, hostile: bool = False, chart: bool = True) -> Digest:
    """A full day: counts of two kinds, two top stories, a new entity and a blind spot."""
    bad = f" {HOSTILE}" if hostile else ""
    return Digest(
        title="Daily digest · Wed 25 Nov 2026",
        start=NOW - timedelta(days=1),
        end=NOW,
        timezone="UTC",
        counts=(
            EntityCount("iskp", f"ISKP{bad}", "group", 12, 9),
            EntityCount("ttp", "TTP", "group", 4, 6),
            EntityCount("kabul", "Kabul", "region", 7, 7),
        ),
        top_stories=(
            TopStory(
                f"Blast at Kabul market{bad}",
                "https://example.org/news/1",
                3,
                5,
                ("ISKP", "Kabul"),
                NOW - timedelta(hours=6),
            ),
            TopStory(
                "Border talks resume",
                "javascript:alert(1)",
                1,
                1,
                ("TTP",),
                NOW - timedelta(hours=2),
            ),
        ),
        new_entities=(EntityCount("jundallah", f"Jundallah{bad}", "group", 2, 0),),
        feed_problems=(
            FeedProblem(f"Quiet Wire{bad}", "https://quiet.example/feed", "silent for 3d"),
        ),
        chart_png=png() if chart else None,
    )


def empty_digest() -> Digest:
    """A day without mentions (the chart of earlier days is still there)."""
    return replace(digest(), counts=(), top_stories=(), new_entities=(), feed_problems=())


def listed_and_more(lines: list[str], prefix: str) -> tuple[int, int]:
    """(lines listing a held alert, K of the closing "…and K more") of a flood summary."""
    more = re.fullmatch(r"…and (\d+) more", lines[-1])
    assert more is not None, lines[-1]
    return sum(line.startswith(prefix) for line in lines), int(more[1])


async def delivery_error(attempt: Awaitable[object]) -> DeliveryError:
    """The DeliveryError a sink raises for `attempt` (which must fail)."""
    with pytest.raises(DeliveryError) as caught:
        await attempt
    return caught.value
